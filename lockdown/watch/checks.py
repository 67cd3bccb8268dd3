"""Running the watch: claim an account's listing (one at a time per account), list its recent
posts through the connector outside any transaction, then record what was seen, its audit
entries, timeline entries and notices in one transaction.

A listing publishes nothing and reads only (as a readiness check does): it runs during the hold
because the hold stops what an account *sends*; it takes the write lock only for the claim and
the record, never across the platform call, so a declaration is never kept waiting by a slow
platform.

A post is Lockdown's when its platform id is a post's ``remote_id`` or an incident message
delivery's on that account, whenever it was sent (before the declaration too). A post whose send
is still on the wire (``publishing``) or whose answer was lost (``unknown``) has no id yet: a
listed post with the same text is taken as that one rather than flagged.
"""

from __future__ import annotations

import logging
import re
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

from connectors.base import ConnectorError, RemotePost
from lockdown.crypto import Vault, VaultError
from lockdown.incidents.timeline import event
from lockdown.incidents.watch_record import out_of_band_post
from lockdown.notify.outbox import Notice, queue
from lockdown.posting.dispatch import ConnectorFactory, open_connector
from lockdown.posting.post_errors import capped
from lockdown.readiness.checks import slot_offset
from lockdown.register.accounts import PLATFORM_NAMES, get_account
from lockdown.settings import WATCH_INTERVAL_OTHER
from lockdown.store.context import Changes, Context
from lockdown.timeutil import parse_iso, to_iso
from lockdown.watch.budget import interval_for

log = logging.getLogger(__name__)

SCHEDULER = "scheduler"
# Listed from the start of the hold less this: the platform's clock and ours may disagree by a
# little, and a post made in the seconds before the declaration was made on a held account too.
MARGIN = timedelta(minutes=2)
# An account that cannot be listed (no read permission, reads opted out, no API) is tried again
# this much later, not at every interval: nothing changes until a person changes it.
UNWATCHABLE_RETRY = timedelta(hours=1)
# A listing marked running for longer than this was abandoned (its process died): a listing is
# at most a few pages, each with a 15-second read timeout.
ABANDONED_AFTER = timedelta(minutes=5)
# Texts are compared without case or runs of white space (platforms fold line ends and trim).
_SPACE = re.compile(r"\s+")


class EscalationHook(Protocol):
    """Files an escalation for an out-of-band post seen outside any incident (a possible
    hijack, policy 2.2.6). Called inside the write transaction that marks the post escalated,
    so the escalation and the mark commit together or not at all (a crash between them can
    neither lose the escalation nor file it twice); raising rolls both back and the post is
    offered again at the next run."""

    def __call__(self, change: Changes, post: Mapping[str, Any]) -> None: ...


@dataclass(frozen=True)
class WatchRunner:
    """What running the watch needs beyond the database: the vault, how connectors are built
    (as the dispatcher does), the interval per platform during a hold, the interval of the
    watch outside incidents (None: off) and what files an escalation."""

    vault: Vault
    connector_factory: ConnectorFactory
    intervals: Mapping[str, float]
    idle_seconds: float | None = None
    escalate: EscalationHook | None = None

    def interval(self, platform: str, *, held: bool, watched: int = 1) -> timedelta:
        """Time between two listings of an account on ``platform``, held or not, when ``watched``
        accounts on it are watched (a limit shared by all of them stretches it: watch.budget)."""
        configured = self.intervals.get(platform, WATCH_INTERVAL_OTHER)
        if not held and self.idle_seconds:
            configured = max(configured, self.idle_seconds)
        return interval_for(platform, configured, watched)


@dataclass(frozen=True)
class Due:
    """An account whose listing has come: since when its posts are read, and whether held."""

    account_id: int
    platform: str
    since: datetime
    held: bool
    # How many accounts on its platform are watched now (a shared limit is divided among them).
    watched: int = 1


