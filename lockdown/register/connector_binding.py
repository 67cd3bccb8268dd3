"""Where an account's stored connector secrets may go (#12): each is bound to the connector
kind and host it was deposited for, in its AES-GCM associated data and in its row. A change of
either drops the secrets in the same transaction, audited, and the account's manager is told to
deposit them again; a secret is never handed to a connector built for anywhere else."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from connectors.registry import destination
from lockdown.crypto import Vault, VaultError, binding
from lockdown.errors import Conflict
from lockdown.notify.outbox import Notice, queue
from lockdown.store.context import Changes
from lockdown.timeutil import to_iso

__all__ = ["destination", "drop_moved_secrets", "secret_binding", "store_sealed"]


def secret_binding(account_id: int, name: str, kind: str, host: str, *, bound: bool = True) -> bytes:
    """The associated data of one stored secret. ``bound=False`` reads a value sealed before
    secrets were bound to kind and host (its row still records both, checked before use)."""
    if not bound:
        return binding("connector-secret", account_id, name)
    return binding("connector-secret", account_id, name, kind, host)


def store_sealed(
    change: Changes,
    vault: Vault | None,
    actor: str,
    account_id: int,
    connector: Mapping[str, Any],
    values: Mapping[str, str],
) -> list[str]:
    """Inside a write: seal each value for the connector's kind and host and store it (a new
    value replaces the old), audited by name only. 409 when no vault key is configured."""
    kind, host = destination(connector)
    if vault is None:
        raise Conflict("no vault to keep connector secrets in", field="vault")
    try:
        sealed = {
            name: vault.encrypt(value, secret_binding(account_id, name, kind, host)) for name, value in values.items()
        }
    except VaultError as exc:
        raise Conflict(str(exc), field="vault") from None
    change.context.db.conn.executemany(
        "INSERT INTO connector_secrets (account_id, name, ciphertext, updated_at, kind, host, bound) "
        "VALUES (?, ?, ?, ?, ?, ?, 1) "
        "ON CONFLICT (account_id, name) DO UPDATE SET ciphertext = excluded.ciphertext, "
        "updated_at = excluded.updated_at, kind = excluded.kind, host = excluded.host, bound = 1",
        [(account_id, name, text, to_iso(change.at), kind, host) for name, text in sealed.items()],
    )
    change.audit(actor, "connector.secrets_set", f"account:{account_id}", names=sorted(sealed), kind=kind, host=host)
    return sorted(sealed)


def drop_moved_secrets(change: Changes, actor: str, account_id: int, connector: Mapping[str, Any]) -> list[str]:
    """Inside the write that changes an account's connector: delete every secret that was not
    deposited for its new kind and host, audit it, and queue a notice to the account's manager.
    Returns the names dropped."""
    kind, host = destination(connector)
    db = change.context.db
    rows = db.conn.execute(
        "DELETE FROM connector_secrets WHERE account_id = ? AND NOT (kind IS ? AND host IS ?) "
        "RETURNING name, kind, host",
        [account_id, kind, host],
    ).fetchall()
    if not rows:
        return []
    names = sorted(row[0] for row in rows)
    was = {"kind": rows[0][1], "host": rows[0][2]}
    change.audit(
        actor, "connector.secrets_dropped", f"account:{account_id}",
        names=names, **{"from": was, "to": {"kind": kind, "host": host}},
    )  # fmt: skip
    _tell_the_manager(change, actor, account_id, names, was, {"kind": kind, "host": host})
    return names


def _tell_the_manager(
    change: Changes, actor: str, account_id: int, names: list[str], was: dict[str, Any], now: dict[str, Any]
) -> None:
    db = change.context.db
    handle, platform, manager_id, email, name = db.conn.execute(
        "SELECT a.handle, a.platform, u.id, u.email, u.name FROM accounts a JOIN users u ON u.id = a.manager_id "
        "WHERE a.id = ?",
        [account_id],
    ).fetchone()
    stamp = to_iso(change.at)
    where = f"{now['kind']} at {now['host']}" if now["host"] else now["kind"]
    body = (
        f"Dear {name},\n\n{actor} changed the connector of {handle} ({platform}) from {was['kind']} at "
        f"{was['host'] or '-'} to {where} at {stamp}.\n\nThe connector secrets deposited for the old "
        f"connector ({', '.join(names)}) were deleted, so that they are never sent anywhere they were not "
        "meant for. If the change is right, deposit them again for the new connector "
        f"(PUT /api/v1/accounts/{account_id}/connector-secrets); until then nothing is posted on the "
        "account. If you did not expect this change, tell ERMC.\n"
    )
    subject = f"Lockdown: deposit the connector secrets of {handle} again"
    queue(change, [Notice("connector_secrets_dropped", email, subject, body, manager_id)])
