"""Console sessions are kept by the server and checked on every request: signing out, a password
change, disabling and offboarding end them, wherever a copy of the cookie went."""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner
from flask.testing import FlaskClient

from lockdown.cli import main
from lockdown.console.auth import SESSION_TOKEN
from lockdown.people.signin import set_password
from lockdown.store.context import Context
from lockdown.store.db import connect
from tests.conftest import SECRET, VAULT_KEY
from tests.console.console_kit import ERMC, MANAGER, PASSWORD, MovedClock, Site, browser, make_site, signed_in, token_of

NEW_PASSWORD = "another long pass phrase for the console"


@pytest.fixture
def clock() -> MovedClock:
    return MovedClock(datetime(2026, 11, 24, 9, 30, tzinfo=UTC))


@pytest.fixture
def site(tmp_path: Path, clock: MovedClock) -> Iterator[Site]:
    yield from make_site(tmp_path, clock=clock)


def copy_of(client: FlaskClient, site: Site) -> FlaskClient:
    """Another browser holding the same session cookie (a stolen or synced copy)."""
    cookie = client.get_cookie("session")
    assert cookie is not None
    other = browser(site.app)
    other.set_cookie("session", cookie.value)
    return other


def is_signed_in(client: FlaskClient) -> bool:
    response = client.get("/my-accounts")
    assert response.status_code in (200, 302)
    return response.status_code == 200


def cli(tmp_path: Path, *args: str, stdin: str | None = None) -> None:
    env = {"LOCKDOWN_DB": str(tmp_path / "c.db"), "LOCKDOWN_SECRET_KEY": SECRET, "LOCKDOWN_VAULT_KEY": VAULT_KEY}
    result = CliRunner().invoke(main, list(args), env=env, input=stdin)
    assert result.exit_code == 0, result.output


def test_signing_out_ends_the_session_for_every_copy_of_its_cookie(site: Site) -> None:
    client = signed_in(site, MANAGER)
    copy = copy_of(client, site)
    assert is_signed_in(copy)
    client.post("/sign-out", data={"csrf_token": token_of(client.get("/my-accounts").get_data(as_text=True))})
    assert not is_signed_in(client)
    assert not is_signed_in(copy), "the copied cookie no longer opens the console"
    actions = [row[0] for row in site.ctx.db.conn.execute("SELECT action FROM audit_log")]
    assert actions[-1] == "user.sign_out"


def test_signing_out_ends_only_that_session(site: Site) -> None:
    desk, phone = signed_in(site, MANAGER), signed_in(site, MANAGER)
    desk.post("/sign-out", data={"csrf_token": token_of(desk.get("/my-accounts").get_data(as_text=True))})
    assert not is_signed_in(desk)
    assert is_signed_in(phone)


def test_a_password_change_ends_every_console_session_of_that_user(site: Site, tmp_path: Path) -> None:
    desk, phone, other = signed_in(site, MANAGER), signed_in(site, MANAGER), signed_in(site, ERMC)
    cli(tmp_path, "users", "set-password", MANAGER, "--password-stdin", stdin=NEW_PASSWORD + "\n")
    assert not is_signed_in(desk)
    assert not is_signed_in(phone)
    assert is_signed_in(other), "other people's sessions go on"
    again = browser(site.app)
    page = again.get("/sign-in").get_data(as_text=True)
    form = {"csrf_token": token_of(page), "email": MANAGER, "password": PASSWORD, "next": "/"}
    assert again.post("/sign-in", data=form).status_code == 401
    assert again.post("/sign-in", data={**form, "password": NEW_PASSWORD}).status_code == 302
    assert is_signed_in(again)


def test_disabling_a_user_ends_their_console_sessions(site: Site, tmp_path: Path) -> None:
    client = signed_in(site, MANAGER)
    cli(tmp_path, "users", "disable", MANAGER)
    assert not is_signed_in(client)


def test_offboarding_ends_the_leavers_console_sessions(site: Site) -> None:
    client = signed_in(site, MANAGER)
    response = site.app.test_client().post(
        "/api/v1/users/offboard", json={"email": MANAGER}, headers={"Authorization": f"Bearer {site.tokens[ERMC]}"}
    )
    assert response.status_code == 200, response.json
    assert not is_signed_in(client)


def test_a_console_session_ends_twelve_hours_after_sign_in_by_the_servers_clock(site: Site, clock: MovedClock) -> None:
    client = signed_in(site, MANAGER)
    clock.now += timedelta(hours=11, minutes=59)
    assert is_signed_in(client)
    clock.now += timedelta(minutes=2)
    assert not is_signed_in(client)


def test_the_database_keeps_no_usable_session_token(site: Site) -> None:
    client = signed_in(site, MANAGER)
    cookie = client.get_cookie("session")
    assert cookie is not None
    stored = [row[0] for row in site.ctx.db.conn.execute("SELECT token_hash FROM console_sessions")]
    assert len(stored) == 1
    assert all(len(value) == 64 and value not in cookie.value for value in stored)
    # The cookie is signed, not encrypted: what it carries is the token itself, whose hash alone
    # the database keeps.
    carried = site.app.session_interface.get_signing_serializer(site.app).loads(cookie.value)[SESSION_TOKEN]
    assert stored == [hashlib.sha256(carried.encode()).hexdigest()]
    assert carried not in stored


def test_a_sign_in_racing_a_password_change_leaves_no_session_open(site: Site, tmp_path: Path) -> None:
    """Whichever lands first, the old password opens nothing that outlives the change."""
    left_open = []
    password = PASSWORD
    for round_ in range(8):
        new_password = f"{NEW_PASSWORD} {round_}"
        client = browser(site.app)
        form = {"csrf_token": token_of(client.get("/sign-in").get_data(as_text=True)), "email": MANAGER,
                "password": password, "next": "/"}  # fmt: skip
        barrier = threading.Barrier(2)

        def change_password(new: str = new_password, barrier: threading.Barrier = barrier) -> None:
            db = connect(tmp_path / "c.db")
            barrier.wait()
            set_password(Context(db, site.ctx.audit_key, site.clock), "t", MANAGER, new)
            db.close()

        changer = threading.Thread(target=change_password)
        changer.start()
        barrier.wait()
        client.post("/sign-in", data=form)
        changer.join()
        left_open.append(is_signed_in(client))
        password = new_password
    assert left_open == [False] * 8
