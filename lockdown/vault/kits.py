"""Sealed break-glass kits in the database: sealing one (ERMC, audited, with the credential
versions it holds), listing them and whether each is stale, and, when the service is back after
one was opened, marking every password it held for rotation. The file and its shares are made by
``kit_file``; staleness is marked by ``kit_staleness`` in the deposit's transaction."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import Any

from lockdown.crypto import Vault, VaultError
from lockdown.errors import Conflict, InvalidInput, NotFound
from lockdown.people.users import User, normalise_email, user_by_email
from lockdown.store.context import Changes, Context
from lockdown.timeutil import to_iso
from lockdown.vault.credentials import _current_version, _open, require_rotation
from lockdown.vault.kit_file import SealedKit, check_threshold, new_kit_id
from lockdown.vault.kit_file import seal as seal_file


def _emails(values: Sequence[str], field: str) -> list[str]:
    """Normalised, in the order given, refused (naming the field) if one is repeated."""
    emails: list[str] = []
    for value in values:
        try:
            email = normalise_email(value)
        except InvalidInput as exc:
            raise InvalidInput(f"{field}: {exc.message}", field=field) from None
        if email in emails:
            raise InvalidInput(f"{field}: {email} is named twice", field=field)
        emails.append(email)
    return emails


def _check_holder(change: Changes, email: str) -> None:
    """A holder is an enabled press officer: the people who would open the kit in an incident."""
    try:
        holder = user_by_email(change.context.db, email)
    except NotFound:
        raise InvalidInput(f"holder: there is no user {email}", field="holder") from None
    if holder.disabled_at:
        raise InvalidInput(f"holder: {email} is disabled", field="holder")
    if not holder.has("press"):
        raise InvalidInput(f"holder: {email} is not a press officer", field="holder")


def _current_credentials(change: Changes, vault: Vault) -> list[dict[str, Any]]:
    """Every live account's current password, decrypted (archived accounts are not in a kit)."""
    rows = change.context.db.conn.execute(
        "SELECT c.account_id, a.handle, a.platform, c.version, c.username, c.password, c.totp_secret, c.notes, "
        "c.deposited_at FROM credentials c JOIN accounts a ON a.id = c.account_id "
        "WHERE a.archived_at IS NULL "
        "AND c.version = (SELECT MAX(version) FROM credentials x WHERE x.account_id = c.account_id) "
        "ORDER BY c.account_id"
    ).fetchall()
    found = []
    for account_id, handle, platform, version, *sealed, deposited_at in rows:
        try:
            plain = {
                field: _open(vault, account_id, version, field, value)
                for field, value in zip(("username", "password", "totp_secret", "notes"), sealed, strict=True)
            }
        except VaultError as exc:
            raise Conflict(f"the password of {handle} cannot be decrypted: {exc}", field="vault") from None
        found.append(
            {"account_id": account_id, "handle": handle, "platform": platform, "version": version,
             "deposited_at": deposited_at, **plain}
        )  # fmt: skip
    return found


def seal(
    ctx: Context, vault: Vault, actor: User, *, holders: Sequence[str], threshold: int, shares: int,
    path: str | None, deliver: Callable[[SealedKit], None],
) -> SealedKit:  # fmt: skip
    """Seal every current password into a new kit (ERMC), one share per holder. ``deliver``
    writes the kit and its shares out inside the transaction that records it, so a kit that
    could not be written is not recorded (and one that could not be recorded is the caller's to
    remove)."""
    actor.require("ermc")
    emails = _emails(holders, "holder")
    if not emails:
        raise InvalidInput("holder: name at least two holders, one share each", field="holder")
    if shares != len(emails):
        raise InvalidInput(
            f"shares is {shares} but {len(emails)} holders were named: one share per holder", field="shares"
        )
    check_threshold(threshold, emails)
    with ctx.change() as change:
        for email in emails:
            _check_holder(change, email)
        credentials = _current_credentials(change, vault)
        if not credentials:
            raise Conflict("there is no deposited password to seal", field="credentials")
        kit = seal_file(new_kit_id(), to_iso(change.at), actor.email, emails, threshold, credentials)
        ctx.db.conn.execute(
            "INSERT INTO kits (id, sealed_at, sealed_by, threshold, holders, path) VALUES (?, ?, ?, ?, ?, ?)",
            [kit.kit_id, to_iso(change.at), actor.email, threshold, json.dumps(emails), path],
        )
        versions = {c["account_id"]: c["version"] for c in credentials}
        ctx.db.conn.executemany(
            "INSERT INTO kit_credentials (kit_id, account_id, version) VALUES (?, ?, ?)",
            [(kit.kit_id, account_id, version) for account_id, version in versions.items()],
        )
        change.audit(
            actor.email, "kit.seal", f"kit:{kit.kit_id}",
            holders=emails, threshold=threshold, versions={str(a): v for a, v in versions.items()}, path=path,
        )  # fmt: skip
        deliver(kit)
    return kit


