"""Fixtures: a real SQLite file per test, the app on it, a service context, and users by role."""

from __future__ import annotations

import itertools
import os
import socket
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient

from lockdown.app import create_app
from lockdown.people.users import User, add_user
from lockdown.settings import Settings
from lockdown.store import audit
from lockdown.store.context import Context
from lockdown.store.db import connect

SECRET = "test-secret-key-that-is-long-enough-0123456789"
VAULT_KEY = "VkFVTFRWQVVMVFZBVUxUVkFVTFRWQVVMVFZBVUxUVkE="  # base64 of 32 bytes, for commands that start
# The fake platforms and receivers listen on loopback, which connectors may reach only when the
# outbound allowlist says so (tests/posting/test_outbound.py runs without it).
LOOPBACK = "127.0.0.0/8,::1"


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings.from_env(
        {
            "LOCKDOWN_DB": str(tmp_path / "lockdown.db"),
            "LOCKDOWN_SECRET_KEY": SECRET,
            # Like every real installation's: connector secrets (webhook URLs among them) are sealed.
            "LOCKDOWN_VAULT_KEY": VAULT_KEY,
            "LOCKDOWN_OUTBOUND_ALLOW": LOOPBACK,
        }
    )


@pytest.fixture
def app(settings: Settings) -> Any:
    application = create_app(settings)
    application.config["TESTING"] = True
    return application


@pytest.fixture
def client(app: Any) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def ctx(settings: Settings, app: Any) -> Iterator[Context]:
    """A service context on the app's database (created after the app so it is migrated)."""
    db = connect(settings.db_path)
    yield Context(db, audit.audit_key(settings.require_secret_key()))
    db.close()


@dataclass(frozen=True)
class Login:
    user: User
    token: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    @property
    def email(self) -> str:
        return self.user.email


_numbers = itertools.count(1)


@pytest.fixture
def make_user(ctx: Context) -> Callable[..., Login]:
    def make(*roles: str, email: str | None = None) -> Login:
        number = next(_numbers)
        user, token = add_user(
            ctx,
            "test",
            name=f"User {number}",
            email=email or f"user{number}@livuni.ac.uk",
            roles=roles or ("manager",),
        )
        return Login(user, token)

    return make


@pytest.fixture
def ermc(make_user: Callable[..., Login]) -> Login:
    return make_user("ermc")


@pytest.fixture
def press(make_user: Callable[..., Login]) -> Login:
    return make_user("press")


@pytest.fixture
def manager(make_user: Callable[..., Login]) -> Login:
    return make_user("manager")


def account_payload(manager_email: str, **overrides: Any) -> dict[str, Any]:
    """A valid registration, changed by the overrides."""
    handle = f"@livuni_unit{next(_numbers)}"
    payload: dict[str, Any] = {
        "handle": handle,
        "platform": "x",
        "unit": "Department of Chemistry",
        "purpose": "News and events from the department",
        "monitored_hours": "Mon-Fri 09:00-17:00",
        "manager": manager_email,
    }
    payload.update(overrides)
    return {k: v for k, v in payload.items() if v is not None}


@pytest.fixture
def register(client: FlaskClient, ermc: Login) -> Callable[..., dict[str, Any]]:
    """Register an account through the API as ERMC and return it."""

    def do(manager: Login, **overrides: Any) -> dict[str, Any]:
        response = client.post(
            "/api/v1/accounts",
            json=account_payload(manager.email, **overrides),
            headers=ermc.headers,
        )
        assert response.status_code == 201, response.json
        body: dict[str, Any] = response.json
        return body

    return do


def count_rows(ctx: Context, table: str) -> int:
    return int(ctx.db.conn.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0])


def fuzz_budget(name: str, default: int) -> int:
    """A fuzzing budget from the environment (README "Fuzzing"), or the CI default."""
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    if not raw.isdigit() or int(raw) < 1:
        raise ValueError(f"{name} must be a positive whole number, not {raw!r}")
    return int(raw)


# The installed command, as a newcomer runs it (the venv's script beside this Python).
LOCKDOWN = str(Path(sys.executable).with_name("lockdown"))


def free_port() -> int:
    """A localhost port nothing listens on now (some servers, aiosmtpd's among them, cannot take 0)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


# The OpenID provider, for sign-in through the university's identity provider (issue 17), and the
# reference Bluesky PDS, for the connector and incident tests that publish to it.
from tests.oidc.server import oidc  # noqa: E402, F401
from tests.pds.server import pds  # noqa: E402, F401