def due_accounts(ctx: Context, runner: WatchRunner, *, limit: int) -> list[Due]:
    """The accounts to list now, held accounts first, the least recently listed first: every
    held account whose interval has passed or that was not listed since its hold began, and
    (when the watch outside incidents is on) every other active account whose interval passed."""
    now = ctx.now()
    idle = runner.idle_seconds is not None
    rows = ctx.db.conn.execute(
        "SELECT a.id, a.platform, (SELECT MIN(h.since) FROM account_holds h WHERE h.account_id = a.id) AS held_since, "
        "w.last_checked_at, w.next_check_at, w.running_since FROM accounts a "
        "LEFT JOIN account_watch w ON w.account_id = a.id WHERE a.archived_at IS NULL "
        + ("" if idle else "AND EXISTS (SELECT 1 FROM account_holds h WHERE h.account_id = a.id) ")
        + "ORDER BY held_since IS NULL, w.last_checked_at IS NOT NULL, w.last_checked_at, a.id",
    ).fetchall()
    watched: dict[str, int] = {}
    for _, platform, *_rest in rows:
        watched[platform] = watched.get(platform, 0) + 1
    due: list[Due] = []
    for account_id, platform, held_since, last, next_at, running in rows:
        if running is not None and parse_iso(running) > now - ABANDONED_AFTER:
            continue
        held = held_since is not None
        spacing = runner.interval(platform, held=held, watched=watched[platform])
        if held and (last is None or last < held_since):
            # The first listing of a hold falls at the account's slot in the interval, so that
            # a declaration does not spend a shared limit (Bluesky's per IP) in one burst.
            first = parse_iso(held_since) + slot_offset(account_id, spacing)
            if first > now:
                continue
        elif not (last is None or next_at is None or parse_iso(next_at) <= now):
            continue
        if held:
            since = parse_iso(held_since) - MARGIN
        else:
            since = max(parse_iso(last), now - spacing) - MARGIN if last else now - spacing - MARGIN
        due.append(Due(account_id, platform, since, held, watched[platform]))
        if len(due) >= limit:
            break
    return due


def run_watch(ctx: Context, runner: WatchRunner, *, limit: int = 100) -> dict[str, int]:
    """The scheduler's job: list the accounts whose turn has come (at most ``limit``), one after
    another, then offer out-of-band posts seen outside incidents to the escalation hook.
    Returns how many listings ended in each status and how many new out-of-band posts."""
    counts = {"ok": 0, "failing": 0, "unwatchable": 0, "skipped": 0, "out_of_band": 0}
    for due in due_accounts(ctx, runner, limit=limit):
        token = _claim(ctx, due.account_id)
        if token is None:
            counts["skipped"] += 1
            continue
        status, found = _record(ctx, runner, due, token, _list(ctx, runner, due))
        counts[status] += 1
        counts["out_of_band"] += found
    escalate_pending(ctx, runner.escalate)
    return counts


def _claim(ctx: Context, account_id: int) -> str | None:
    """Mark the account's listing as running, in a write; None when another is running."""
    token = uuid.uuid4().hex
    with ctx.change(allow_empty=True) as change:
        db = ctx.db.conn
        db.execute("INSERT INTO account_watch (account_id) VALUES (?) ON CONFLICT DO NOTHING", [account_id])
        claimed = db.execute(
            "UPDATE account_watch SET running_since = ?, running_by = ? "
            "WHERE account_id = ? AND (running_since IS NULL OR running_since < ?)",
            [to_iso(change.at), token, account_id, to_iso(change.at - ABANDONED_AFTER)],
        ).rowcount
    return token if claimed else None


def _list(ctx: Context, runner: WatchRunner, due: Due) -> Sequence[RemotePost] | ConnectorError:
    """Build the connector as the dispatcher does and list the account's posts since ``due.since``;
    every failure as ConnectorError (permanent: the account cannot be watched)."""
    account = get_account(ctx.db, due.account_id)
    try:
        connector = open_connector(ctx.db, runner.vault, runner.connector_factory, due.account_id, account["connector"])
        try:
            return connector.recent_posts(due.since)
        finally:
            connector.close()
    except VaultError as exc:
        return ConnectorError(f"the connector's secrets cannot be read: {exc}", permanent=True)
    except ConnectorError as exc:
        return capped(exc)
    except Exception as exc:
        # A bug must not pass for "nothing posted", nor stop the other accounts' listings.
        log.exception("watching account %s failed unexpectedly", due.account_id)
        return ConnectorError(f"internal error while listing posts: {exc!r}", permanent=False)


def _normal(text: str) -> str:
    return _SPACE.sub(" ", text).strip().casefold()


