"""A standby takes over: ``lockdown standby promote``, and a press officer's confirmation.

Replication is asynchronous, so the replica may lack the last seconds before the primary died: a
declaration, a resolution, a post sent. The promoted database therefore starts failing closed:

- the latest replica is restored by Litestream into a new file, and checked as a backup is
  (``PRAGMA integrity_check``, the audit chain with this installation's key, and with
  ``--expect-head`` that kept head in the chain) before it is put in place as LOCKDOWN_DB;
- in one write transaction with its audit entries and timeline events: every account, central
  ones too, is held by a promotion hold, an active incident on the ``standby-promotion`` playbook
  (scope ``all``, ``hold_central``), so the hold views, the dispatcher, the notices and the
  console treat it as any incident; posts the old primary may have sent after the replica's
  last point (``publishing``, or ``scheduled`` and due between that point and now) become
  ``unknown``; and the promotion is recorded in ``promotions``;
- a folder replica gets the promotion marker that fences the old primary (lockdown.store.fence).

The hold is lifted only by ``confirm`` (press, saying what they checked), which resolves that
incident with the ``review`` policy (or the one the confirmer names); resolving it by hand is
refused (lockdown.incidents.declare).
"""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lockdown.errors import Conflict, InvalidInput
from lockdown.incidents.config import IncidentConfig
from lockdown.incidents.declare import PROMOTION_PLAYBOOK, declare_within, resolve_within
from lockdown.incidents.playbooks import RESUME_POLICIES
from lockdown.incidents.timeline import event
from lockdown.people.users import User, user_by_email
from lockdown.settings import Settings
from lockdown.store import audit, fence
from lockdown.store.backup import BackupError, Copy, check_file, remove_files, temporary_beside
from lockdown.store.context import Changes, Context
from lockdown.store.db import connect
from lockdown.store.dispatchers import pid_domain
from lockdown.store.litestream import ReplicationError, replica_folder, require_replica_url, restore_latest
from lockdown.store.migrations import migrate
from lockdown.store.replication import newest_beat
from lockdown.store.restore import set_aside
from lockdown.timeutil import Clock, to_iso, utcnow

MAX_CHECKED = 2000


@dataclass(frozen=True)
class Promoted:
    """What a promotion put in place."""

    uid: str
    database: Copy
    replica_point: str | None
    incident_id: int
    held_accounts: int
    unknown_posts: list[int]
    set_aside: Path | None
    seconds: float
    marker: Path | None


def promote(
    settings: Settings,
    config: IncidentConfig,
    email: str,
    *,
    expect_head: str | None = None,
    force: bool = False,
    clock: Clock = utcnow,
) -> Promoted:
    """Restore the latest replica, check it, put it in place and hold every account."""
    started = time.monotonic()
    key = audit.audit_key(settings.require_secret_key())
    replica = require_replica_url(settings)
    live = settings.db_path.absolute()
    if live.exists() and not force:
        raise ReplicationError(
            f"{live} exists: the standby's LOCKDOWN_DB is where the replica is put. Move it away, "
            "or pass --force to keep it aside as <db>.before-restore-<time>"
        )
    live.parent.mkdir(parents=True, exist_ok=True)
    staged = temporary_beside(live)
    try:
        restore_latest(settings, staged)
        checked = check_file(staged, key, what=f"the replica {replica}")
        if expect_head is not None:
            _require_head(staged, key, expect_head, replica)
        point = _replica_point(staged)
        # Held before it is put in place: a failure anywhere leaves no unheld database behind.
        uid, at, held = _hold_staged(settings, config, staged, key, clock, email, point, checked, expect_head, started)
        aside = set_aside(live, clock()) if live.exists() else None
        os.replace(staged, live)
    finally:
        remove_files(staged)
    copy = Copy(live, live.stat().st_size, checked.entries, checked.head, checked.counts)
    marker = _mark(settings, uid, at, point, checked.head)
    return Promoted(
        uid, copy, point, held["incident_id"], held["held_accounts"], held["unknown"], aside,
        time.monotonic() - started, marker,
    )  # fmt: skip


