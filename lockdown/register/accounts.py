"""The register of corporate accounts (policy 2.2.1-2.2.2): its rules and who may change it."""

from __future__ import annotations

import json
import re
import sqlite3
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlite_utils import Database

from connectors.settings import SettingsInvalid, masked, split_secret_settings, validate_connector
from lockdown.crypto import Vault
from lockdown.errors import Conflict, Forbidden, InvalidInput, NotFound
from lockdown.hours import HoursError, parse_weekly_hours
from lockdown.pagination import check_limit, decode_cursor, page
from lockdown.people.users import User, active_users_by_email
from lockdown.register.connector_binding import drop_moved_secrets, store_sealed
from lockdown.register.handles import handle_problem, normal_handle
from lockdown.store.context import Changes, Context
from lockdown.timeutil import to_iso

PLATFORMS = (
    "x", "facebook", "instagram", "linkedin", "youtube", "mastodon",
    "bluesky", "tiktok", "threads", "flickr", "other",
)  # fmt: skip
# How people write the platforms' names.
PLATFORM_NAMES = {
    "x": "X", "facebook": "Facebook", "instagram": "Instagram", "linkedin": "LinkedIn", "youtube": "YouTube",
    "mastodon": "Mastodon", "bluesky": "Bluesky", "tiktok": "TikTok", "threads": "Threads", "flickr": "Flickr",
    "other": "another platform",
}  # fmt: skip
HANDLE_PREFIX = "livuni"
FIELDS = (
    "handle", "platform", "unit", "purpose", "monitored_hours", "manager",
    "editors", "central", "connector", "naming_exception", "tags",
)  # fmt: skip
REQUIRED = ("handle", "platform", "unit", "purpose", "monitored_hours", "manager")
MANAGER_MAY_CHANGE = frozenset({"purpose", "monitored_hours", "editors"})
TAG = re.compile(r"^[a-z0-9][a-z0-9_-]{0,31}$")
TEXT_LIMITS = {"handle": 100, "unit": 200, "purpose": 1000, "naming_exception": 500}


@dataclass(frozen=True)
class FieldError:
    """One broken rule, naming its field."""

    field: str
    message: str


def handle_key(handle: str) -> str:
    """The form handles are compared in: composed (NFC), no leading ``@``, no case."""
    return normal_handle(handle).lstrip("@").lower()


def _text(data: Mapping[str, Any], name: str, errors: list[FieldError]) -> str | None:
    value = data.get(name)
    if value is None:
        return None
    if not isinstance(value, str):
        errors.append(FieldError(name, f"{name} must be text"))
        return None
    value = value.strip()
    limit = TEXT_LIMITS.get(name)
    if limit and len(value) > limit:
        errors.append(FieldError(name, f"{name} is longer than {limit} characters"))
    return value


def _person(email: Any, field: str, users: Mapping[str, User], errors: list[FieldError]) -> int:
    if not isinstance(email, str) or not email.strip():
        errors.append(FieldError(field, f"{field} must be a user's email"))
        return 0
    user = users.get(email.strip().lower())
    if user is None:
        errors.append(FieldError(field, f"{field}: {email.strip()} is not an enabled user"))
        return 0
    if field == "manager" and "manager" not in user.roles:
        errors.append(FieldError(field, f"{field}: {user.email} does not hold the manager role"))
    return user.id


def check_account(
    data: Mapping[str, Any], users: Mapping[str, User], *, partial: bool = False
) -> tuple[dict[str, Any], list[FieldError]]:
    """Apply the register's rules; return the cleaned columns and every broken rule."""
    errors: list[FieldError] = []
    clean: dict[str, Any] = {}
    unknown = sorted(set(data) - set(FIELDS))
    errors += [FieldError(name, f"{name} is not a field of an account") for name in unknown]
    for name in REQUIRED:
        value = data.get(name)
        blank = value is None or (isinstance(value, str) and not value.strip())
        if blank and (name in data or not partial):
            errors.append(FieldError(name, f"{name} is required and must not be blank"))
    for name in ("unit", "purpose"):
        value = _text(data, name, errors)
        if value:
            clean[name] = value
    if "naming_exception" in data:
        clean["naming_exception"] = _text(data, "naming_exception", errors) or None
    handle = _text(data, "handle", errors)
    if handle:
        handle = normal_handle(handle)
        key = handle_key(handle)
        problem = handle_problem(handle)
        if problem:
            errors.append(FieldError("handle", problem))
        elif not key:
            errors.append(FieldError("handle", "handle must be one word, such as @livuni_news"))
        clean.update(handle=handle, handle_key=key)
    platform = _text(data, "platform", errors)
    if platform is not None and platform != "":
        if platform.lower() not in PLATFORMS:
            errors.append(FieldError("platform", f"platform must be one of {', '.join(PLATFORMS)}"))
        clean["platform"] = platform.lower()
    hours = _text(data, "monitored_hours", errors)
    if hours:
        try:
            clean["monitored_hours"] = parse_weekly_hours(hours).text
        except HoursError as exc:
            errors.append(FieldError("monitored_hours", f"monitored_hours {exc}"))
    if data.get("manager") is not None:
        clean["manager_id"] = _person(data["manager"], "manager", users, errors)
    if data.get("editors") is not None:
        editors = data["editors"]
        if not isinstance(editors, list):
            errors.append(FieldError("editors", "editors must be a list of user emails"))
        else:
            ids = [_person(email, "editors", users, errors) for email in editors]
            clean["editor_ids"] = sorted(set(ids) - {0})
    if data.get("central") is not None:
        if not isinstance(data["central"], bool):
            errors.append(FieldError("central", "central must be true or false"))
        clean["central"] = bool(data["central"])
    if data.get("tags") is not None:
        clean["tags"] = _tags(data["tags"], errors)
    if "connector" in data:
        try:
            # A credential given with the settings (a webhook URL) is stored as a secret; the
            # settings keep its masked form, so it is never shown or audited in full.
            shown, secret = split_secret_settings(validate_connector(data["connector"]))
            clean["connector"] = json.dumps(shown, sort_keys=True)
            if secret:
                clean["connector_secrets"] = secret
        except SettingsInvalid as exc:
            errors.append(FieldError(exc.field, exc.message))
    return clean, errors


