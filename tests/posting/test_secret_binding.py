"""Stored connector secrets follow the connector settings (#12, finding 3): a token is bound to
the connector kind and host it was deposited for. ERMC changing a Mastodon account's
``base_url`` to another host drops the token (audited, the manager told), so the next post
cannot carry it there; a token whose account was pointed elsewhere behind the service's back
does not decrypt for the new host either."""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient

from lockdown.crypto import Vault, binding
from lockdown.posting import posts
from lockdown.posting.dispatch import Dispatcher
from lockdown.settings import Settings
from lockdown.store import audit
from lockdown.store.context import Context
from lockdown.store.migrations import migrate
from lockdown.vault.rotation import rotate_key
from tests.conftest import LOOPBACK, SECRET, VAULT_KEY, Login
from tests.posting.test_outbound import Platform
from tests.store.old_database import copy_rows, database_before

START = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
HANDLES = itertools.count(1)


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings.from_env(
        {
            "LOCKDOWN_DB": str(tmp_path / "lockdown.db"),
            "LOCKDOWN_SECRET_KEY": SECRET,
            "LOCKDOWN_VAULT_KEY": VAULT_KEY,
            "LOCKDOWN_OUTBOUND_ALLOW": LOOPBACK,
        }
    )


@pytest.fixture
def instance() -> Iterator[Platform]:
    server = Platform()
    yield server
    server.close()


@pytest.fixture
def elsewhere() -> Iterator[Platform]:
    """Another host: 127.0.0.2 is loopback too, but not the host the token was deposited for."""
    server = Platform(host="127.0.0.2")
    yield server
    server.close()


@pytest.fixture
def account(client: FlaskClient, ermc: Login, manager: Login, instance: Platform) -> dict[str, Any]:
    created = client.post(
        "/api/v1/accounts",
        json={
            "handle": f"@livuni_toots{next(HANDLES)}",
            "platform": "mastodon",
            "unit": "Press office",
            "purpose": "News",
            "monitored_hours": "24/7",
            "manager": manager.email,
            "connector": {"kind": "mastodon", "base_url": f"http://127.0.0.1:{instance.port}"},
        },
        headers=ermc.headers,
    )
    assert created.status_code == 201, created.json
    deposited = client.put(
        f"/api/v1/accounts/{created.json['id']}/connector-secrets",
        json={"access_token": "manager-token-123"},
        headers=manager.headers,
    )
    assert deposited.status_code == 200, deposited.json
    body: dict[str, Any] = created.json
    return body


@pytest.fixture
def send(settings: Settings, ctx: Context, ermc: Login, manager: Login) -> Callable[[int], dict[str, Any]]:
    """Approve a post on the account and run the dispatcher once; the post afterwards."""

    def run(account_id: int) -> dict[str, Any]:
        ctx.clock = lambda: START - timedelta(hours=1)
        post = posts.create_post(
            ctx, manager.user, {"account_id": account_id, "body": "Open day", "scheduled_at": START.isoformat()}
        )
        posts.approve_post(ctx, ermc.user, post["id"])
        worker = Dispatcher(settings, audit.audit_key(SECRET.encode()), clock=lambda: START)
        try:
            worker.tick()
        finally:
            worker.close()
        return posts.get_post(ctx.db, post["id"])

    return run


def test_pointing_the_account_at_another_host_drops_its_token_and_tells_the_manager(
    client: FlaskClient,
    ctx: Context,
    ermc: Login,
    manager: Login,
    account: dict[str, Any],
    elsewhere: Platform,
    send: Callable[[int], dict[str, Any]],
) -> None:
    moved = client.patch(
        f"/api/v1/accounts/{account['id']}",
        json={"connector": {"kind": "mastodon", "base_url": f"http://127.0.0.2:{elsewhere.port}"}},
        headers=ermc.headers,
    )
    assert moved.status_code == 200, moved.json

    post = send(account["id"])

    assert elsewhere.calls == [], "the manager's token went to the new host"
    assert post["state"] == "failed"
    assert "access_token" in post["error"]
    status = client.get(f"/api/v1/accounts/{account['id']}/connector-secrets", headers=manager.headers).json
    assert status["secrets"] == [{"name": "access_token", "set": False, "updated_at": None}]
    (entry,) = [e for e in audit.list_entries(ctx.db, limit=1000) if e["action"] == "connector.secrets_dropped"]
    assert entry["subject"] == f"account:{account['id']}"
    assert entry["details"]["names"] == ["access_token"]
    assert entry["details"]["from"] == {"kind": "mastodon", "host": "127.0.0.1:" + str(account_port(account))}
    notice = ctx.db.conn.execute(
        "SELECT recipient, subject, body FROM notifications WHERE event = 'connector_secrets_dropped'"
    ).fetchall()
    assert [row[0] for row in notice] == [manager.email]
    assert account["handle"] in notice[0][1]
    assert "deposit" in notice[0][2]


def account_port(account: dict[str, Any]) -> int:
    return int(account["connector"]["base_url"].rsplit(":", 1)[1])