def _hold_staged(
    settings: Settings, config: IncidentConfig, staged: Path, key: bytes, clock: Clock, email: str,
    point: str | None, checked: Copy, expect_head: str | None, started: float,
) -> tuple[str, str, dict[str, Any]]:  # fmt: skip
    """Migrate the restored file and write the promotion into it, in one transaction."""
    db = connect(staged, busy_timeout=settings.busy_timeout_seconds)
    try:
        migrate(db)
        ctx = Context(db, key, clock)
        actor = user_by_email(db, email)
        if actor.disabled_at:
            raise InvalidInput(f"{email} is disabled", field="as")
        uid = uuid.uuid4().hex
        replica = require_replica_url(settings)
        with ctx.change() as change:
            held = _hold(ctx, change, config, actor, uid, point, checked, expect_head, replica, started)
        # One file to rename: the WAL folded back, as a backup is.
        db.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        db.close()
    return uid, to_iso(change.at), held


def _require_head(path: Path, key: bytes, expect_head: str, replica: str) -> None:
    db = connect(path)
    try:
        chain = audit.verify(db, key, expect_head)
    finally:
        db.close()
    if not chain.ok:
        raise BackupError(f"the replica {replica}: {chain.reason}")


def _replica_point(path: Path) -> str | None:
    """The replica's last point: its newest heartbeat or audit entry, whichever is later.
    Anything the old primary did after it may be missing here."""
    beat = newest_beat(path)
    db = connect(path)
    try:
        row = db.conn.execute("SELECT MAX(at) FROM audit_log").fetchone()
    finally:
        db.close()
    times = [t for t in (beat, row[0] if row else None) if t]
    return max(times) if times else None


def _hold(
    ctx: Context, change: Changes, config: IncidentConfig, actor: User, uid: str, point: str | None,
    checked: Copy, expect_head: str | None, replica: str, started: float,
) -> dict[str, Any]:  # fmt: skip
    """The promotion's one transaction: the unknown posts, the promotion hold, the record."""
    playbook = config.playbooks.get(PROMOTION_PLAYBOOK)
    if playbook is None:
        raise ReplicationError(f"the playbook {PROMOTION_PLAYBOOK}.toml is missing from LOCKDOWN_PLAYBOOKS")
    unknown = _unknown_posts(ctx, change, actor.email, point)
    declared = declare_within(
        ctx, config, actor, playbook, "Standby promoted: confirm the state",
        f"The standby took over from the replica {replica}, whose last point is {point or 'unknown'}; "
        "anything after it may be missing. Every account is held until a press officer confirms.",
    )  # fmt: skip
    incident_id = int(declared["id"])
    took = time.monotonic() - started
    ctx.db.conn.execute(
        "INSERT INTO promotions (uid, promoted_at, promoted_by, host, replica, replica_point, restored_entries, "
        "restored_head, expect_head, incident_id, unknown_posts, took_seconds) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
        [uid, to_iso(change.at), actor.id, pid_domain(), replica, point, checked.entries, checked.head,
         expect_head, incident_id, len(unknown), took],
    )  # fmt: skip
    event(
        change, incident_id, "promoted", actor.email,
        promotion=uid, replica=replica, replica_point=point, unknown_posts=unknown,
    )  # fmt: skip
    change.audit(
        actor.email, "database.promote", "database",
        promotion=uid, replica=replica, replica_point=point, restored_entries=checked.entries,
        restored_head=checked.head, expect_head=expect_head, incident_id=incident_id, unknown_posts=len(unknown),
    )  # fmt: skip
    return {"incident_id": incident_id, "held_accounts": int(declared["held_accounts"]), "unknown": unknown}


