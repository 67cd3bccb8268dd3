"""CSV import of posts as one batch awaiting review: all rows or none, errors by line."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from lockdown.csv_io import decode, header_errors, records, refuse, unneutralise
from lockdown.errors import InvalidInput, LockdownError
from lockdown.ids import parse_id
from lockdown.people.users import User
from lockdown.posting.posts import check_body, check_time, insert_batch
from lockdown.posting.rights import rights_on
from lockdown.register.accounts import handle_key
from lockdown.store.context import Context

COLUMNS = ("account_id", "handle", "platform", "body", "scheduled_at")


def import_posts(ctx: Context, actor: User, body: bytes) -> dict[str, Any]:
    """Create a batch of posts awaiting review from CSV rows with ``account_id`` (or ``handle``
    and ``platform``), ``body`` and ``scheduled_at``."""
    text = decode(body)
    now = ctx.now()
    accounts = {
        row[0]: {"id": row[0], "platform": row[1], "key": (row[2], row[1]), "archived": row[3]}
        for row in ctx.db.conn.execute("SELECT id, platform, handle_key, archived_at FROM accounts")
    }
    by_handle = {a["key"]: a for a in accounts.values() if a["archived"] is None}
    allowed: dict[int, bool] = {}
    errors: list[dict[str, Any]] = []
    rows: list[tuple[int, str, datetime]] = []
    header: list[str] = []
    for line, row, header in records(text):
        if line == 1:
            errors += header_errors(header, ("body", "scheduled_at"), COLUMNS)
            if "account_id" not in header and not {"handle", "platform"} <= set(header):
                errors.append(
                    {
                        "line": 1,
                        "field": "account_id",
                        "message": "give account_id, or handle and platform",
                    }
                )
            if errors:
                break
            continue
        if row is None:
            errors.append(
                {
                    "line": line,
                    "field": "row",
                    "message": f"has a different number of cells from the header ({len(header)})",
                }
            )
            continue
        cells = {name: unneutralise(value.strip()) for name, value in row.items()}
        account = _find_account(cells, accounts, by_handle)
        if isinstance(account, str):
            errors.append({"line": line, "field": "account_id", "message": account})
            continue
        if account["id"] not in allowed:
            allowed[account["id"]] = rights_on(ctx.db, actor, account["id"])
        if not allowed[account["id"]]:
            errors.append(
                {
                    "line": line,
                    "field": "account_id",
                    "message": f"you do not manage or edit account {account['id']}",
                }
            )
            continue
        try:
            checked_body = check_body(account["platform"], cells.get("body", ""))
            when = check_time(cells.get("scheduled_at", ""), now)
        except LockdownError as exc:
            errors.append({"line": line, "field": exc.field or "row", "message": exc.message})
            continue
        rows.append((account["id"], checked_body, when))
    if not header:
        raise InvalidInput("the CSV is empty; the first line must name the columns", field="body")
    refuse(errors)
    if not rows:
        raise InvalidInput("the CSV has a header but no rows", field="body")
    return insert_batch(ctx, actor, rows)


def _find_account(
    cells: dict[str, str],
    accounts: dict[int, dict[str, Any]],
    by_handle: dict[tuple[str, str], dict[str, Any]],
) -> dict[str, Any] | str:
    if cells.get("account_id"):
        raw = cells["account_id"]
        number = parse_id(raw)
        account = accounts.get(number) if number is not None else None
        if account is None:
            return f"there is no account {raw}"
        if account["archived"] is not None:
            return f"account {raw} is archived"
        return account
    key = (handle_key(cells.get("handle", "")), cells.get("platform", "").lower())
    found = by_handle.get(key)
    return found if found else f"there is no active account {cells.get('handle')} on {cells.get('platform')}"