def lockdown_sent(ctx: Context, account_id: int, listed: Sequence[RemotePost]) -> set[str]:
    """The platform ids among ``listed`` that are Lockdown's own on this account: posts and
    incident-message deliveries by id, and a post still on the wire (or lost) by its text."""
    ids = [post.remote_id for post in listed]
    if not ids:
        return set()
    marks = ", ".join("?" for _ in ids)
    db = ctx.db.conn
    ours = {
        row[0]
        for row in db.execute(
            f"SELECT remote_id FROM posts WHERE account_id = ? AND remote_id IN ({marks}) "
            f"UNION SELECT remote_id FROM message_deliveries WHERE account_id = ? AND remote_id IN ({marks})",
            [account_id, *ids, account_id, *ids],
        )
    }
    pending = {
        _normal(row[0])
        for row in db.execute(
            "SELECT body FROM posts WHERE account_id = ? AND remote_id IS NULL AND state IN ('publishing', 'unknown') "
            "UNION SELECT m.body FROM message_deliveries d JOIN incident_messages m ON m.id = d.message_id "
            "WHERE d.account_id = ? AND d.remote_id IS NULL AND d.state IN ('sending', 'unknown')",
            [account_id, account_id],
        )
    }
    if pending:
        ours |= {post.remote_id for post in listed if _normal(post.text) in pending}
    return ours


def _record(
    ctx: Context, runner: WatchRunner, due: Due, token: str, outcome: Sequence[RemotePost] | ConnectorError
) -> tuple[str, int]:
    """Record the listing if the claim is still ours: the account's watch state, each held
    incident's count, every new out-of-band post with its audit entry, timeline entry and notices."""
    found = 0
    with ctx.change(allow_empty=True) as change:
        now = change.at
        db = ctx.db.conn
        row = db.execute(
            "SELECT status FROM account_watch WHERE account_id = ? AND running_by = ?", [due.account_id, token]
        ).fetchone()
        if row is None:
            return "skipped", 0  # abandoned and taken over by a later listing, which records its own
        was = row[0]
        holding = [
            incident_id
            for (incident_id,) in db.execute(
                "SELECT incident_id FROM account_holds WHERE account_id = ? ORDER BY since, incident_id",
                [due.account_id],
            )
        ]
        if isinstance(outcome, ConnectorError):
            # Unwatchable (no read permission, reads opted out, no API) and any other permanent
            # failure (a revoked token) both need a person before a listing can work.
            status = "unwatchable" if outcome.permanent else "failing"
            reason: str | None = outcome.message
            if outcome.permanent:
                wait: timedelta | None = max(
                    UNWATCHABLE_RETRY, runner.interval(due.platform, held=due.held, watched=due.watched)
                )
            elif outcome.retry_after:  # a 429 says when: earlier would spend the limit for nothing
                wait = max(
                    timedelta(seconds=outcome.retry_after),
                    runner.interval(due.platform, held=due.held, watched=due.watched),
                )
            else:
                wait = None
        else:
            status, reason, wait = "ok", None, None
            ours = lockdown_sent(ctx, due.account_id, outcome)
            # Whatever the connector lists since the time is taken: Bluesky lists a post whose
            # createdAt (the writer's to choose) was backdated when its record key is recent.
            strangers = [p for p in outcome if p.remote_id not in ours]
            for post in sorted(strangers, key=lambda p: p.posted_at):
                if _record_out_of_band(change, due.account_id, holding, post):
                    found += 1
        next_at = now + (wait or runner.interval(due.platform, held=bool(holding), watched=due.watched))
        db.execute(
            "UPDATE account_watch SET status = ?, reason = ?, checks = checks + 1, last_checked_at = ?, "
            "next_check_at = ?, running_since = NULL, running_by = NULL WHERE account_id = ? AND running_by = ?",
            [status, reason, to_iso(now), to_iso(next_at), due.account_id, token],
        )
        for incident_id in holding:
            db.execute(
                "INSERT INTO incident_watch (incident_id, account_id, status, reason, checks, failures, "
                "first_checked_at, last_checked_at) VALUES (?, ?, ?, ?, 1, ?, ?, ?) "
                "ON CONFLICT (incident_id, account_id) DO UPDATE SET status = excluded.status, "
                "reason = excluded.reason, checks = checks + 1, failures = failures + excluded.failures, "
                "last_checked_at = excluded.last_checked_at",
                [incident_id, due.account_id, status, reason, int(status != "ok"), to_iso(now), to_iso(now)],
            )
        # The scheduler's listings are audited when the status changes, not each minute: at 60 s
        # and 250 held accounts that would be 360,000 entries a day that say nothing happened.
        if status != was:
            change.audit(
                SCHEDULER, "account.watch_status", f"account:{due.account_id}", status=status, was=was, reason=reason
            )
    return status, found


