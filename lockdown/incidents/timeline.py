"""An incident's timeline: typed, append-only, written through ``event()`` alone, and the
incident-row reader that declaring, messages and the report share.

Every kind of entry is named here, so the report and the console can rely on the set, and a
misspelt kind fails at ``mypy`` (a Literal) and at run time rather than landing in the record.
"""

from __future__ import annotations

import json
from typing import Any, Literal, get_args

from sqlite_utils import Database

from lockdown.errors import NotFound
from lockdown.store.context import Changes
from lockdown.timeutil import to_iso

EventKind = Literal[
    "declared",
    "held",
    "in_flight",
    "rotation_required",
    "notices_queued_declared",
    "notices_queued_resolved",
    "acknowledged",
    "message_drafted",
    "message_approved",
    "message_delivered",
    "native_listed",
    "native_withdrawn",
    "native_restored",
    "native_retry",
    "native_failed",
    "resolved",
    "access_sessions_ended",
    "out_of_band_post",
    "out_of_band_deleted",
    "promoted",
    "promotion_confirmed",
]
EVENT_KINDS: frozenset[str] = frozenset(get_args(EventKind))

_INCIDENT_COLUMNS = (
    "id", "title", "playbook", "reason", "status", "exercise", "scope", "scope_tag",
    "named_account_id", "hold_central", "resume_policy", "declared_by", "declared_at",
    "resolved_by", "resolved_at", "resolution",
)  # fmt: skip


def event(change: Changes, incident_id: int, kind: EventKind, actor: str, **details: Any) -> None:
    """Append to an incident's timeline (inside the change's transaction)."""
    if kind not in EVENT_KINDS:
        raise ValueError(f"{kind!r} is not a timeline event kind")
    change.context.db.conn.execute(
        "INSERT INTO incident_events (incident_id, at, kind, actor, details) VALUES (?, ?, ?, ?, ?)",
        [incident_id, to_iso(change.at), kind, actor, json.dumps(details, sort_keys=True)],
    )


def timeline(db: Database, incident_id: int) -> list[dict[str, Any]]:
    """An incident's timeline, oldest first."""
    return [
        {"at": at, "kind": kind, "actor": actor, "details": json.loads(details)}
        for at, kind, actor, details in db.conn.execute(
            "SELECT at, kind, actor, details FROM incident_events WHERE incident_id = ? ORDER BY id",
            [incident_id],
        )
    ]


def incident_row(db: Database, incident_id: int) -> dict[str, Any]:
    """One incident's own columns (no timeline or counts), or NotFound naming the id."""
    row = db.conn.execute(
        f"SELECT {', '.join(_INCIDENT_COLUMNS)} FROM incidents WHERE id = ?",
        [incident_id],
    ).fetchone()
    if row is None:
        raise NotFound(f"no incident {incident_id}", field="id")
    incident = dict(zip(_INCIDENT_COLUMNS, row, strict=True))
    incident["exercise"] = bool(incident["exercise"])
    incident["hold_central"] = bool(incident["hold_central"])
    incident["resolution"] = json.loads(incident["resolution"]) if incident["resolution"] else None
    return incident
