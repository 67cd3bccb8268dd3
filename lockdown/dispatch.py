"""The dispatcher: claim due posts atomically, send each through its connector, record the result.

Exactly once: a post is ``publishing`` (claimed by this dispatcher) before any platform call.
A claim whose dispatcher stopped beating is from a crash; its posts become ``unknown`` and wait
for a person. Transient failures are rescheduled in the database with backoff, so every retry is
claimed (and checked) afresh; nothing sleeps and retries inside a client.
"""

from __future__ import annotations

import json
import logging
import os
import random
import socket
import threading
import uuid
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from connectors.base import Connector, ConnectorError, OutgoingPost, Published
from connectors.registry import connector_class
from lockdown.connector_secrets import load_secrets
from lockdown.context import Context
from lockdown.crypto import Vault, VaultError
from lockdown.db import connect
from lockdown.settings import Settings
from lockdown.timeutil import Clock, parse_iso, to_iso, utcnow

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 6
BACKOFF_BASE_SECONDS = 30.0
BACKOFF_CAP_SECONDS = 3600.0
LEASE_SECONDS = 120.0  # longer than any one send (connect + read timeouts) and a few ticks
ACTOR = "scheduler"

ConnectorFactory = Callable[[str, dict[str, Any], dict[str, str]], Connector]


def build_connector(kind: str, settings: dict[str, Any], secrets: dict[str, str]) -> Connector:
    """The registry's connector for a kind, built for one send."""
    return connector_class(kind)(settings, secrets)


def backoff_seconds(attempts: int, retry_after: float | None, rng: random.Random) -> float:
    """Exponential backoff with jitter, never sooner than the platform asked."""
    exponential = min(BACKOFF_CAP_SECONDS, BACKOFF_BASE_SECONDS * 2 ** max(0, attempts - 1))
    jittered = exponential * rng.uniform(0.5, 1.0)
    return float(max(jittered, retry_after or 0.0))


@dataclass
class TickReport:
    """What one tick did."""

    claimed: int = 0
    published: int = 0
    retried: int = 0
    failed: int = 0
    unknown: int = 0
    parked: int = 0
    recovered: int = 0
    returned: int = 0

    def add(self, outcome: str) -> None:
        setattr(self, outcome, getattr(self, outcome) + 1)


@dataclass
class Claimed:
    """A post claimed for sending, with what its connector needs."""

    post_id: int
    account_id: int
    handle: str
    platform: str
    body: str
    scheduled_at: str
    idempotency_key: str
    progress: dict[str, str]
    attempts: int
    connector: dict[str, Any] = field(default_factory=dict)


