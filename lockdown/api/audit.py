"""The audit trail: /api/v1/audit."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from apiflask import APIBlueprint
from marshmallow import RAISE

from lockdown.api.audit_schemas import AuditPage, AuditQuery, VerifyOut, VerifyQuery
from lockdown.api.auth import auth
from lockdown.api.state import current_user, request_context
from lockdown.pagination import check_limit, decode_cursor, page
from lockdown.store import audit

bp = APIBlueprint("audit", __name__, url_prefix="/api/v1/audit", tag="Audit")


@bp.get("")
@bp.auth_required(auth)
@bp.input(AuditQuery, location="query", arg_name="query", unknown=RAISE)
@bp.output(AuditPage)
@bp.doc(responses=[400, 401, 403])
def list_entries(query: dict[str, Any]) -> dict[str, Any]:
    """Audit entries, oldest first (ermc)."""
    current_user().require("ermc")
    limit = check_limit(query["limit"])
    entries = audit.list_entries(
        request_context().db,
        after=decode_cursor(query["cursor"]),
        limit=limit + 1,
        subject=query["subject"],
    )
    return page(entries, limit, key="seq")


@bp.get("/verify")
@bp.auth_required(auth)
@bp.input(VerifyQuery, location="query", arg_name="query", unknown=RAISE)
@bp.output(VerifyOut)
@bp.doc(responses=[400, 401, 403])
def verify(query: dict[str, Any]) -> dict[str, Any]:
    """Walk the whole chain and say whether it holds (ermc)."""
    current_user().require("ermc")
    ctx = request_context()
    return asdict(audit.verify(ctx.db, ctx.audit_key, query["expect_head"]))
