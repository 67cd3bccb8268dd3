"""Connector tokens: stored encrypted per account and name, never shown again, and usable only
for the connector kind and host they were deposited for (lockdown.register.connector_binding)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from sqlite_utils import Database

from connectors.base import url_host
from connectors.registry import connector_class
from lockdown.crypto import Vault
from lockdown.errors import Conflict, Forbidden, InvalidInput
from lockdown.people.users import User
from lockdown.register.accounts import get_account
from lockdown.register.connector_binding import destination, secret_binding, store_sealed
from lockdown.store.context import Context


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
    _check_secret_urls(account["connector"], values)
    kind, host = destination(account["connector"])
    with ctx.change() as change:
        # Checked in the write itself: a connector changed since we read it would receive
        # secrets sealed for somewhere else.
        now = ctx.db.conn.execute("SELECT connector FROM accounts WHERE id = ?", [account_id]).fetchone()
        if now is None or destination(json.loads(now[0])) != (kind, host):
            raise Conflict(
                f"account {account_id}'s connector changed while the secrets were sent; send them again",
                field="connector",
            )
        clean = {name: value.strip() for name, value in values.items()}
        return store_sealed(change, vault, actor.email, account_id, account["connector"], clean)


def _check_secret_urls(connector: Mapping[str, Any], values: Mapping[str, Any]) -> None:
    """A secret that is a URL (a webhook's) must be one, for the host the connector names:
    moving it elsewhere is a change of connector settings, which is ERMC's."""
    declared = {s.name: s for s in connector_class(connector["kind"]).settings if s.secret and s.url}
    _, host = destination(connector)
    for name, value in values.items():
        if name not in declared:
            continue
        parts = urlsplit(value.strip())
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise InvalidInput(f"{name} must be an http(s) URL with a host", field=name)
        if url_host(value.strip()) != host:
            raise InvalidInput(
                f"{name} must be on {host}, the host of connector.{name}; ERMC changes the connector to move it",
                field=name,
            )


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