def _tags(raw: Any, errors: list[FieldError]) -> str:
    if not isinstance(raw, list) or not all(isinstance(tag, str) for tag in raw):
        errors.append(FieldError("tags", "tags must be a list of words such as ['drill']"))
        return "[]"
    tags = sorted({tag.strip().lower() for tag in raw if tag.strip()})
    bad = [tag for tag in tags if not TAG.match(tag)]
    if bad:
        errors.append(FieldError("tags", f"tags: {bad[0]!r} is not a tag (letters, digits, - and _)"))
    return json.dumps(tags)


def check_naming(clean: Mapping[str, Any], errors: list[FieldError]) -> None:
    """Policy 2.2.1: a handle begins with ``livuni`` unless an exception says why not."""
    key = clean.get("handle_key")
    if key and not key.startswith(HANDLE_PREFIX) and not clean.get("naming_exception"):
        errors.append(
            FieldError(
                "handle",
                f"handle must begin with '{HANDLE_PREFIX}' (policy 2.2.1); "
                "an older account may give naming_exception with the reason",
            )
        )


def raise_first(errors: list[FieldError]) -> None:
    """Turn broken rules into one 400 that names the first field and lists them all."""
    if errors:
        first = errors[0]
        raise InvalidInput(
            first.message,
            field=first.field,
            errors=[{"field": e.field, "message": e.message} for e in errors],
        )


def _conflict_if_taken(db: Database, key: str, platform: str, exclude_id: int = 0) -> None:
    taken = db.conn.execute(
        "SELECT id FROM accounts WHERE handle_key = ? AND platform = ? AND archived_at IS NULL AND id != ?",
        [key, platform, exclude_id],
    ).fetchone()
    if taken:
        raise Conflict(
            f"{key} on {platform} is registered already (account {taken[0]})",
            field="handle",
            account_id=taken[0],
        )


def _summary(clean: Mapping[str, Any]) -> dict[str, Any]:
    shown = {k: v for k, v in clean.items() if k not in ("handle_key", "connector")}
    if "connector" in clean:
        shown["connector"] = json.loads(clean["connector"])
    return shown


def insert_accounts(change: Changes, actor: User, rows: list[dict[str, Any]], vault: Vault | None = None) -> list[int]:
    """Insert cleaned accounts with their editors, connector secrets and audit entries; return their ids."""
    db = change.context.db
    secrets = [row.pop("connector_secrets", None) for row in rows]
    stamp = to_iso(change.at)
    # Ids are assigned here, not by SQLite, so a batch needs no round trip per row; the write
    # lock is held, so nobody else can take them.
    first = int(db.conn.execute("SELECT COALESCE(MAX(id), 0) + 1 FROM accounts").fetchone()[0])
    ids = list(range(first, first + len(rows)))
    db.conn.executemany(
        "INSERT INTO accounts (id, handle, handle_key, platform, unit, purpose, monitored_hours, "
        "manager_id, central, connector, naming_exception, tags, created_at, updated_at) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [
            (
                account_id, row["handle"], row["handle_key"], row["platform"], row["unit"],
                row["purpose"], row["monitored_hours"], row["manager_id"],
                int(row.get("central", False)),
                row.get("connector", '{"kind": "outbox"}'),
                row.get("naming_exception"), row.get("tags", "[]"), stamp, stamp,
            )
            for account_id, row in zip(ids, rows, strict=True)
        ],
    )  # fmt: skip
    db.conn.executemany(
        "INSERT INTO account_editors (account_id, user_id) VALUES (?, ?)",
        [
            (account_id, editor)
            for account_id, row in zip(ids, rows, strict=True)
            for editor in row.get("editor_ids", [])
        ],
    )
    for account_id, row, secret in zip(ids, rows, secrets, strict=True):
        if secret:
            store_sealed(change, vault, actor.email, account_id, json.loads(row["connector"]), secret)
        change.audit(actor.email, "account.register", f"account:{account_id}", **_summary(row))
    return ids


