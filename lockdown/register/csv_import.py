"""CSV import (all rows or none, errors by line and field) and export (formula-safe)."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from typing import Any

from lockdown.crypto import Vault
from lockdown.csv_io import decode, header_errors, neutralise, records, refuse, unneutralise
from lockdown.errors import InvalidInput
from lockdown.people.users import User, active_users_by_email
from lockdown.register.accounts import (
    FIELDS,
    REQUIRED,
    FieldError,
    check_account,
    check_naming,
    insert_accounts,
    list_accounts,
)
from lockdown.store.context import Context

TRUE_WORDS = {"true", "yes", "y", "1"}
FALSE_WORDS = {"false", "no", "n", "0", ""}


def _row_to_data(row: dict[str, str], line: int, errors: list[dict[str, Any]]) -> dict[str, Any]:
    data: dict[str, Any] = {}
    for name, raw in row.items():
        cell = unneutralise(raw.strip())
        if name in ("editors", "tags"):
            data[name] = [word for word in cell.replace(";", " ").split() if word]
        elif name == "central":
            if cell.lower() not in TRUE_WORDS | FALSE_WORDS:
                errors.append({"line": line, "field": name, "message": "central must be true or false"})
            data[name] = cell.lower() in TRUE_WORDS
        elif name == "connector":
            data[name] = _connector_cell(cell, line, errors)
        elif cell or name in REQUIRED:
            data[name] = cell
    return data


def _connector_cell(cell: str, line: int, errors: list[dict[str, Any]]) -> Any:
    if not cell:
        return None
    if not cell.startswith("{"):
        return {"kind": cell}
    try:
        return json.loads(cell)
    except json.JSONDecodeError:
        errors.append({"line": line, "field": "connector", "message": "connector is neither a kind nor JSON"})
        return None


def import_accounts(ctx: Context, actor: User, body: bytes, vault: Vault | None = None) -> dict[str, Any]:
    """Register every row of a CSV in one transaction, or none with every error by line."""
    actor.require("ermc")
    text = decode(body)
    errors: list[dict[str, Any]] = []
    users = active_users_by_email(ctx.db)
    taken = {
        (key, platform): account_id
        for key, platform, account_id in ctx.db.conn.execute(
            "SELECT handle_key, platform, id FROM accounts WHERE archived_at IS NULL"
        )
    }
    seen: dict[tuple[str, str], int] = {}
    rows: list[dict[str, Any]] = []
    header: list[str] = []
    for line, row, header in records(text):
        if line == 1:
            errors += header_errors(header, REQUIRED, FIELDS)
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
        data = _row_to_data(row, line, errors)
        clean, problems = check_account(data, users)
        check_naming(clean, problems)
        errors += [_at(line, problem) for problem in problems]
        if problems or "handle_key" not in clean or "platform" not in clean:
            continue
        key = (clean["handle_key"], clean["platform"])
        if key in seen:
            errors.append(
                {
                    "line": line,
                    "field": "handle",
                    "message": f"{clean['handle']} on {key[1]} is also on line {seen[key]}",
                }
            )
        elif key in taken:
            errors.append(
                {
                    "line": line,
                    "field": "handle",
                    "message": f"{clean['handle']} on {key[1]} is registered already (account {taken[key]})",
                }
            )
        seen.setdefault(key, line)
        rows.append(clean)
    if not header:
        raise InvalidInput("the CSV is empty; the first line must name the columns", field="body")
    refuse(errors)
    if not rows:
        raise InvalidInput("the CSV has a header but no rows", field="body")
    with ctx.change() as change:
        ids = insert_accounts(change, actor, rows, vault)
        change.audit(actor.email, "account.import", "register", created=len(ids))
    return {"created": len(ids), "ids": ids}


def _at(line: int, problem: FieldError) -> dict[str, Any]:
    return {"line": line, "field": problem.field, "message": problem.message}


def export_accounts(ctx: Context, actor: User) -> Iterator[str]:
    """The active register as CSV in the import's columns, formula cells neutralised."""
    actor.require("ermc")
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(FIELDS)
    cursor: str | None = None
    while True:
        chunk = list_accounts(ctx.db, limit=1000, cursor=cursor)
        for account in chunk["items"]:
            writer.writerow([neutralise(_cell(account, name)) for name in FIELDS])
        yield out.getvalue()
        out.seek(0)
        out.truncate()
        cursor = chunk["next"]
        if cursor is None:
            return


def _cell(account: dict[str, Any], name: str) -> str:
    value = account[name]
    if name in ("editors", "tags"):
        return ";".join(value)
    if name == "central":
        return "true" if value else "false"
    if name == "connector":
        return value["kind"] if list(value) == ["kind"] else json.dumps(value, sort_keys=True)
    return "" if value is None else str(value)