def _unknown_posts(ctx: Context, change: Changes, actor: str, point: str | None) -> list[int]:
    """Posts the old primary may have sent after the replica's last point wait for a person."""
    stamp = to_iso(change.at)
    after = point or ""  # no known point: every due post is in doubt
    rows = ctx.db.conn.execute(
        "UPDATE posts SET state = 'unknown', updated_at = :now, claimed_by = NULL, error_code = NULL, "
        "error_status = NULL, error = 'the standby took over: the old primary may have sent it after the "
        "replica''s last point (' || :point || '); check the platform, then mark it published or reschedule it' "
        "WHERE state = 'publishing' OR (state = 'scheduled' AND due_at > :after AND due_at <= :now) RETURNING id",
        {"now": stamp, "point": point or "unknown", "after": after},
    ).fetchall()
    ids = sorted(row[0] for row in rows)
    for post_id in ids:
        change.audit(actor, "post.unknown", f"post:{post_id}", reason="standby promoted", replica_point=point)
    return ids


def _mark(settings: Settings, uid: str, at: str, point: str | None, head: str) -> Path | None:
    """Leave the promotion in a folder replica, where the old primary looks (the fence)."""
    folder = replica_folder(settings)
    if folder is None:
        return None
    record = {"uid": uid, "promoted_at": at, "host": pid_domain(), "replica_point": point, "head": head}
    try:
        fence.write_marker(folder, record)
    except OSError as exc:
        raise ReplicationError(
            f"promoted and held, but the promotion marker could not be written to {folder} ({exc}): "
            "the old primary will not see it. Keep the old primary down, then write it again"
        ) from None
    return fence.marker_path(folder)


def pending_promotion(ctx: Context) -> dict[str, Any] | None:
    """The promotion that waits for a press officer's confirmation, if one does."""
    row = ctx.db.conn.execute(
        "SELECT id, uid, promoted_at, replica, replica_point, incident_id, unknown_posts FROM promotions "
        "WHERE confirmed_at IS NULL ORDER BY id DESC LIMIT 1"
    ).fetchone()
    if row is None:
        return None
    keys = ("id", "uid", "promoted_at", "replica", "replica_point", "incident_id", "unknown_posts")
    return dict(zip(keys, row, strict=True))


def confirm_promotion(ctx: Context, config: IncidentConfig, actor: User, data: Mapping[str, Any]) -> dict[str, Any]:
    """A press officer confirms the promoted state: the promotion hold is lifted (resolved with
    the ``review`` policy unless they name another), audited and on the timeline."""
    actor.require("press")
    checked = data.get("checked")
    if not isinstance(checked, str) or not checked.strip():
        raise InvalidInput("checked is required: say what you checked before lifting the hold", field="checked")
    if len(checked) > MAX_CHECKED:
        raise InvalidInput(f"checked is longer than {MAX_CHECKED} characters", field="checked")
    policy = data.get("resume_policy") or "review"
    if policy not in RESUME_POLICIES:
        raise InvalidInput(f"resume_policy must be one of {', '.join(RESUME_POLICIES)}", field="resume_policy")
    with ctx.change() as change:
        waiting = pending_promotion(ctx)  # read under the write lock: two confirmations cannot both lift it
        if waiting is None:
            raise Conflict("no promotion waits for confirmation", field="promotion")
        stamp = to_iso(change.at)
        ctx.db.conn.execute(
            "UPDATE promotions SET confirmed_at = ?, confirmed_by = ?, checked = ? WHERE id = ?",
            [stamp, actor.id, checked.strip(), waiting["id"]],
        )
        event(change, waiting["incident_id"], "promotion_confirmed", actor.email, checked=checked.strip())
        resolved = resolve_within(ctx, config, actor, waiting["incident_id"], policy)
        change.audit(
            actor.email, "promotion.confirm", "database",
            promotion=waiting["uid"], incident_id=waiting["incident_id"], checked=checked.strip(), resume_policy=policy,
        )  # fmt: skip
    return {
        "promotion": waiting["uid"],
        "promoted_at": waiting["promoted_at"],
        "replica_point": waiting["replica_point"],
        "incident_id": waiting["incident_id"],
        "confirmed_at": stamp,
        "confirmed_by": actor.email,
        "checked": checked.strip(),
        "resume_policy": policy,
        "released_accounts": resolved["released_accounts"],
        "missed_posts": resolved["missed_posts"],
    }
