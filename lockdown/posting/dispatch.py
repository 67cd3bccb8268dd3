"""The dispatcher: claim due posts atomically, send each through its connector, record the result.

Exactly once: a post is ``publishing`` (claimed by this dispatcher) before any platform call, and
the sending mark (``sending_at``) is committed right before the call. A claim whose dispatcher is
gone (its process no longer exists on this host, or it stopped beating) is from a crash: a post
that was marked may have reached the platform, so it becomes ``unknown`` and waits for a person;
a post that was not marked never left, so it is released to ``scheduled`` (and claimed, with the
hold checked, afresh). Transient failures are rescheduled in the database with backoff, so every
retry is claimed (and checked) afresh; nothing sleeps and retries inside a client.

Fail closed: nothing is claimed while the hold state cannot be read (the tick raises) or cannot
be trusted (lockdown.posting.hold_check); either is reported to /healthz through the TickObserver
that the scheduler passes in.
"""

from __future__ import annotations

import contextlib
import functools
import json
import logging
import os
import random
import socket
import sqlite3
import threading
import uuid
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol

from sqlite_utils import Database

from connectors.base import UNANSWERED, Connector, ConnectorError, OutgoingPost, Published
from connectors.outbound import PUBLIC_ONLY, OutboundPolicy
from connectors.registry import connector_class
from connectors.versions import ApiVersions
from lockdown.crypto import Vault, VaultError
from lockdown.posting.connector_failures import failure_kind, record_connector_failure
from lockdown.posting.connector_secrets import load_secrets
from lockdown.posting.hold_check import TRUSTED_HOLDS, hold_state_fault
from lockdown.posting.media import MediaConfig, Medium, media_config, media_of, outgoing
from lockdown.posting.post_errors import capped
from lockdown.settings import Settings
from lockdown.store.context import Context
from lockdown.store.db import connect, write_transaction
from lockdown.store.dispatchers import LEASE_SECONDS, pid_domain, process_gone
from lockdown.store.fence import record_fences
from lockdown.store.litestream import replica_folder
from lockdown.timeutil import Clock, parse_iso, to_iso, utcnow

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 6
BACKOFF_BASE_SECONDS = 30.0
BACKOFF_CAP_SECONDS = 3600.0
ACTOR = "scheduler"

ConnectorFactory = Callable[[str, dict[str, Any], dict[str, str]], Connector]


def build_connector(
    kind: str,
    settings: dict[str, Any],
    secrets: dict[str, str],
    outbound: OutboundPolicy = PUBLIC_ONLY,
    versions: ApiVersions | None = None,
) -> Connector:
    """The registry's connector for a kind, built for one send (public destinations only,
    unless ``outbound`` allows more), speaking the installation's API ``versions``."""
    # The versions ride beside the account's settings (no account may set those keys); the
    # installation's choice wins.
    given = {**settings, **(versions or ApiVersions()).as_settings()}
    return connector_class(kind)(given, secrets, outbound=outbound)


def open_connector(
    db: Database, vault: Vault, factory: ConnectorFactory, account_id: int, connector: Mapping[str, Any]
) -> Connector:
    """An account's connector built as a send builds it: ``connector`` is the account's settings
    with ``kind``; the vault's secrets deposited for that kind and host. The caller closes it."""
    settings = dict(connector)
    kind = str(settings.pop("kind", "outbox"))
    return factory(kind, settings, load_secrets(db, vault, account_id, connector))


def connectors_for(settings: Settings) -> ConnectorFactory:
    """The connector factory under the installation's outbound policy (LOCKDOWN_OUTBOUND_ALLOW)
    and API versions (LOCKDOWN_LINKEDIN_VERSION, LOCKDOWN_GRAPH_VERSION)."""
    return functools.partial(build_connector, outbound=settings.outbound, versions=settings.api_versions)


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
    released: int = 0
    returned: int = 0
    # Why nothing was dispatched: the hold state is not trustworthy.
    refused: str | None = None

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
    # Set when the send is marked: this attempt's time, and the first attempt's since the post
    # was (re)scheduled, for platforms that de-duplicate a repeat only for a while.
    sending_at: datetime | None = None
    first_sent_at: datetime | None = None
    # The post's images or video, in order, uploaded by the connector inside its publish.
    media: list[Medium] = field(default_factory=list)


