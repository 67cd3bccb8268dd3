"""Unversioned and self-describing endpoints: /healthz and /api/v1/me."""

from __future__ import annotations

import sqlite3
from typing import Any

from apiflask import APIBlueprint

from lockdown.api.auth import auth
from lockdown.api.meta_schemas import HealthOut, UserOut
from lockdown.api.state import app_state, current_user, request_context
from lockdown.clock.health import last_tick, read_health
from lockdown.notify.delivery import waiting_for_mail
from lockdown.store.migrations import migrations
from lockdown.store.replication import replication_status

bp = APIBlueprint("meta", __name__, tag="Service")


@bp.get("/healthz")
@bp.output(HealthOut)
@bp.doc(
    responses={
        503: "The database cannot be read or is not migrated, or the scheduler reports that dispatch "
        "is failing or refusing (nothing is being sent)"
    }
)
def healthz() -> tuple[dict[str, Any], int]:
    """Whether the service can read its database and the scheduler is dispatching (no auth)."""
    tick = None
    waiting = 0
    try:
        db = request_context().db
        pending = migrations.pending(db)
        database = "ok" if not pending else f"{len(pending)} migrations pending"
        ok = not pending
        tick = last_tick(db) if ok else None
        waiting = waiting_for_mail(db) if ok else 0
    except sqlite3.Error as exc:
        database, ok = f"error: {exc}", False
    scheduler = _scheduler_report(tick)
    ok = ok and scheduler["state"] not in ("failing", "refusing", "unreadable")
    mail = {"configured": app_state().settings.mail_configured, "waiting": waiting}
    replication = replication_status(app_state().settings, app_state().clock())
    body = {"ok": ok, "database": database, "scheduler": scheduler, "mail": mail, "replication": replication}
    return body, 200 if ok else 503


def _scheduler_report(tick: str | None) -> dict[str, Any]:
    """The last tick (from the database) and what the scheduler last said about itself (from
    its health file, which survives a database it cannot write)."""
    report = read_health(app_state().settings.db_path) or {}
    state = report.get("state") or "not reported"
    return {
        "last_tick": tick,
        "state": state,
        "refusing": state == "refusing",
        "since": report.get("since"),
        "last_error": report.get("last_error"),
        "last_error_at": report.get("last_error_at"),
    }


@bp.get("/api/v1/me")
@bp.auth_required(auth)
@bp.output(UserOut)
@bp.doc(responses=[401])
def me() -> dict[str, Any]:
    """The user this token belongs to, with their roles."""
    return current_user().public()