def register_account(ctx: Context, actor: User, data: Mapping[str, Any], vault: Vault | None = None) -> dict[str, Any]:
    """Register one account (ermc); 400 naming the field, 409 if the handle is taken (or a
    connector secret is given and ``vault`` has no key)."""
    actor.require("ermc")
    clean, errors = check_account(data, active_users_by_email(ctx.db))
    check_naming(clean, errors)
    raise_first(errors)
    try:
        with ctx.change() as change:
            _conflict_if_taken(ctx.db, clean["handle_key"], clean["platform"])
            (account_id,) = insert_accounts(change, actor, [clean], vault)
    except sqlite3.IntegrityError as exc:
        # A concurrent registration of the same handle between our check and insert.
        raise Conflict(f"{clean['handle']} on {clean['platform']} is registered already") from exc
    return get_account(ctx.db, account_id)


def _may_edit(actor: User, account: Mapping[str, Any], fields: set[str]) -> None:
    if actor.has("ermc"):
        return
    if not (actor.has("manager") and account["manager"] == actor.email):
        raise Forbidden(f"account {account['id']} is not yours to change")
    refused = sorted(fields - MANAGER_MAY_CHANGE)
    if refused:
        raise Forbidden(
            f"a manager may change {', '.join(sorted(MANAGER_MAY_CHANGE))}; ask ERMC to change {', '.join(refused)}",
            field=refused[0],
        )


def update_account(
    ctx: Context, actor: User, account_id: int, data: Mapping[str, Any], vault: Vault | None = None
) -> dict[str, Any]:
    """Change some fields of an account (ermc, or its manager for the fields they may change);
    a connector secret given with the connector (a webhook URL) is sealed with ``vault``."""
    if not data:
        raise InvalidInput("send at least one field to change", field="body")
    current = get_account(ctx.db, account_id)
    _may_edit(actor, current, set(data))
    if current["archived_at"]:
        raise Conflict(f"account {account_id} is archived", field="id")
    clean, errors = check_account(data, active_users_by_email(ctx.db), partial=True)
    merged = {
        "handle_key": handle_key(current["handle"]),
        "naming_exception": current["naming_exception"],
        **clean,
    }
    check_naming(merged, errors)
    raise_first(errors)
    editor_ids = clean.pop("editor_ids", None)
    given_secrets = clean.pop("connector_secrets", None)
    with ctx.change() as change:
        if "handle_key" in clean or "platform" in clean:
            _conflict_if_taken(
                ctx.db,
                merged["handle_key"],
                clean.get("platform", current["platform"]),
                exclude_id=account_id,
            )
        if clean:
            assignments = ", ".join(f"{column} = ?" for column in clean)
            ctx.db.conn.execute(
                f"UPDATE accounts SET {assignments}, updated_at = ? WHERE id = ?",
                [*clean.values(), to_iso(change.at), account_id],
            )
        if "connector" in clean:
            # In the same write as the change: secrets follow the connector's kind and host.
            connector = json.loads(clean["connector"])
            drop_moved_secrets(change, actor.email, account_id, connector)
            if given_secrets:
                store_sealed(change, vault, actor.email, account_id, connector, given_secrets)
        if editor_ids is not None:
            ctx.db.conn.execute("DELETE FROM account_editors WHERE account_id = ?", [account_id])
            ctx.db.conn.executemany(
                "INSERT INTO account_editors (account_id, user_id) VALUES (?, ?)",
                [(account_id, editor) for editor in editor_ids],
            )
            ctx.db.conn.execute("UPDATE accounts SET updated_at = ? WHERE id = ?", [to_iso(change.at), account_id])
        after = _account_rows(ctx.db, "a.id = ?", [account_id])[0]
        changed = {k: {"from": current[k], "to": after[k]} for k in data if current[k] != after[k]}
        change.audit(actor.email, "account.update", f"account:{account_id}", changed=changed)
    return after


