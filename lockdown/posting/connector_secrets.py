"""Connector tokens: stored encrypted per account and name, never shown again, and usable only
for the connector kind and host they were deposited for (lockdown.register.connector_binding)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from sqlite_utils import Database

from connectors.registry import connector_class
from lockdown.crypto import Vault, VaultError
from lockdown.errors import Conflict, Forbidden, InvalidInput
from lockdown.people.users import User
from lockdown.register.accounts import get_account
from lockdown.register.connector_binding import destination, secret_binding
from lockdown.store.context import Context
from lockdown.timeutil import to_iso


def store_secrets(ctx: Context, vault: Vault, actor: User, account_id: int, values: Mapping[str, Any]) -> list[str]:
    """Encrypt and store the named secrets of an account's connector (its manager or ermc),
    bound to the connector's kind and host as they are now."""
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
    kind, host = destination(account["connector"])
    try:
        sealed = {
            name: vault.encrypt(value.strip(), secret_binding(account_id, name, kind, host))
            for name, value in values.items()
        }
    except VaultError as exc:
        raise Conflict(str(exc), field="vault") from None
    with ctx.change() as change:
        # Checked in the write itself: a connector changed since we read it would receive
        # secrets sealed for somewhere else.
        now = ctx.db.conn.execute("SELECT connector FROM accounts WHERE id = ?", [account_id]).fetchone()
        if now is None or destination(_json(now[0])) != (kind, host):
            raise Conflict(
                f"account {account_id}'s connector changed while the secrets were sent; send them again",
                field="connector",
            )
        ctx.db.conn.executemany(
            "INSERT INTO connector_secrets (account_id, name, ciphertext, updated_at, kind, host, bound) "
            "VALUES (?, ?, ?, ?, ?, ?, 1) "
            "ON CONFLICT (account_id, name) DO UPDATE SET ciphertext = excluded.ciphertext, "
            "updated_at = excluded.updated_at, kind = excluded.kind, host = excluded.host, bound = 1",
            [(account_id, name, text, to_iso(change.at), kind, host) for name, text in sealed.items()],
        )
        change.audit(
            actor.email, "connector.secrets_set", f"account:{account_id}", names=sorted(sealed), kind=kind, host=host
        )
    return sorted(sealed)


def secret_status(db: Database, account_id: int) -> dict[str, Any]:
    """Which of the connector's secrets are set for it as it is now, and when (never their values)."""
    account = get_account(db, account_id)
    kind, host = destination(account["connector"])
    stored = dict(
        db.conn.execute(
            "SELECT name, updated_at FROM connector_secrets WHERE account_id = ? AND kind IS ? AND host IS ?",
            [account_id, kind, host],
        ).fetchall()
    )
    return {
        "kind": account["connector"]["kind"],
        "secrets": [
            {"name": name, "set": name in stored, "updated_at": stored.get(name)}
            for name in connector_class(account["connector"]["kind"]).secrets
        ],
    }


def load_secrets(db: Database, vault: Vault, account_id: int, connector: Mapping[str, Any]) -> dict[str, str]:
    """The decrypted secrets of an account, for one send through ``connector`` (the settings,
    with ``kind``, that the connector is built with): only those deposited for its kind and host."""
    kind, host = destination(connector)
    return {
        name: vault.decrypt(text, secret_binding(account_id, name, kind, host, bound=bool(bound)))
        for name, text, bound in db.conn.execute(
            "SELECT name, ciphertext, bound FROM connector_secrets WHERE account_id = ? AND kind IS ? AND host IS ?",
            [account_id, kind, host],
        )
    }


def _json(text: str) -> dict[str, Any]:
    value = json.loads(text)
    return value if isinstance(value, dict) else {}
