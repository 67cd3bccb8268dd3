"""A busy database (#12, finding 14): a lock held elsewhere is a 503 the client can retry, never a
500; declaring and resolving wait it out within their retry budget.

Another connection takes SQLite's write lock (``BEGIN IMMEDIATE`` on the same file, as a long
writer in another thread or process does) while requests run with a short busy timeout.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient

from lockdown.settings import Settings
from tests.api.test_error_shape import assert_error_shape
from tests.conftest import SECRET, Login

BUSY_TIMEOUT = 0.2


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings.from_env(
        {
            "LOCKDOWN_DB": str(tmp_path / "lockdown.db"),
            "LOCKDOWN_SECRET_KEY": SECRET,
            "LOCKDOWN_BUSY_TIMEOUT": str(BUSY_TIMEOUT),
            "LOCKDOWN_INCIDENT_BUSY_RETRY": "10",
        }
    )


@contextmanager
def write_lock(path: Path, *, release_after: float | None = None) -> Iterator[None]:
    """Hold the database's write lock from another connection, on another thread; release it
    after ``release_after`` seconds, or when the block ends."""
    taken, done = threading.Event(), threading.Event()

    def hold() -> None:
        conn = sqlite3.connect(path, isolation_level=None)
        try:
            conn.execute("BEGIN IMMEDIATE")
            taken.set()
            done.wait(release_after)
            conn.execute("ROLLBACK")
        finally:
            conn.close()

    holder = threading.Thread(target=hold)
    holder.start()
    assert taken.wait(5), "the other connection took the write lock"
    try:
        yield
    finally:
        done.set()
        holder.join()


def test_a_write_that_cannot_get_the_lock_is_503_busy_with_retry_after(
    client: FlaskClient, settings: Settings, register: Callable[..., dict[str, Any]], manager: Login
) -> None:
    account = register(manager)
    with write_lock(settings.db_path):
        response = client.patch(
            f"/api/v1/accounts/{account['id']}", json={"purpose": "Changed under a lock"}, headers=manager.headers
        )
    error = assert_error_shape(response, 503, "busy")
    assert int(response.headers["Retry-After"]) >= 1
    assert "try again" in error["message"]
    assert "database is locked" not in error["message"], "a person is told what to do, not SQLite's words"
    after = client.get(f"/api/v1/accounts/{account['id']}", headers=manager.headers).json
    assert after["purpose"] != "Changed under a lock", "nothing was half-written"


def declare(client: FlaskClient, press: Login) -> Any:
    return client.post("/api/v1/incidents", json={"title": "Fire", "reason": "Reported"}, headers=press.headers)


@pytest.mark.parametrize("action", ["declare", "resolve"])
def test_declaring_and_resolving_wait_out_a_lock_shorter_than_their_retry_budget(
    client: FlaskClient, settings: Settings, press: Login, action: str
) -> None:
    """The lock outlasts the busy timeout five times over, and stays inside the retry budget."""
    incident = declare(client, press).json["id"] if action == "resolve" else None
    held_for = 1.0
    started = time.monotonic()
    with write_lock(settings.db_path, release_after=held_for):
        if incident is None:
            response = declare(client, press)
        else:
            response = client.post(f"/api/v1/incidents/{incident}/resolve", json={}, headers=press.headers)
    assert response.status_code in (200, 201), response.get_data(as_text=True)
    assert time.monotonic() - started >= held_for * 0.9, "it waited for the lock rather than skipping it"
    status = client.get(f"/api/v1/incidents/{response.json['id']}", headers=press.headers).json["status"]
    assert status == ("active" if action == "declare" else "resolved")


def test_a_declaration_gives_up_with_503_once_its_retry_budget_is_spent(
    tmp_path: Path, make_user: Callable[..., Login]
) -> None:
    from lockdown.app import create_app

    settings = Settings.from_env(
        {
            "LOCKDOWN_DB": str(tmp_path / "lockdown.db"),
            "LOCKDOWN_SECRET_KEY": SECRET,
            "LOCKDOWN_BUSY_TIMEOUT": str(BUSY_TIMEOUT),
            "LOCKDOWN_INCIDENT_BUSY_RETRY": "0.6",
        }
    )
    client = create_app(settings).test_client()
    press = make_user("press")
    started = time.monotonic()
    with write_lock(settings.db_path):
        response = declare(client, press)
    waited = time.monotonic() - started
    assert_error_shape(response, 503, "busy")
    assert "Retry-After" in response.headers
    assert 0.6 <= waited < 3, f"the retry is bounded by its budget (waited {waited:.2f} s)"
    assert client.get("/api/v1/incidents", headers=press.headers).json["items"] == []


def test_the_api_document_says_every_change_may_answer_503_busy(client: FlaskClient) -> None:
    paths = client.get("/openapi.json").json["paths"]
    changes = [(path, method, op) for path, ops in paths.items() for method, op in ops.items() if method != "get"]
    assert changes
    for path, method, operation in changes:
        busy = operation["responses"].get("503")
        assert busy is not None, f"{method.upper()} {path} does not list 503"
        assert "Retry-After" in busy["headers"]