class TickObserver(Protocol):
    """Told how each tick ended. The scheduler passes its health report (``lockdown.clock.health``),
    so that /healthz shows a dispatcher that refuses or fails without the dispatcher knowing of it."""

    def dispatch_ok(self, at: datetime) -> None:
        """The tick completed."""

    def refusing(self, reason: str, at: datetime) -> None:
        """The tick refused to dispatch anything."""


class _Unobserved:
    def dispatch_ok(self, at: datetime) -> None:
        pass

    def refusing(self, reason: str, at: datetime) -> None:
        pass


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
        connector_factory: ConnectorFactory | None = None,
        rng: random.Random | None = None,
        lookahead_seconds: float = 0.0,
        health: TickObserver | None = None,
    ) -> None:
        self.settings = settings
        self.audit_key = audit_key
        self.clock = clock
        self.vault = Vault(settings.vault_keys)
        self.media = media_config(settings)
        self.pool_size = pool_size
        self.batch_size = batch_size
        self.connector_factory = connector_factory or connectors_for(settings)
        self.rng = rng or random.Random()  # noqa: S311 - jitter, not a secret
        # With a real clock, a tick waits for posts falling due before the next tick, so they
        # go out on time rather than up to one tick late.
        self.lookahead_seconds = lookahead_seconds
        self._stopping = threading.Event()
        self.host = pid_domain()
        self.id = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self.health: TickObserver = health or _Unobserved()
        self._local = threading.local()
        self._pool = ThreadPoolExecutor(max_workers=pool_size, thread_name_prefix="dispatch")
        self._ticking = threading.Lock()
        # Bumped after a database error: every thread then opens a fresh connection, since the
        # old one may be stuck (opened read-only while the file system was, or mid-transaction).
        self._generation = 0

    def context(self) -> Context:
        """This thread's service context (one connection per thread)."""
        ctx: Context | None = getattr(self._local, "ctx", None)
        if ctx is not None and self._local.generation != self._generation:
            _close_quietly(ctx)
            ctx = self._local.ctx = None
        if ctx is None:
            db = connect(self.settings.db_path, busy_timeout=self.settings.busy_timeout_seconds)
            ctx = self._local.ctx = Context(db, self.audit_key, self.clock)
            self._local.generation = self._generation
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
        with write_transaction(db):
            db.conn.execute(
                "INSERT INTO dispatchers (id, host, pid, started_at, heartbeat_at) "
                "VALUES (?, ?, ?, ?, ?) "
                "ON CONFLICT (id) DO UPDATE SET heartbeat_at = excluded.heartbeat_at",
                [self.id, self.host, os.getpid(), now, now],
            )

    def tick(self) -> TickReport:
        """Recover crashed claims, check the hold state, park stale posts, then claim and send
        until nothing is due. Raises when the database fails; nothing is claimed then."""
        # One tick at a time per dispatcher: recovery takes this dispatcher's own leftover
        # claims for abandoned, which is only true while none of its sends is under way.
        with self._ticking:
            try:
                return self._tick()
            except sqlite3.Error:
                self.renew_connections()
                raise

    def renew_connections(self) -> None:
        """After a database error, have every thread open a fresh connection."""
        self._generation += 1

    def _tick(self) -> TickReport:
        report = TickReport()
        self.heartbeat()
        ctx = self.context()
        report.recovered, report.released = self._recover_abandoned(ctx)
        report.refused = self._superseded(ctx) or hold_state_fault(ctx.db, to_iso(self.clock()))
        if report.refused:
            log.error("%s", report.refused)
            self.health.refusing(report.refused, self.clock())
            return report
        report.parked = self._park_stale(ctx)
        self._drain(ctx, report)
        pause = self._until_next_due(ctx)
        if pause is not None and not self._stopping.wait(pause):
            self._drain(ctx, report)
        with ctx.change(allow_empty=True) as change:
            ctx.db.conn.execute(
                "UPDATE dispatchers SET last_tick_at = ?, heartbeat_at = ? WHERE id = ?",
                [to_iso(change.at), to_iso(change.at), self.id],
            )
            if report.claimed or report.parked or report.recovered or report.released:
                change.audit(ACTOR, "scheduler.tick", f"dispatcher:{self.id}", **_counts(report))
        self.health.dispatch_ok(self.clock())
        return report

    def _superseded(self, ctx: Context) -> str | None:
        """Read the replica folder's promotion marker (lockdown.store.fence) and record a newer
        promotion as a fence, which the hold check then refuses on. A marker that exists but
        cannot be read refuses too (fail closed); a folder that is not there has no marker."""
        folder = replica_folder(self.settings)
        if folder is None:
            return None
        try:
            record_fences(ctx, folder)
        except (FileNotFoundError, NotADirectoryError):
            return None
        except OSError as exc:
            return f"the promotion marker in {folder} cannot be read ({exc}): dispatch refused"
        return None

    def stop(self) -> None:
        """Cut short a tick's wait for the next due post (at shutdown)."""
        self._stopping.set()

    # -- the steps ------------------------------------------------------------------------------

    def _drain(self, ctx: Context, report: TickReport) -> None:
        """Claim and send batches until nothing more is due."""
        while True:
            claimed = self._claim(ctx)
            report.claimed += len(claimed)
            sends = [self._pool.submit(self._send, post) for post in claimed]
            # Every send ends before the tick does, even when one raises: recovery counts on it.
            wait(sends)
            failures = [exc for exc in (f.exception() for f in sends) if exc is not None]
            outcomes = [f.result() for f in sends if f.exception() is None]
            for outcome in outcomes:
                report.add(outcome)
            if failures:
                raise failures[0]
            # A batch sent back whole (held after its claim) must not be claimed again at once.
            if len(claimed) < self.batch_size or all(o == "returned" for o in outcomes):
                return

    def _until_next_due(self, ctx: Context) -> float | None:
        """Seconds until the next post falls due, if that is within the lookahead."""
        if self.lookahead_seconds <= 0:
            return None
        row = ctx.db.conn.execute(
            "SELECT MIN(due_at) FROM posts INDEXED BY posts_due WHERE state = 'scheduled'"
        ).fetchone()
        if not row or row[0] is None:
            return None
        wait = (parse_iso(row[0]) - self.clock()).total_seconds()
        return wait if 0 < wait <= self.lookahead_seconds else None

    def _recover_abandoned(self, ctx: Context) -> tuple[int, int]:
        """Posts left ``publishing`` by a dispatcher that is gone, or by this one when a tick
        failed half way. Marked for sending: we cannot know whether the platform got them, so a
        person decides (never a blind retry). Not marked: the platform was never called, so they
        are released to be claimed again. Returns (unknown, released)."""
        params = {
            "me": self.id,
            "cutoff": to_iso(self.clock() - timedelta(seconds=LEASE_SECONDS)),
            "dead": json.dumps(self._dead_here(ctx)),
        }
        abandoned = (
            "state = 'publishing' AND (claimed_by IS NULL OR claimed_by = :me "
            "OR claimed_by IN (SELECT value FROM json_each(:dead)) "
            "OR claimed_by NOT IN (SELECT id FROM dispatchers WHERE heartbeat_at > :cutoff))"
        )
        # A mark older than the claim is from an earlier attempt (a retry keeps it).
        unmarked = "(sending_at IS NULL OR (dispatched_at IS NOT NULL AND sending_at < dispatched_at))"
        with ctx.change(allow_empty=True) as change:
            params["now"] = to_iso(change.at)
            released = ctx.db.conn.execute(
                "UPDATE posts SET state = 'scheduled', claimed_by = NULL, dispatched_at = NULL, "
                f"attempts = MAX(attempts - 1, 0), updated_at = :now WHERE {abandoned} AND {unmarked} RETURNING id",
                params,
            ).fetchall()
            for (post_id,) in released:
                change.audit(
                    ACTOR,
                    "post.released",
                    f"post:{post_id}",
                    reason="claimed by a dispatcher that stopped before sending it",
                )
            unknown = ctx.db.conn.execute(
                "UPDATE posts SET state = 'unknown', updated_at = :now, error_code = NULL, error_status = NULL, "
                "error = 'the dispatcher "
                "sending it stopped (crash or kill) before recording the result; check the "
                f"platform, then mark it published or reschedule it' WHERE {abandoned} RETURNING id",
                params,
            ).fetchall()
            for (post_id,) in unknown:
                change.audit(ACTOR, "post.unknown", f"post:{post_id}", reason="dispatcher crashed")
        return len(unknown), len(released)

    def _dead_here(self, ctx: Context) -> list[str]:
        """Dispatchers holding claims whose process is gone from this host (and pid namespace).

        Waiting out the lease (two minutes without a heartbeat) is the only test that works across
        hosts, but on this host the kernel can answer at once: a pid that no longer exists is a
        dispatcher that will never send again. That lets a restarted scheduler finish a killed
        one's posts at its first tick instead of leaving them stuck for the lease. Conservative:
        an existing pid (even a reused one, another user's, or an unreaped zombie) counts as
        alive, and so does anything we cannot check; a live dispatcher is never declared dead,
        and were it ever, its compare-and-set on ``claimed_by`` would stop it sending.
        """
        rows = ctx.db.conn.execute(
            "SELECT id, pid FROM dispatchers WHERE host = ? AND id <> ? AND id IN "
            "(SELECT claimed_by FROM posts WHERE state = 'publishing')",
            [self.host, self.id],
        ).fetchall()
        return [dispatcher_id for dispatcher_id, pid in rows if process_gone(pid)]

    def _park_stale(self, ctx: Context) -> int:
        """Posts that fell due long ago (the scheduler was down) are not flooded out late: they
        wait in ``needs_review`` for a person to reschedule or cancel them."""
        grace = timedelta(seconds=self.settings.late_grace_seconds)
        with ctx.change(allow_empty=True) as change:
            rows = ctx.db.conn.execute(
                "UPDATE posts INDEXED BY posts_due SET state = 'needs_review', updated_at = :now, "
                "error_code = NULL, error_status = NULL, error = "
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
                # Only the due posts, from their partial index: left to itself, SQLite reads every
                # scheduled post through posts_published (state, ...), under the write lock, each tick.
                "WHERE id IN (SELECT id FROM posts INDEXED BY posts_due WHERE state = 'scheduled' AND due_at <= :now "
                # The hold invariant: evaluated in the claim itself, under the write lock, so
                # every claim is wholly before or wholly after a declaration.
                "AND NOT EXISTS (SELECT 1 FROM account_holds h WHERE h.account_id = posts.account_id) "
                f"AND {TRUSTED_HOLDS} "
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
        # If the mark cannot be written, nothing was sent: the error ends the tick and the next
        # tick's recovery releases the claim.
        if not self._still_ours(ctx, post):
            return "returned"
        try:
            try:
                connector = self.connector_factory(
                    post.connector["kind"],
                    {k: v for k, v in post.connector.items() if k != "kind"},
                    load_secrets(ctx.db, self.vault, post.account_id, post.connector),
                )
                try:
                    result = connector.publish(_outgoing(post, self.media, self.clock()))
                finally:
                    connector.close()
            except VaultError as exc:
                return self._record_failure(ctx, post, ConnectorError(str(exc), permanent=True))
            except ConnectorError as exc:
                return self._record_failure(ctx, post, exc)
            return self._record_published(ctx, post, result)
        except Exception as exc:
            # A bug (or a database that fails to record the result) must not lose a post silently:
            # we cannot tell whether the platform got it, so it waits for a person. If even that
            # cannot be recorded, the error ends the tick, /healthz and the log show it, and the
            # next tick's recovery makes the (marked) post unknown.
            log.exception("sending post %s failed unexpectedly", post.post_id)
            failure = ConnectorError(f"internal error while sending: {exc!r}", permanent=False, ambiguous=True)
            return self._record_failure(ctx, post, failure)

    def _still_ours(self, ctx: Context, post: Claimed) -> bool:
        """Right before the platform call, mark the post as being sent, in a write transaction
        that re-checks the claim and the hold. SQLite's single writer orders this mark wholly
        before or after any declaration: after one, a held post goes back to ``scheduled``
        untouched (no attempt counted); before one, it is reported as in flight."""
        # The mark is synced to disk before the platform call, so not even a power cut can lose
        # it and have recovery release a post that may be out. One fsync per send, beside a
        # network round trip; every other write keeps synchronous=NORMAL.
        ctx.db.conn.execute("PRAGMA synchronous = FULL")
        try:
            return self._mark_sending(ctx, post)
        finally:
            ctx.db.conn.execute("PRAGMA synchronous = NORMAL")

    def _mark_sending(self, ctx: Context, post: Claimed) -> bool:
        with ctx.change(allow_empty=True) as change:
            marked = ctx.db.conn.execute(
                "UPDATE posts SET sending_at = ? WHERE id = ? AND state = 'publishing' AND claimed_by = ? "
                "AND NOT EXISTS (SELECT 1 FROM account_holds h WHERE h.account_id = posts.account_id) "
                f"AND {TRUSTED_HOLDS} RETURNING id",
                [to_iso(change.at), post.post_id, self.id],
            ).fetchone()
            if marked:
                change.audit(ACTOR, "post.send", f"post:{post.post_id}", attempt=post.attempts)
                post.sending_at = change.at
                post.first_sent_at = change.at if post.attempts <= 1 else _first_sent_at(ctx, post.post_id)
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
                error=None, error_code=None, error_status=None, progress="{}",
            )  # fmt: skip
            change.audit(
                ACTOR, "post.published", f"post:{post.post_id}",
                remote_id=result.remote_id, url=result.url, account_id=post.account_id,
            )  # fmt: skip
        return "published"

    def _record_failure(self, ctx: Context, post: Claimed, exc: ConnectorError) -> str:
        progress = json.dumps({**post.progress, **exc.progress})
        # The platform's words may run long or say what only the account's people should read:
        # kept short here, and shown to others only as the kind and status (post_errors).
        exc = capped(exc)
        codes = {"error_code": failure_kind(exc), "error_status": exc.status}
        with ctx.change(allow_empty=True) as change:
            # A retried attempt that got no clear answer may be live: giving up on it is no
            # proof it failed, so it too waits for a person.
            if exc.ambiguous or (post.attempts >= MAX_ATTEMPTS and UNANSWERED in exc.progress):
                outcome, message = (
                    "unknown",
                    f"{exc.message} — it may have been published; check the platform",
                )
                _finish(ctx, post, self.id, "unknown", error=message, progress=progress, **codes)
            elif exc.permanent or post.attempts >= MAX_ATTEMPTS:
                outcome = "failed"
                message = exc.message if exc.permanent else f"gave up after {post.attempts} attempts: {exc.message}"
                _finish(ctx, post, self.id, "failed", error=message, progress=progress, **codes)
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
                    **codes,
                )
            record_connector_failure(
                ctx.db.conn, post_id=post.post_id, account_id=post.account_id, platform=post.platform,
                connector=post.connector.get("kind", ""), kind=failure_kind(exc), at=change.at,
            )  # fmt: skip
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


