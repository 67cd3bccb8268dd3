"""Console pages for the audit trail (ERMC): browse it a page at a time and verify its chain."""

from __future__ import annotations

import json
import re
from typing import Any

from flask import Response, render_template, request, url_for

from lockdown.api.state import app_state, request_context
from lockdown.console.auth import login_required, signed_in_user
from lockdown.console.blueprint import bp
from lockdown.pagination import decode_cursor, encode_cursor, page
from lockdown.store import audit as trail

PAGE_SIZE = 50
HEAD_HASH = re.compile(r"^[0-9a-f]{64}$")


def _require_ermc() -> None:
    user = signed_in_user()
    assert user is not None, "login_required runs first"
    user.require("ermc")


@bp.get("/audit")
@login_required
def audit() -> str:
    """Entries oldest first, fifty at a time, optionally for one subject."""
    _require_ermc()
    return _audit_page()


@bp.post("/audit/verify")
@login_required
def audit_verify() -> Response:
    """Walk the whole chain and show whether it holds, and where it breaks if not."""
    _require_ermc()
    kept = request.form.get("expect_head", "").strip().lower()
    if kept and not HEAD_HASH.match(kept):
        return Response(_audit_page(kept_head=kept, head_error="the kept head must be 64 hexadecimal characters"), 400)
    result = trail.verify(request_context().db, app_state().audit_key, kept or None)
    return Response(_audit_page(verification=result, kept_head=kept))


def _audit_page(**shown: Any) -> str:
    subject = request.args.get("subject", "").strip()
    cursor = request.args.get("cursor") or None
    after = decode_cursor(cursor)
    db = request_context().db
    found = page(
        trail.list_entries(db, after=after, limit=PAGE_SIZE + 1, subject=subject or None), PAGE_SIZE, key="seq"
    )
    filters: dict[str, Any] = {"subject": subject} if subject else {}
    last_seq = trail.head(db)[0]
    links = {
        "first": url_for("console.audit", **filters) if after else None,
        # Without a subject, seqs run unbroken, so the page before and the last page are simple sums.
        "older": url_for("console.audit", cursor=_cursor(after - PAGE_SIZE)) if after and not subject else None,
        "newer": url_for("console.audit", **filters, cursor=found["next"]) if found["next"] else None,
        "newest": url_for("console.audit", cursor=_cursor(last_seq - PAGE_SIZE))
        if not subject and found["next"]
        else None,
    }
    entries = [{**entry, "details_json": _compact(entry["details"])} for entry in found["items"]]
    return render_template("audit.html", entries=entries, subject=subject, links=links, **shown)


def _cursor(after: int) -> str | None:
    return encode_cursor(after) if after > 0 else None


def _compact(details: dict[str, Any]) -> str:
    return json.dumps(details, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
