"""Unversioned and self-describing endpoints: /healthz and /api/v1/me."""

from __future__ import annotations

import sqlite3
from typing import Any

from apiflask import APIBlueprint

from lockdown.api.auth import auth
from lockdown.api.schemas import HealthOut, UserOut
from lockdown.api.state import current_user, request_context
from lockdown.dispatch import last_tick
from lockdown.migrations import migrations

bp = APIBlueprint("meta", __name__, tag="Service")


@bp.get("/healthz")
@bp.output(HealthOut)
@bp.doc(responses={503: "The database cannot be read or is not migrated"})
def healthz() -> tuple[dict[str, Any], int]:
    """Whether the service can read its database (no auth)."""
    tick = None
    try:
        db = request_context().db
        pending = migrations.pending(db)
        database = "ok" if not pending else f"{len(pending)} migrations pending"
        ok = not pending
        tick = last_tick(db) if ok else None
    except sqlite3.Error as exc:
        database, ok = f"error: {exc}", False
    body = {"ok": ok, "database": database, "scheduler": {"last_tick": tick}}
    return body, 200 if ok else 503


@bp.get("/api/v1/me")
@bp.auth_required(auth)
@bp.output(UserOut)
@bp.doc(responses=[401])
def me() -> dict[str, Any]:
    """The user this token belongs to, with their roles."""
    return current_user().public()
