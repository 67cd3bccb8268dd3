"""AES-GCM at rest: values bound to their row and field, keys named, never stored in clear."""

from __future__ import annotations

import base64
from typing import Any

import pytest
from flask.testing import FlaskClient

from lockdown.app import create_app
from lockdown.crypto import Vault, VaultError, binding, key_id
from lockdown.posting.connector_secrets import load_secrets
from lockdown.settings import Settings
from tests.conftest import SECRET

KEY_A, KEY_B = b"A" * 32, b"B" * 32


def test_a_value_round_trips_and_each_encryption_differs() -> None:
    vault = Vault([KEY_A])
    one, two = vault.encrypt("s3cret", binding("x", 1)), vault.encrypt("s3cret", binding("x", 1))
    assert one != two, "a fresh nonce every time"
    assert one.startswith(key_id(KEY_A) + ":")
    assert "s3cret" not in one
    assert vault.decrypt(one, binding("x", 1)) == "s3cret"


def test_a_value_moved_to_another_row_or_field_does_not_decrypt() -> None:
    vault = Vault([KEY_A])
    sealed = vault.encrypt("s3cret", binding("connector-secret", 1, "access_token"))
    for elsewhere in (
        binding("connector-secret", 2, "access_token"),
        binding("connector-secret", 1, "other"),
    ):
        with pytest.raises(VaultError, match="does not authenticate"):
            vault.decrypt(sealed, elsewhere)


def test_an_altered_value_does_not_decrypt() -> None:
    vault = Vault([KEY_A])
    kid, _, payload = vault.encrypt("s3cret", b"x").partition(":")
    raw = bytearray(base64.b64decode(payload))
    raw[-1] ^= 1
    with pytest.raises(VaultError):
        vault.decrypt(f"{kid}:{base64.b64encode(bytes(raw)).decode()}", b"x")


def test_the_first_key_encrypts_and_every_key_decrypts() -> None:
    old = Vault([KEY_A]).encrypt("s3cret", b"x")
    rotated = Vault([KEY_B, KEY_A])
    assert rotated.decrypt(old, b"x") == "s3cret"
    assert rotated.needs_rekey(old)
    assert rotated.encrypt("new", b"x").startswith(key_id(KEY_B))
    with pytest.raises(VaultError, match="not configured"):
        Vault([KEY_B]).decrypt(old, b"x")
    with pytest.raises(VaultError, match="LOCKDOWN_VAULT_KEY"):
        Vault([]).encrypt("s3cret", b"x")


@pytest.fixture
def vault_client(tmp_path: Any) -> FlaskClient:
    key = base64.b64encode(KEY_A).decode()
    settings = Settings.from_env(
        {
            "LOCKDOWN_DB": str(tmp_path / "v.db"),
            "LOCKDOWN_SECRET_KEY": SECRET,
            "LOCKDOWN_VAULT_KEY": key,
        }
    )
    return create_app(settings).test_client()


def test_connector_secrets_are_stored_encrypted_and_never_shown(vault_client: FlaskClient, tmp_path: Any) -> None:
    # This app has a vault key, so it has a database of its own, and users made here.
    from lockdown.people.users import add_user
    from lockdown.store import audit
    from lockdown.store.context import Context
    from lockdown.store.db import connect

    db = connect(tmp_path / "v.db")
    ctx = Context(db, audit.audit_key(SECRET.encode()))
    _, ermc = add_user(ctx, "t", name="E", email="e@livuni.ac.uk", roles=["ermc"])
    _, manager = add_user(ctx, "t", name="M", email="m@livuni.ac.uk", roles=["manager"])
    _, other = add_user(ctx, "t", name="O", email="o@livuni.ac.uk", roles=["manager"])
    headers = {"Authorization": f"Bearer {ermc}"}
    account = vault_client.post(
        "/api/v1/accounts",
        json={
            "handle": "@livuni_toots",
            "platform": "mastodon",
            "unit": "U",
            "purpose": "P",
            "monitored_hours": "24/7",
            "manager": "m@livuni.ac.uk",
            "connector": {"kind": "mastodon", "base_url": "https://mastodon.example"},
        },
        headers=headers,
    ).json
    url = f"/api/v1/accounts/{account['id']}/connector-secrets"
    before = vault_client.get(url, headers=headers).json
    assert before == {
        "kind": "mastodon",
        "secrets": [{"name": "access_token", "set": False, "updated_at": None}],
    }
    refused = vault_client.put(url, json={"access_token": "tok"}, headers={"Authorization": f"Bearer {other}"})
    assert refused.status_code == 403
    wrong = vault_client.put(url, json={"password": "tok"}, headers={"Authorization": f"Bearer {manager}"})
    assert (wrong.status_code, wrong.json["error"]["field"]) == (400, "password")
    stored = vault_client.put(
        url,
        json={"access_token": "mastodon-token-123"},
        headers={"Authorization": f"Bearer {manager}"},
    )
    assert stored.status_code == 200, stored.json
    assert stored.json["secrets"][0]["set"] is True
    assert "mastodon-token-123" not in stored.get_data(as_text=True)
    assert load_secrets(db, Vault([KEY_A]), account["id"], account["connector"]) == {
        "access_token": "mastodon-token-123"
    }
    db.close()
    raw = (tmp_path / "v.db").read_bytes() + b"".join(p.read_bytes() for p in tmp_path.glob("v.db-*"))
    assert b"mastodon-token-123" not in raw


def test_setting_secrets_without_a_vault_key_says_what_to_do(tmp_path: Any) -> None:
    from lockdown.people.users import add_user
    from lockdown.store import audit
    from lockdown.store.context import Context
    from lockdown.store.db import connect

    keyless = Settings.from_env({"LOCKDOWN_DB": str(tmp_path / "k.db"), "LOCKDOWN_SECRET_KEY": SECRET})
    client = create_app(keyless).test_client()
    db = connect(tmp_path / "k.db")
    ctx = Context(db, audit.audit_key(SECRET.encode()))
    _, ermc = add_user(ctx, "t", name="E", email="e@livuni.ac.uk", roles=["ermc"])
    add_user(ctx, "t", name="M", email="m@livuni.ac.uk", roles=["manager"])
    db.close()
    headers = {"Authorization": f"Bearer {ermc}"}
    account = client.post(
        "/api/v1/accounts",
        json={
            "handle": "@livuni_toots", "platform": "mastodon", "unit": "U", "purpose": "P",
            "monitored_hours": "24/7", "manager": "m@livuni.ac.uk",
            "connector": {"kind": "mastodon", "base_url": "https://m.example"},
        },
        headers=headers,
    ).json  # fmt: skip
    response = client.put(
        f"/api/v1/accounts/{account['id']}/connector-secrets",
        json={"access_token": "t"},
        headers=headers,
    )
    assert response.status_code == 409
    assert "LOCKDOWN_VAULT_KEY" in response.json["error"]["message"]