def _record_out_of_band(change: Changes, account_id: int, holding: list[int], post: RemotePost) -> bool:
    """Record one out-of-band post once (per account and platform id), with its audit entry, its
    timeline entry on each incident holding the account, and its notices. False when known."""
    db = change.context.db.conn
    incident_id = holding[0] if holding else None
    inserted = db.execute(
        "INSERT INTO out_of_band_posts (account_id, incident_id, remote_id, url, text, posted_at, seen_at) "
        "VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (account_id, remote_id) DO NOTHING RETURNING id",
        [account_id, incident_id, post.remote_id, post.url, post.text, to_iso(post.posted_at), to_iso(change.at)],
    ).fetchone()
    if inserted is None:
        return False
    oob_id = inserted[0]
    change.audit(
        SCHEDULER, "account.out_of_band_post", f"account:{account_id}",
        out_of_band_id=oob_id, remote_id=post.remote_id, url=post.url, incident_id=incident_id,
    )  # fmt: skip
    for held_by in holding:
        event(change, held_by, "out_of_band_post", SCHEDULER, out_of_band_id=oob_id, account_id=account_id,
              remote_id=post.remote_id, url=post.url)  # fmt: skip
    _notify(change, oob_id, account_id, incident_id, post)
    return True


def _notify(change: Changes, oob_id: int, account_id: int, incident_id: int | None, post: RemotePost) -> None:
    """One email to each press officer, each ERMC member and the account's manager, through the
    notifications outbox (delivered by the scheduler)."""
    db = change.context.db.conn
    account = get_account(change.context.db, account_id)
    people = {
        user_id: (name, email)
        for user_id, name, email in db.execute(
            "SELECT u.id, u.name, u.email FROM users u WHERE u.disabled_at IS NULL AND "
            "(u.id = (SELECT manager_id FROM accounts WHERE id = ?) OR EXISTS "
            "(SELECT 1 FROM user_roles r WHERE r.user_id = u.id AND r.role IN ('press', 'ermc'))) ORDER BY u.id",
            [account_id],
        )
    }
    where = f"{account['handle']} on {PLATFORM_NAMES.get(account['platform'], account['platform'])}"
    if incident_id is not None:
        subject = f"Lockdown: {where} posted during incident {incident_id}, not through Lockdown"
        context = (
            f"{where} is held by incident {incident_id}: no post should appear on it, yet its platform shows one "
            "that Lockdown did not send."
        )
        action = (
            f"Delete it: POST /api/v1/incidents/{incident_id}/watch/{oob_id}/delete (press, the account's manager)."
        )
    else:
        subject = f"Lockdown: {where} shows a post Lockdown did not send"
        context = f"{where}'s platform shows a post that Lockdown did not send: it may have been hijacked."
        action = "It has been reported to ERMC as a possible compromised account."
    text = (
        f"{context}\n\nPosted at {to_iso(post.posted_at)}, seen at {to_iso(change.at)}.\n"
        f"Platform id: {post.remote_id}\nAddress: {post.url or '(the platform gives none)'}\n\n"
        f"Text:\n{post.text}\n\n{action}\n"
    )
    queue(
        change,
        (
            Notice("out_of_band_post", email, subject, f"Dear {name},\n\n{text}", user_id, incident_id=incident_id)
            for user_id, (name, email) in people.items()
        ),
    )


def escalate_pending(ctx: Context, escalate: EscalationHook | None) -> int:
    """Offer each out-of-band post seen outside any incident, not yet escalated, to ``escalate``
    inside the transaction that marks it escalated. Without a hook the posts wait (their notices
    went out when they were seen). Returns how many were escalated."""
    if escalate is None:
        return 0
    done = 0
    for oob_id in [
        row[0]
        for row in ctx.db.conn.execute(
            "SELECT id FROM out_of_band_posts WHERE incident_id IS NULL AND escalated_at IS NULL ORDER BY id"
        )
    ]:
        post = out_of_band_post(ctx.db, oob_id)
        try:
            with ctx.change(allow_empty=True) as change:
                marked = ctx.db.conn.execute(
                    "UPDATE out_of_band_posts SET escalated_at = ? WHERE id = ? AND escalated_at IS NULL",
                    [to_iso(change.at), oob_id],
                ).rowcount
                if not marked:
                    continue  # another watcher escalated it meanwhile
                escalate(change, post)
                change.audit(
                    SCHEDULER, "account.out_of_band_escalated", f"account:{post['account_id']}", out_of_band_id=oob_id
                )
        except Exception:
            log.exception("escalating out-of-band post %s failed; it is offered again at the next run", oob_id)
            continue
        done += 1
    return done