def test_a_token_deposited_again_for_the_new_host_goes_there(
    client: FlaskClient,
    ermc: Login,
    manager: Login,
    account: dict[str, Any],
    elsewhere: Platform,
    send: Callable[[int], dict[str, Any]],
) -> None:
    url = f"/api/v1/accounts/{account['id']}"
    client.patch(url, json={"connector": {"kind": "mastodon", "base_url": f"http://127.0.0.2:{elsewhere.port}"}},
                 headers=ermc.headers)  # fmt: skip
    again = client.put(f"{url}/connector-secrets", json={"access_token": "new-host-token"}, headers=manager.headers)
    assert again.status_code == 200

    assert send(account["id"])["state"] == "published"
    assert [call["authorization"] for call in elsewhere.calls] == ["Bearer new-host-token"]


def test_changes_that_keep_kind_and_host_keep_the_token(
    client: FlaskClient,
    ermc: Login,
    account: dict[str, Any],
    instance: Platform,
    send: Callable[[int], dict[str, Any]],
) -> None:
    url = f"/api/v1/accounts/{account['id']}"
    same_host = {"kind": "mastodon", "base_url": f"http://127.0.0.1:{instance.port}/"}
    assert (
        client.patch(url, json={"purpose": "Other news", "connector": same_host}, headers=ermc.headers).status_code
        == 200
    )

    assert send(account["id"])["state"] == "published"
    assert [call["authorization"] for call in instance.calls] == ["Bearer manager-token-123"]


def test_changing_the_kind_drops_the_secrets(
    client: FlaskClient, ctx: Context, ermc: Login, account: dict[str, Any]
) -> None:
    changed = client.patch(f"/api/v1/accounts/{account['id']}", json={"connector": {"kind": "outbox"}},
                           headers=ermc.headers)  # fmt: skip
    assert changed.status_code == 200
    assert ctx.db.conn.execute("SELECT COUNT(*) FROM connector_secrets").fetchone()[0] == 0


def test_a_token_does_not_decrypt_for_a_host_it_was_not_deposited_for(
    ctx: Context, account: dict[str, Any], elsewhere: Platform, send: Callable[[int], dict[str, Any]]
) -> None:
    # Behind the service's back (a bug, a hand edit, a restored copy): the row stays, the host
    # changes, and so does the host recorded beside the secret, so only the sealing can refuse.
    moved = json.dumps({"kind": "mastodon", "base_url": f"http://127.0.0.2:{elsewhere.port}"})
    with ctx.change() as change:
        ctx.db.conn.execute("UPDATE accounts SET connector = ? WHERE id = ?", [moved, account["id"]])
        ctx.db.conn.execute(
            "UPDATE connector_secrets SET host = ? WHERE account_id = ?",
            [f"127.0.0.2:{elsewhere.port}", account["id"]],
        )
        change.audit("test", "test.move", f"account:{account['id']}")

    post = send(account["id"])

    assert elsewhere.calls == []
    assert post["state"] == "failed"
    assert "does not authenticate" in post["error"], "the AES-GCM associated data binds the host"


def test_a_token_sealed_before_the_binding_still_works_for_its_host_and_rotation_binds_it(
    settings: Settings, ctx: Context, account: dict[str, Any], instance: Platform, send: Callable[[int], dict[str, Any]]
) -> None:
    # As m021_outbound_secret_binding leaves a value sealed by an older release: the old
    # associated data, the account's destination recorded beside it, bound = 0.
    vault = Vault(settings.vault_keys)
    old = vault.encrypt("old-token", binding("connector-secret", account["id"], "access_token"))
    with ctx.change() as change:
        ctx.db.conn.execute(
            "UPDATE connector_secrets SET ciphertext = ?, bound = 0 WHERE account_id = ?", [old, account["id"]]
        )
        change.audit("test", "test.legacy", f"account:{account['id']}")

    assert rotate_key(ctx, vault)["connector_secrets"] == 1
    assert ctx.db.conn.execute("SELECT bound FROM connector_secrets").fetchone() == (1,)
    assert send(account["id"])["state"] == "published"
    assert [call["authorization"] for call in instance.calls] == ["Bearer old-token"]


def test_the_upgrade_records_where_each_older_secret_was_deposited_for(
    ctx: Context, account: dict[str, Any], tmp_path: Path
) -> None:
    # The database as the release before left it (no binding columns), holding this account,
    # its manager and its secret; then the upgrade runs every migration from m021 on, in order.
    old = database_before(tmp_path / "old.db", "m021")
    copy_rows(ctx.db, old, "users", "id = (SELECT manager_id FROM accounts WHERE id = ?)", account["id"])
    copy_rows(ctx.db, old, "accounts", "id = ?", account["id"])
    assert copy_rows(ctx.db, old, "connector_secrets", "account_id = ?", account["id"]) == 1

    assert migrate(old)[0] == "m021_outbound_secret_binding"

    row = old.conn.execute("SELECT kind, host, bound FROM connector_secrets WHERE account_id = ?", [account["id"]])
    assert row.fetchone() == ("mastodon", f"127.0.0.1:{account_port(account)}", 0)