def archive_account(ctx: Context, actor: User, account_id: int) -> dict[str, Any]:
    """Archive an account (ermc): it leaves the register's lists and frees its handle."""
    actor.require("ermc")
    with ctx.change() as change:
        done = ctx.db.conn.execute(
            "UPDATE accounts SET archived_at = ?, updated_at = ? WHERE id = ? AND archived_at IS NULL",
            [to_iso(change.at), to_iso(change.at), account_id],
        ).rowcount
        if not done:
            get_account(ctx.db, account_id)  # 404 when it does not exist at all
            raise Conflict(f"account {account_id} is archived already", field="id")
        # A retired account says nothing more: what was waiting to go out on it is cancelled
        # with it (a post already on the wire is left to finish and be recorded).
        cancelled = [
            row[0]
            for row in ctx.db.conn.execute(
                "UPDATE posts SET state = 'cancelled', error = 'its account was archived', updated_at = ? "
                "WHERE account_id = ? AND state IN ('pending_review', 'scheduled', 'needs_review', 'failed', "
                "'unknown') RETURNING id",
                [to_iso(change.at), account_id],
            )
        ]
        change.audit(actor.email, "account.archive", f"account:{account_id}", cancelled_posts=sorted(cancelled))
    return get_account(ctx.db, account_id)


_SELECT = (
    "SELECT a.id, a.handle, a.platform, a.unit, a.purpose, a.monitored_hours, u.email, "
    "a.central, a.connector, a.naming_exception, a.created_at, a.updated_at, a.archived_at, "
    "a.tags, EXISTS (SELECT 1 FROM account_holds h WHERE h.account_id = a.id) "
    "FROM accounts a JOIN users u ON u.id = a.manager_id"
)
_KEYS = (
    "id", "handle", "platform", "unit", "purpose", "monitored_hours", "manager",
    "central", "connector", "naming_exception", "created_at", "updated_at", "archived_at",
    "tags", "held",
)  # fmt: skip


def _account_rows(db: Database, where: str, params: list[Any], limit: int | None = None) -> list[dict[str, Any]]:
    sql = f"{_SELECT} WHERE {where} ORDER BY a.id" + (" LIMIT ?" if limit else "")
    rows = db.conn.execute(sql, [*params, limit] if limit else params).fetchall()
    accounts = [dict(zip(_KEYS, row, strict=True)) for row in rows]
    editors: dict[int, list[str]] = {account["id"]: [] for account in accounts}
    if accounts:
        marks = ",".join("?" * len(accounts))
        for account_id, email in db.conn.execute(
            f"SELECT e.account_id, u.email FROM account_editors e JOIN users u ON u.id = e.user_id "
            f"WHERE e.account_id IN ({marks}) ORDER BY u.email",
            list(editors),
        ):
            editors[account_id].append(email)
    for account in accounts:
        account["central"] = bool(account["central"])
        account["held"] = bool(account["held"])
        account["tags"] = json.loads(account["tags"])
        # Masked here too, for a URL stored in the settings by a release before it was a secret.
        account["connector"] = masked(json.loads(account["connector"]))
        account["editors"] = editors[account["id"]]
    return accounts


def get_account(db: Database, account_id: int) -> dict[str, Any]:
    """One account, archived or not; 404 if there is none."""
    found = _account_rows(db, "a.id = ?", [account_id])
    if not found:
        raise NotFound(f"no account {account_id}", field="id")
    return found[0]


def list_accounts(
    db: Database,
    *,
    platform: str | None = None,
    manager: str | None = None,
    central: bool | None = None,
    unit: str | None = None,
    q: str | None = None,
    archived: bool = False,
    held: bool | None = None,
    tag: str | None = None,
    limit: int | None = None,
    cursor: str | None = None,
) -> dict[str, Any]:
    """A page of the register, filtered, in id order."""
    size = check_limit(limit)
    where = ["a.id > ?", "a.archived_at IS NOT NULL" if archived else "a.archived_at IS NULL"]
    params: list[Any] = [decode_cursor(cursor)]
    if platform is not None:
        if platform not in PLATFORMS:
            raise InvalidInput(f"platform must be one of {', '.join(PLATFORMS)}", field="platform")
        where.append("a.platform = ?")
        params.append(platform)
    if manager:
        where.append("u.email = ?")
        params.append(manager.strip().lower())
    if central is not None:
        where.append("a.central = ?")
        params.append(int(central))
    if unit:
        where.append("a.unit = ?")
        params.append(unit)
    if held is not None:
        exists = "EXISTS (SELECT 1 FROM account_holds h WHERE h.account_id = a.id)"
        where.append(exists if held else f"NOT {exists}")
    if tag:
        where.append("EXISTS (SELECT 1 FROM json_each(a.tags) t WHERE t.value = ?)")
        params.append(tag.strip().lower())
    if q:
        where.append("(a.handle_key LIKE ? ESCAPE '\\' OR a.unit LIKE ? ESCAPE '\\')")
        pattern = "%" + q.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        params += [pattern + "%", pattern + "%"]
    items = _account_rows(db, " AND ".join(where), params, limit=size + 1)
    return page(items, size)
