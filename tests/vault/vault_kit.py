"""Shared by the vault's tests: an app with a vault key and office hours, users of every role,
two accounts, a clock the test moves, and the API calls every test makes."""

from __future__ import annotations

import base64
import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from lockdown.app import create_app
from lockdown.people.users import add_user
from lockdown.settings import Settings
from lockdown.store import audit
from lockdown.store.context import Context
from lockdown.store.db import connect
from tests.conftest import SECRET

KEY_A = base64.b64encode(b"A" * 32).decode()
KEY_B = base64.b64encode(b"B" * 32).decode()
PASSWORD = "Corr3ct-Horse-Battery-Staple"
SEED = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"
NIGHT = datetime(2026, 11, 24, 2, 0, tzinfo=UTC)  # a Tuesday, 02:00 in London
DAY = datetime(2026, 11, 24, 11, 0, tzinfo=UTC)  # a Tuesday, 11:00 in London


class Clock:
    """A clock the test sets by hand; the app and the services read it."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def make_world(tmp_path: Path, clock: Clock) -> Iterator[dict[str, Any]]:
    """An app with a vault key and office hours, users of every role, and two accounts."""
    env = {
        "LOCKDOWN_DB": str(tmp_path / "vault.db"),
        "LOCKDOWN_SECRET_KEY": SECRET,
        "LOCKDOWN_VAULT_KEY": KEY_A,
        "LOCKDOWN_OFFICE_HOURS": "Mon-Fri 09:00-17:00",
    }
    settings = Settings.from_env(env)
    app = create_app(settings, clock=clock)
    db = connect(settings.db_path)
    ctx = Context(db, audit.audit_key(SECRET.encode()), clock)
    tokens = {}
    for name, roles in (("ruth", ["ermc"]), ("priya", ["press"]), ("tom", ["press"]), ("dan", ["manager"]),
                        ("amira", ["manager"]), ("ed", ["manager"])):  # fmt: skip
        _, tokens[name] = add_user(ctx, "t", name=name.title(), email=f"{name}@livuni.ac.uk", roles=roles)
    client = app.test_client()
    headers = {name: {"Authorization": f"Bearer {token}"} for name, token in tokens.items()}
    accounts = {}
    for handle, manager in (("@livuni_chem", "dan"), ("@livuni_phys", "amira")):
        accounts[handle] = client.post(
            "/api/v1/accounts",
            json={"handle": handle, "platform": "x", "unit": "U", "purpose": "P", "monitored_hours": "24/7",
                  "manager": f"{manager}@livuni.ac.uk", "editors": ["ed@livuni.ac.uk"] if manager == "dan" else []},
            headers=headers["ruth"],
        ).json["id"]  # fmt: skip
    yield {"app": app, "client": client, "h": headers, "ctx": ctx, "env": env, "settings": settings,
           "accounts": accounts, "chem": accounts["@livuni_chem"], "phys": accounts["@livuni_phys"],
           "path": tmp_path}  # fmt: skip
    db.close()


def deposit(w: dict[str, Any], who: str = "dan", account: str = "chem", **body: Any) -> Any:
    """PUT a password (and by default a TOTP seed) for an account, as its manager."""
    data = {"username": "livuni_chem", "password": PASSWORD, "totp_secret": SEED, **body}
    return w["client"].put(f"/api/v1/accounts/{w[account]}/credentials", json=data, headers=w["h"][who])


def open_session(w: dict[str, Any], who: str = "priya", **body: Any) -> Any:
    """POST an access session for the chemistry account, as a press officer."""
    data = {"account_ids": [w["chem"]], "justification": "The account posted spam at 01:50; locking it", **body}
    return w["client"].post("/api/v1/access-sessions", json=data, headers=w["h"][who])


def reveal(w: dict[str, Any], session_id: int, who: str = "priya", account: str = "chem") -> Any:
    """POST a reveal in a session."""
    return w["client"].post(
        f"/api/v1/access-sessions/{session_id}/reveal", json={"account_id": w[account]}, headers=w["h"][who]
    )


def at_once(w: dict[str, Any], *calls: Callable[[Any], Any]) -> list[Any]:
    """Run each call in its own thread with its own test client (so its own connection to the
    database file), all released at the same moment; their results, in the order given."""
    start = threading.Barrier(len(calls))
    results: list[Any] = [None] * len(calls)

    def run(index: int, call: Callable[[Any], Any]) -> None:
        client = w["app"].test_client()
        start.wait()
        results[index] = call(client)

    threads = [threading.Thread(target=run, args=pair) for pair in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results
