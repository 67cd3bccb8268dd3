"""What readiness looks like to a reader: one account's (the ``readiness`` object of the API),
the central accounts' summary for the Declare page, and the table of the command line.

The platform's reason can carry what only the account's people should read, as a failed
post's error can (lockdown.posting.post_errors): ERMC, the account's manager and, for a central
account, the press team (who send incident messages through it) read it; anyone else is told
its kind and HTTP status.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from sqlite_utils import Database

from connectors.versions import ApiVersions, version_warnings
from lockdown.people.users import User
from lockdown.register.accounts import PLATFORM_NAMES, get_account, list_accounts
from lockdown.timeutil import parse_iso

STATES = ("ready", "failing", "unchecked")
# A token that ends this soon is warned of.
TOKEN_WARNING = timedelta(days=14)

_COLUMNS = (
    "state", "reason", "error_code", "error_status", "checked_at", "since", "remote_account", "scopes",
    "expires_at", "running_since", "next_check_at",
)  # fmt: skip


def may_read_reason(viewer: User | None, account: Mapping[str, Any]) -> bool:
    """Whether ``viewer`` (None: an operator at the command line) may read the platform's words."""
    if viewer is None or viewer.has("ermc") or account["manager"] == viewer.email:
        return True
    return bool(account["central"]) and viewer.has("press")


def hidden_reason(code: str | None, status: int | None) -> str:
    """A failing check in Lockdown's own words: its kind and HTTP status, nothing the platform said."""
    said = f"HTTP {status}, " if status else ""
    return (
        f"the platform refused the check ({said}{code or 'unknown'}); ERMC and the account's manager "
        "(and, for a central account, the press team) can read its answer"
    )


def _row(db: Database, account_id: int) -> dict[str, Any] | None:
    found = db.conn.execute(
        f"SELECT {', '.join(_COLUMNS)} FROM account_readiness WHERE account_id = ?", [account_id]
    ).fetchone()
    return dict(zip(_COLUMNS, found, strict=True)) if found else None


def readiness_for(
    db: Database, account: Mapping[str, Any], viewer: User | None, versions: ApiVersions, now: datetime
) -> dict[str, Any]:
    """The account's readiness as ``viewer`` may see it: status, reason, when checked, since
    when so, who the platform says the credentials act as, the token's end, and warnings."""
    row = _row(db, account["id"]) or {}
    status = row.get("state") or "unchecked"
    reason = row.get("reason")
    if reason and not may_read_reason(viewer, account):
        reason = hidden_reason(row.get("error_code"), row.get("error_status"))
    kind = str(account["connector"].get("kind") or "outbox")
    warnings = version_warnings(kind, versions, now.date())
    if kind == "webhook" and status == "ready":
        # connectors.webhook: a hook has no authenticated read, so "ready" means configured.
        warnings.append("a webhook cannot be checked without sending a message: only its configuration was checked")
    expires = row.get("expires_at")
    if expires:
        left = parse_iso(expires) - now
        if left <= timedelta(0):
            warnings.append(f"the token ended {expires}: deposit a new one")
        elif left <= TOKEN_WARNING:
            warnings.append(f"the token ends {expires} (in {left.days} days): deposit a new one before then")
    return {
        "status": status,
        "reason": reason,
        "checked_at": row.get("checked_at"),
        "since": row.get("since"),
        "account": row.get("remote_account"),
        "scopes": json.loads(row["scopes"]) if row.get("scopes") else [],
        "expires_at": expires,
        "permanent": row.get("error_code") == "permanent" if status == "failing" else None,
        "checking": row.get("running_since") is not None,
        "next_check_at": row.get("next_check_at"),
        "warnings": warnings,
    }


def how_long(since: str | None, now: datetime) -> str:
    """'3 days', '5 hours', '12 minutes': how long a state has lasted, for people."""
    if not since:
        return "never checked"
    seconds = max(0, int((now - parse_iso(since)).total_seconds()))
    for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60)):
        if seconds >= size:
            count = seconds // size
            return f"{count} {unit}{'s' if count != 1 else ''}"
    return "under a minute"


def central_summary(db: Database, viewer: User | None, versions: ApiVersions, now: datetime) -> dict[str, Any]:
    """The central accounts' readiness for the Declare page: how many of them are ready, and each
    one that is not, with its reason (as ``viewer`` may read it) and for how long."""
    central = list_accounts(db, central=True, limit=1000)["items"]
    ready, not_ready = 0, []
    for account in central:
        seen = readiness_for(db, account, viewer, versions, now)
        if seen["status"] == "ready":
            ready += 1
            if seen["warnings"]:
                not_ready.append({**_line(account, seen, now), "status": "warning"})
            continue
        not_ready.append(_line(account, seen, now))
    return {"ready": ready, "total": len(central), "accounts": not_ready}


def _line(account: Mapping[str, Any], seen: Mapping[str, Any], now: datetime) -> dict[str, Any]:
    if seen["status"] == "unchecked":
        what = "never checked"
    elif seen["status"] == "failing":
        what = f"{seen['reason']} (for {how_long(seen['since'], now)})"
    else:
        what = "; ".join(seen["warnings"])
    return {
        "id": account["id"],
        "handle": account["handle"],
        "platform": PLATFORM_NAMES.get(account["platform"], account["platform"]),
        "status": seen["status"],
        "what": what,
    }


def readiness_table(
    db: Database, versions: ApiVersions, now: datetime, account_id: int | None = None
) -> list[dict[str, Any]]:
    """Every active account's readiness (or one account's), central accounts first, for the CLI."""
    if account_id is not None:
        accounts = [get_account(db, account_id)]
    else:
        accounts, cursor = [], None
        while True:
            page = list_accounts(db, limit=1000, cursor=cursor)
            accounts += page["items"]
            cursor = page["next"]
            if not cursor:
                break
    rows = [{**account, "readiness": readiness_for(db, account, None, versions, now)} for account in accounts]
    return sorted(rows, key=lambda row: (not row["central"], row["id"]))