class Dispatcher:
    """Claims and sends due posts; one per process, with a small pool of sending threads."""

    def __init__(
        self,
        settings: Settings,
        audit_key: bytes,
        *,
        clock: Clock = utcnow,
        pool_size: int = 4,
        batch_size: int = 200,
        connector_factory: ConnectorFactory = build_connector,
        rng: random.Random | None = None,
        lookahead_seconds: float = 0.0,
    ) -> None:
        self.settings = settings
        self.audit_key = audit_key
        self.clock = clock
        self.vault = Vault(settings.vault_keys)
        self.pool_size = pool_size
        self.batch_size = batch_size
        self.connector_factory = connector_factory
        self.rng = rng or random.Random()  # noqa: S311 - jitter, not a secret
        # With a real clock, a tick waits for posts falling due before the next tick, so they
        # go out on time rather than up to one tick late.
        self.lookahead_seconds = lookahead_seconds
        self._stopping = threading.Event()
        self.id = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self._local = threading.local()
        self._pool = ThreadPoolExecutor(max_workers=pool_size, thread_name_prefix="dispatch")

    def context(self) -> Context:
        """This thread's service context (one connection per thread)."""
        ctx: Context | None = getattr(self._local, "ctx", None)
        if ctx is None:
            db = connect(self.settings.db_path, busy_timeout=self.settings.busy_timeout_seconds)
            ctx = self._local.ctx = Context(db, self.audit_key, self.clock)
        return ctx

    def close(self) -> None:
        """Stop the sending threads (after sends under way) and close this thread's connection."""
        self.stop()
        self._pool.shutdown(wait=True)
        ctx = getattr(self._local, "ctx", None)
        if ctx is not None:
            ctx.db.close()
            self._local.ctx = None

    def heartbeat(self) -> None:
        """Say this dispatcher is alive, so its claims are not taken for a crash's."""
        db = self.context().db
        now = to_iso(self.clock())
        db.conn.execute(
            "INSERT INTO dispatchers (id, host, pid, started_at, heartbeat_at) "
            "VALUES (?, ?, ?, ?, ?) "
            "ON CONFLICT (id) DO UPDATE SET heartbeat_at = excluded.heartbeat_at",
            [self.id, socket.gethostname(), os.getpid(), now, now],
        )
        db.conn.commit()

    def tick(self) -> TickReport:
        """Recover crashed claims, park stale posts, then claim and send until nothing is due."""
        report = TickReport()
        self.heartbeat()
        ctx = self.context()
        report.recovered = self._recover_abandoned(ctx)
        report.parked = self._park_stale(ctx)
        self._drain(ctx, report)
        wait = self._until_next_due(ctx)
        if wait is not None and not self._stopping.wait(wait):
            self._drain(ctx, report)
        with ctx.change(allow_empty=True) as change:
            ctx.db.conn.execute(
                "UPDATE dispatchers SET last_tick_at = ?, heartbeat_at = ? WHERE id = ?",
                [to_iso(change.at), to_iso(change.at), self.id],
            )
            if report.claimed or report.parked or report.recovered:
                change.audit(ACTOR, "scheduler.tick", f"dispatcher:{self.id}", **_counts(report))
        return report

    def stop(self) -> None:
        """Cut short a tick's wait for the next due post (at shutdown)."""
        self._stopping.set()

    # -- the steps ------------------------------------------------------------------------------

    def _drain(self, ctx: Context, report: TickReport) -> None:
        """Claim and send batches until nothing more is due."""
        while True:
            claimed = self._claim(ctx)
            report.claimed += len(claimed)
            outcomes = list(self._pool.map(self._send, claimed))
            for outcome in outcomes:
                report.add(outcome)
            # A batch sent back whole (held after its claim) must not be claimed again at once.
            if len(claimed) < self.batch_size or all(o == "returned" for o in outcomes):
                return

    def _until_next_due(self, ctx: Context) -> float | None:
        """Seconds until the next post falls due, if that is within the lookahead."""
        if self.lookahead_seconds <= 0:
            return None
        row = ctx.db.conn.execute("SELECT MIN(due_at) FROM posts WHERE state = 'scheduled'").fetchone()
        if not row or row[0] is None:
            return None
        wait = (parse_iso(row[0]) - self.clock()).total_seconds()
        return wait if 0 < wait <= self.lookahead_seconds else None

    def _recover_abandoned(self, ctx: Context) -> int:
        """Posts left ``publishing`` by a dispatcher that stopped beating: we cannot know whether
        the platform got them, so a person decides (never a blind retry)."""
        cutoff = to_iso(self.clock() - timedelta(seconds=LEASE_SECONDS))
        with ctx.change(allow_empty=True) as change:
            rows = ctx.db.conn.execute(
                "UPDATE posts SET state = 'unknown', updated_at = :now, error = 'the dispatcher "
                "sending it stopped (crash or kill) before recording the result; check the "
                "platform, then mark it published or reschedule it' "
                "WHERE state = 'publishing' AND (claimed_by IS NULL OR claimed_by NOT IN "
                "(SELECT id FROM dispatchers WHERE heartbeat_at > :cutoff)) RETURNING id",
                {"now": to_iso(change.at), "cutoff": cutoff},
            ).fetchall()
            for (post_id,) in rows:
                change.audit(ACTOR, "post.unknown", f"post:{post_id}", reason="dispatcher crashed")
        return len(rows)

    def _park_stale(self, ctx: Context) -> int:
        """Posts that fell due long ago (the scheduler was down) are not flooded out late: they
        wait in ``needs_review`` for a person to reschedule or cancel them."""
        grace = timedelta(seconds=self.settings.late_grace_seconds)
        with ctx.change(allow_empty=True) as change:
            rows = ctx.db.conn.execute(
                "UPDATE posts SET state = 'needs_review', updated_at = :now, error = "
                "'missed its time by more than ' || :grace || ' minutes; reschedule or cancel it' "
                "WHERE state = 'scheduled' AND due_at < :stale AND NOT EXISTS "
                "(SELECT 1 FROM account_holds h WHERE h.account_id = posts.account_id) "
                "RETURNING id, due_at",
                {
                    "now": to_iso(change.at),
                    "stale": to_iso(change.at - grace),
                    "grace": int(grace.total_seconds() // 60),
                },
            ).fetchall()
            for post_id, due_at in rows:
                change.audit(ACTOR, "post.missed", f"post:{post_id}", due_at=due_at)
        return len(rows)

    def _claim(self, ctx: Context) -> list[Claimed]:
        """One BEGIN IMMEDIATE transaction: due posts become ``publishing``, claimed by us."""
        with ctx.change(allow_empty=True) as change:
            rows = ctx.db.conn.execute(
                "UPDATE posts SET state = 'publishing', claimed_by = :me, dispatched_at = :now, "
                "attempts = attempts + 1, updated_at = :now "
                "WHERE id IN (SELECT id FROM posts WHERE state = 'scheduled' AND due_at <= :now "
                # The hold invariant: evaluated in the claim itself, under the write lock, so
                # every claim is wholly before or wholly after a declaration.
                "AND NOT EXISTS (SELECT 1 FROM account_holds h WHERE h.account_id = posts.account_id) "
                "ORDER BY due_at, id LIMIT :limit) "
                "RETURNING id, account_id, body, scheduled_at, idempotency_key, progress, attempts",
                {"me": self.id, "now": to_iso(change.at), "limit": self.batch_size},
            ).fetchall()
            claimed = [Claimed(r[0], r[1], "", "", r[2], r[3], r[4], json.loads(r[5] or "{}"), r[6]) for r in rows]
            _attach_accounts(ctx, claimed)
            for post in claimed:
                change.audit(ACTOR, "post.claim", f"post:{post.post_id}", attempt=post.attempts)
        return claimed

    def _send(self, post: Claimed) -> str:
        """In a pool thread: check the claim still stands, call the platform, record."""
        ctx = self.context()
        try:
            if not self._still_ours(ctx, post):
                return "returned"
            try:
                connector = self.connector_factory(
                    post.connector["kind"],
                    {k: v for k, v in post.connector.items() if k != "kind"},
                    load_secrets(ctx.db, self.vault, post.account_id),
                )
                try:
                    result = connector.publish(_outgoing(post))
                finally:
                    connector.close()
            except VaultError as exc:
                return self._record_failure(ctx, post, ConnectorError(str(exc), permanent=True))
            except ConnectorError as exc:
                return self._record_failure(ctx, post, exc)
            return self._record_published(ctx, post, result)
        except Exception as exc:
            # A bug must not lose a post silently: we cannot tell whether the platform got it,
            # so it waits for a person. If even that cannot be recorded, the claim stands and
            # the post is left publishing, which the operator sees in /healthz and the logs.
            log.exception("sending post %s failed unexpectedly", post.post_id)
            failure = ConnectorError(f"internal error while sending: {exc!r}", permanent=False, ambiguous=True)
            return self._record_failure(ctx, post, failure)

    def _still_ours(self, ctx: Context, post: Claimed) -> bool:
        """Right before the platform call, mark the post as being sent, in a write transaction
        that re-checks the claim and the hold. SQLite's single writer orders this mark wholly
        before or after any declaration: after one, a held post goes back to ``scheduled``
        untouched (no attempt counted); before one, it is reported as in flight."""
        with ctx.change(allow_empty=True) as change:
            marked = ctx.db.conn.execute(
                "UPDATE posts SET sending_at = ? WHERE id = ? AND state = 'publishing' AND claimed_by = ? "
                "AND NOT EXISTS (SELECT 1 FROM account_holds h WHERE h.account_id = posts.account_id) "
                "RETURNING id",
                [to_iso(change.at), post.post_id, self.id],
            ).fetchone()
            if marked:
                change.audit(ACTOR, "post.send", f"post:{post.post_id}", attempt=post.attempts)
                return True
            returned = ctx.db.conn.execute(
                "UPDATE posts SET state = 'scheduled', claimed_by = NULL, dispatched_at = NULL, "
                "attempts = attempts - 1, updated_at = ? WHERE id = ? AND state = 'publishing' AND claimed_by = ?",
                [to_iso(change.at), post.post_id, self.id],
            ).rowcount
            if returned:
                change.audit(ACTOR, "post.held_back", f"post:{post.post_id}", reason="account held after claim")
        return False

    def _record_published(self, ctx: Context, post: Claimed, result: Published) -> str:
        with ctx.change(allow_empty=True) as change:
            _finish(
                ctx, post, self.id, "published",
                published_at=to_iso(change.at), remote_id=result.remote_id,
                error=None, progress="{}",
            )  # fmt: skip
            change.audit(
                ACTOR, "post.published", f"post:{post.post_id}",
                remote_id=result.remote_id, url=result.url, account_id=post.account_id,
            )  # fmt: skip
        return "published"

    def _record_failure(self, ctx: Context, post: Claimed, exc: ConnectorError) -> str:
        progress = json.dumps({**post.progress, **exc.progress})
        with ctx.change(allow_empty=True) as change:
            if exc.ambiguous:
                outcome, message = (
                    "unknown",
                    f"{exc.message} — it may have been published; check the platform",
                )
                _finish(ctx, post, self.id, "unknown", error=message, progress=progress)
            elif exc.permanent or post.attempts >= MAX_ATTEMPTS:
                outcome = "failed"
                message = exc.message if exc.permanent else f"gave up after {post.attempts} attempts: {exc.message}"
                _finish(ctx, post, self.id, "failed", error=message, progress=progress)
            else:
                outcome = "retried"
                wait = backoff_seconds(post.attempts, exc.retry_after, self.rng)
                due = to_iso(change.at + timedelta(seconds=wait))
                message = f"attempt {post.attempts} failed: {exc.message}; next attempt at {due}"
                _finish(
                    ctx,
                    post,
                    self.id,
                    "scheduled",
                    error=message,
                    progress=progress,
                    due_at=due,
                    claimed_by=None,
                )
            change.audit(
                ACTOR, f"post.{outcome}", f"post:{post.post_id}",
                error=message, status=exc.status, attempt=post.attempts,
            )  # fmt: skip
        return outcome


def _finish(ctx: Context, post: Claimed, me: str, state: str, **columns: Any) -> None:
    """Compare-and-set from our own claim; a crash-recovery may already have said unknown."""
    assignments = "".join(f", {name} = ?" for name in columns)
    ctx.db.conn.execute(
        f"UPDATE posts SET state = ?, updated_at = ?{assignments} "
        "WHERE id = ? AND claimed_by = ? AND state IN ('publishing', 'unknown')",
        [state, to_iso(ctx.now()), *columns.values(), post.post_id, me],
    )


def _attach_accounts(ctx: Context, claimed: Iterable[Claimed]) -> None:
    posts = list(claimed)
    if not posts:
        return
    ids = sorted({post.account_id for post in posts})
    marks = ",".join("?" * len(ids))
    accounts = {
        row[0]: row[1:]
        for row in ctx.db.conn.execute(
            f"SELECT id, handle, platform, connector FROM accounts WHERE id IN ({marks})", ids
        )
    }
    for post in posts:
        post.handle, post.platform, connector = accounts[post.account_id]
        post.connector = json.loads(connector)


def _outgoing(post: Claimed) -> OutgoingPost:
    return OutgoingPost(
        post_id=post.post_id,
        account_id=post.account_id,
        handle=post.handle,
        platform=post.platform,
        body=post.body,
        scheduled_at=post.scheduled_at,
        idempotency_key=post.idempotency_key,
        progress=post.progress,
    )


def _counts(report: TickReport) -> dict[str, int]:
    return {name: value for name, value in vars(report).items() if value}


def last_tick(db: Any) -> str | None:
    """When any dispatcher last finished a tick (for /healthz)."""
    row = db.conn.execute("SELECT MAX(last_tick_at) FROM dispatchers").fetchone()
    return row[0] if row else None
