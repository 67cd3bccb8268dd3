"""Readiness through the API: ``readiness`` on the account, ``POST .../check`` and who may call
it, thought through as each role: any signed-in user reads readiness (the reason only if they may
read the platform's words); only ERMC, the press team and the account's own manager spend a
platform call; a check running or just run is refused."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from flask.testing import FlaskClient

from connectors.base import Connector, ConnectorError, OutgoingPost, Published, Ready
from connectors.registry import CONNECTORS
from lockdown.store.context import Context
from tests.conftest import Login

LEAKY = "HTTP 401: token of page admin jo.bloggs@liverpool.ac.uk expired"


class ExpiredPlatform(Connector):
    kind = "expired"

    def publish(self, post: OutgoingPost) -> Published:
        raise AssertionError("a check publishes nothing")

    def delete(self, remote_id: str) -> None:
        raise AssertionError("a check deletes nothing")

    def check(self) -> Ready:
        raise ConnectorError(LEAKY, permanent=True, status=401)


@pytest.fixture
def expired_on(
    ctx: Context, register: Callable[..., dict[str, Any]], monkeypatch: pytest.MonkeyPatch
) -> Callable[..., int]:
    def make(owner: Login, **fields: Any) -> int:
        monkeypatch.setitem(CONNECTORS, "expired", f"{__name__}.ExpiredPlatform")
        account = int(register(owner, **fields)["id"])
        ctx.db.conn.execute("UPDATE accounts SET connector = json_object('kind', 'expired') WHERE id = ?", [account])
        ctx.db.conn.commit()
        return account

    return make


def test_an_account_carries_its_readiness_never_checked_at_first(
    client: FlaskClient, register: Callable[..., dict[str, Any]], manager: Login, make_user: Any
) -> None:
    account = register(manager)

    body = client.get(f"/api/v1/accounts/{account['id']}", headers=make_user("manager").headers).json

    assert body["readiness"]["status"] == "unchecked"
    assert body["readiness"]["checked_at"] is None


def test_the_manager_checks_their_account_and_the_answer_is_its_readiness(
    client: FlaskClient, register: Callable[..., dict[str, Any]], manager: Login
) -> None:
    account = register(manager)

    checked = client.post(f"/api/v1/accounts/{account['id']}/check", headers=manager.headers)

    assert checked.status_code == 200, checked.json
    assert checked.json["status"] == "ready"
    assert checked.json["account"].startswith("outbox")
    shown = client.get(f"/api/v1/accounts/{account['id']}", headers=manager.headers).json["readiness"]
    assert shown == checked.json


@pytest.mark.parametrize(
    ("role", "expected"),
    [("ermc", 200), ("press", 200), ("own manager", 200), ("other manager", 403), ("editor", 403)],
)
def test_who_may_run_a_check(
    client: FlaskClient,
    register: Callable[..., dict[str, Any]],
    manager: Login,
    ermc: Login,
    press: Login,
    make_user: Any,
    role: str,
    expected: int,
) -> None:
    editor = make_user("manager")
    account = register(manager, editors=[editor.email])
    caller = {"ermc": ermc, "press": press, "own manager": manager, "other manager": make_user("manager")}.get(
        role, editor
    )

    answer = client.post(f"/api/v1/accounts/{account['id']}/check", headers=caller.headers)

    assert answer.status_code == expected, answer.json
    if expected == 403:
        assert answer.json["error"]["code"] == "forbidden"
        assert (
            client.get(f"/api/v1/accounts/{account['id']}", headers=caller.headers).json["readiness"]["status"]
            == "unchecked"
        )


def test_checking_an_account_that_does_not_exist_is_404_for_every_role(
    client: FlaskClient, manager: Login, press: Login, make_user: Any
) -> None:
    for caller in (manager, press, make_user("manager")):
        answer = client.post("/api/v1/accounts/999/check", headers=caller.headers)
        assert answer.status_code == 404
        assert answer.json["error"]["code"] == "not_found"


def test_a_check_right_after_another_is_429_with_retry_after(
    client: FlaskClient, register: Callable[..., dict[str, Any]], manager: Login
) -> None:
    account = register(manager)
    client.post(f"/api/v1/accounts/{account['id']}/check", headers=manager.headers)

    again = client.post(f"/api/v1/accounts/{account['id']}/check", headers=manager.headers)

    assert again.status_code == 429
    assert again.json["error"]["code"] == "too_many_attempts"
    assert 1 <= int(again.headers["Retry-After"]) <= 61


def test_a_check_while_one_runs_is_409(
    client: FlaskClient, ctx: Context, register: Callable[..., dict[str, Any]], manager: Login
) -> None:
    account = register(manager)
    stamp = "2999-01-01T00:00:00.000000Z"  # running "now" as far as any clock here can tell
    ctx.db.conn.execute(
        "INSERT INTO account_readiness (account_id, next_check_at, running_since, running_by) VALUES (?, ?, ?, 'x')",
        [account["id"], stamp, stamp],
    )
    ctx.db.conn.commit()

    answer = client.post(f"/api/v1/accounts/{account['id']}/check", headers=manager.headers)

    assert answer.status_code == 409
    assert answer.json["error"]["code"] == "conflict"


def test_a_failing_checks_reason_is_shown_only_to_who_may_read_the_platforms_answer(
    client: FlaskClient, expired_on: Callable[..., int], manager: Login, ermc: Login, press: Login, make_user: Any
) -> None:
    account = expired_on(manager)
    central = expired_on(manager, handle="@livuni", central=True)
    for each in (account, central):
        assert client.post(f"/api/v1/accounts/{each}/check", headers=ermc.headers).json["status"] == "failing"

    def reason(caller: Login, of: int) -> str:
        return str(client.get(f"/api/v1/accounts/{of}", headers=caller.headers).json["readiness"]["reason"])

    assert reason(manager, account) == LEAKY
    assert reason(ermc, account) == LEAKY
    assert reason(press, central) == LEAKY
    for caller, of in ((press, account), (make_user("manager"), central)):
        assert "jo.bloggs" not in reason(caller, of)
        assert "HTTP 401" in reason(caller, of)
