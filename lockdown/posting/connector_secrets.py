"""Connector tokens: stored encrypted per account and name, never shown again."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlite_utils import Database

from connectors.registry import connector_class
from lockdown.crypto import Vault, VaultError, binding
from lockdown.errors import Conflict, Forbidden, InvalidInput
from lockdown.people.users import User
from lockdown.register.accounts import get_account
from lockdown.store.context import Context
from lockdown.timeutil import to_iso


def _binding(account_id: int, name: str) -> bytes:
    return binding("connector-secret", account_id, name)


def store_secrets(ctx: Context, vault: Vault, actor: User, account_id: int, values: Mapping[str, Any]) -> list[str]:
    """Encrypt and store the named secrets of an account's connector (its manager or ermc)."""
    account = get_account(ctx.db, account_id)
    if not (actor.has("ermc") or (actor.has("manager") and account["manager"] == actor.email)):
        raise Forbidden(f"only account {account_id}'s manager or ERMC may set its connector secrets")
    kind = account["connector"]["kind"]
    wanted = connector_class(kind).secrets
    if not values:
        raise InvalidInput(f"send the secrets of the {kind} connector: {', '.join(wanted) or 'none'}", field="body")
    for name, value in values.items():
        if name not in wanted:
            raise InvalidInput(
                f"{name} is not a secret of the {kind} connector ({', '.join(wanted) or 'it has none'})",
                field=name,
            )
        if not isinstance(value, str) or not value.strip():
            raise InvalidInput(f"{name} must be non-blank text", field=name)
    try:
        sealed = {name: vault.encrypt(value.strip(), _binding(account_id, name)) for name, value in values.items()}
    except VaultError as exc:
        raise Conflict(str(exc), field="vault") from None
    with ctx.change() as change:
        ctx.db.conn.executemany(
            "INSERT INTO connector_secrets (account_id, name, ciphertext, updated_at) "
            "VALUES (?, ?, ?, ?) "
            "ON CONFLICT (account_id, name) DO UPDATE SET ciphertext = excluded.ciphertext, "
            "updated_at = excluded.updated_at",
            [(account_id, name, text, to_iso(change.at)) for name, text in sealed.items()],
        )
        change.audit(actor.email, "connector.secrets_set", f"account:{account_id}", names=sorted(sealed))
    return sorted(sealed)


def secret_status(db: Database, account_id: int) -> dict[str, Any]:
    """Which of the connector's secrets are set, and when (never their values)."""
    account = get_account(db, account_id)
    kind = account["connector"]["kind"]
    stored = dict(
        db.conn.execute("SELECT name, updated_at FROM connector_secrets WHERE account_id = ?", [account_id]).fetchall()
    )
    return {
        "kind": kind,
        "secrets": [
            {"name": name, "set": name in stored, "updated_at": stored.get(name)}
            for name in connector_class(kind).secrets
        ],
    }


def load_secrets(db: Database, vault: Vault, account_id: int) -> dict[str, str]:
    """The decrypted secrets of an account's connector, for one send."""
    return {
        name: vault.decrypt(text, _binding(account_id, name))
        for name, text in db.conn.execute(
            "SELECT name, ciphertext FROM connector_secrets WHERE account_id = ?", [account_id]
        )
    }