def _first_sent_at(ctx: Context, post_id: int) -> datetime | None:
    """When the first attempt since the post was last (re)scheduled was marked as sending: a
    person's reschedule starts the count again, so the latest mark of an attempt 1 is it."""
    row = ctx.db.conn.execute(
        "SELECT at FROM audit_log WHERE subject = ? AND action = 'post.send' "
        "AND json_extract(details, '$.attempt') = 1 ORDER BY seq DESC LIMIT 1",
        [f"post:{post_id}"],
    ).fetchone()
    return parse_iso(row[0]) if row else None


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
    found = media_of(ctx.db, "post", [post.post_id for post in posts])
    for post in posts:
        post.handle, post.platform, connector = accounts[post.account_id]
        post.connector = json.loads(connector)
        post.media = found.get(post.post_id, [])


def _outgoing(post: Claimed, media: MediaConfig, now: datetime) -> OutgoingPost:
    return OutgoingPost(
        post_id=post.post_id,
        account_id=post.account_id,
        handle=post.handle,
        platform=post.platform,
        body=post.body,
        scheduled_at=post.scheduled_at,
        idempotency_key=post.idempotency_key,
        progress=post.progress,
        first_sent_at=post.first_sent_at,
        sending_at=post.sending_at,
        media=outgoing(post.media, media.store, media.links, now),
    )


def _counts(report: TickReport) -> dict[str, int]:
    return {name: value for name, value in vars(report).items() if value and isinstance(value, int)}


def _close_quietly(ctx: Context) -> None:
    with contextlib.suppress(sqlite3.Error):
        ctx.db.close()
