"""The sign-in tests' world: a database with a press officer (TOTP enrolled) and a manager,
both with console passwords, on a clock the test moves."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pyotp
import pytest

from lockdown.crypto import Vault
from lockdown.people.signin import enroll_totp, set_password
from lockdown.people.users import add_user
from lockdown.store import audit
from lockdown.store.context import Context
from lockdown.store.db import connect
from lockdown.store.migrations import migrate
from tests.conftest import SECRET, VAULT_KEY

NOW = datetime(2026, 11, 24, 2, 0, 10, tzinfo=UTC)
PASSWORD = "a long pass phrase for the console"


class Clock:
    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def world(tmp_path: Path) -> Iterator[Any]:
    db = connect(tmp_path / "signin.db")
    migrate(db)
    clock = Clock()
    ctx = Context(db, audit.audit_key(SECRET.encode()), clock)
    vault = Vault([base64.b64decode(VAULT_KEY)])
    add_user(ctx, "t", name="Priya", email="priya@livuni.ac.uk", roles=["press"])
    add_user(ctx, "t", name="Dan", email="dan@livuni.ac.uk", roles=["manager"])
    for email in ("priya@livuni.ac.uk", "dan@livuni.ac.uk"):
        set_password(ctx, "t", email, PASSWORD)
    uri = enroll_totp(ctx, vault, "t", "priya@livuni.ac.uk")
    seed = parse_qs(urlsplit(uri).query)["secret"][0]
    yield ctx, vault, clock, pyotp.TOTP(seed), tmp_path
    db.close()