def list_kits(ctx: Context) -> list[dict[str, Any]]:
    """Every kit sealed, newest first, with whether it is stale or was used."""
    rows = ctx.db.conn.execute(
        "SELECT k.id, k.sealed_at, k.sealed_by, k.threshold, k.holders, k.path, k.stale_at, k.stale_reason, "
        "k.used_at, k.opened_by, (SELECT COUNT(*) FROM kit_credentials c WHERE c.kit_id = k.id) "
        "FROM kits k ORDER BY k.sealed_at DESC, k.id"
    ).fetchall()
    keys = ("id", "sealed_at", "sealed_by", "threshold", "holders", "path", "stale_at", "stale_reason", "used_at",
            "opened_by", "accounts")  # fmt: skip
    kits = [dict(zip(keys, row, strict=True)) for row in rows]
    for kit in kits:
        kit["holders"] = json.loads(kit["holders"])
        kit["opened_by"] = json.loads(kit["opened_by"]) if kit["opened_by"] else None
        kit["stale"] = kit["stale_at"] is not None
    return kits


def mark_used(ctx: Context, actor: User, kit_id: str, opened_by: Sequence[str]) -> dict[str, Any]:
    """A kit was opened while the service was down (ERMC records it once it is back): every
    password it held that is still current is marked for rotation, its openers are recorded as
    knowing them, and who opened it is audited. A password already replaced since the kit was
    sealed is not the one the kit exposed, and is left alone (and listed)."""
    actor.require("ermc")
    openers = _emails(opened_by, "opened_by")
    if not openers:
        raise InvalidInput("opened_by: name who opened the kit", field="opened_by")
    with ctx.change() as change:
        db = ctx.db
        row = db.conn.execute("SELECT used_at, opened_by FROM kits WHERE id = ?", [kit_id]).fetchone()
        if row is None:
            raise NotFound(f"no kit {kit_id} was sealed here", field="kit")
        if row[0] is not None:
            raise Conflict(f"kit {kit_id} was marked used already, at {row[0]} (opened by {row[1]})", field="kit")
        people = []
        for email in openers:
            try:
                people.append(user_by_email(db, email))
            except NotFound:
                raise InvalidInput(f"opened_by: there is no user {email}", field="opened_by") from None
        marked, replaced = [], []
        held = db.conn.execute(
            "SELECT account_id, version FROM kit_credentials WHERE kit_id = ? ORDER BY account_id", [kit_id]
        ).fetchall()
        stamp = to_iso(change.at)
        for account_id, version in held:
            if _current_version(db, account_id) != version:
                replaced.append(account_id)
                continue
            db.conn.executemany(
                "INSERT OR IGNORE INTO credential_knowers (account_id, version, user_id, how, at) "
                "VALUES (?, ?, ?, ?, ?)",
                [(account_id, version, person.id, "kit", stamp) for person in people],
            )
            require_rotation(change, account_id, "kit_opened", kit_id=kit_id, opened_by=openers)
            marked.append(account_id)
        db.conn.execute("UPDATE kits SET used_at = ?, opened_by = ? WHERE id = ?", [stamp, json.dumps(openers), kit_id])
        change.audit(
            actor.email, "kit.used", f"kit:{kit_id}", opened_by=openers, rotation_required=marked,
            replaced_since_sealed=replaced,
        )  # fmt: skip
    return {"kit_id": kit_id, "opened_by": openers, "rotation_required": marked, "replaced_since_sealed": replaced}
