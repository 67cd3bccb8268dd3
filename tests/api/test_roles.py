"""Every endpoint x every role x own/other account: who may do what."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import Any

import pytest
from flask.testing import FlaskClient

from lockdown.people.users import disable_user
from tests.conftest import Login, account_payload

ROLES = ("ermc", "press", "manager")
_csv_numbers = itertools.count()
# (method, path, body kind) -> the status for each role on its own account / on another's.
# A manager's "own" account is one they manage; ermc and press have no own accounts, so both
# columns are the same for them.
MATRIX: list[tuple[str, str, str, dict[str, tuple[int, int]]]] = [
    (
        "GET",
        "/api/v1/accounts",
        "",
        {"ermc": (200, 200), "press": (200, 200), "manager": (200, 200)},
    ),
    (
        "POST",
        "/api/v1/accounts",
        "register",
        {"ermc": (201, 201), "press": (403, 403), "manager": (403, 403)},
    ),
    (
        "GET",
        "/api/v1/accounts/{id}",
        "",
        {"ermc": (200, 200), "press": (200, 200), "manager": (200, 200)},
    ),
    (
        "PATCH",
        "/api/v1/accounts/{id}",
        "purpose",
        {"ermc": (200, 200), "press": (403, 403), "manager": (200, 403)},
    ),
    (
        "PATCH",
        "/api/v1/accounts/{id}",
        "unit",
        {"ermc": (200, 200), "press": (403, 403), "manager": (403, 403)},
    ),
    (
        "DELETE",
        "/api/v1/accounts/{id}",
        "",
        {"ermc": (200, 200), "press": (403, 403), "manager": (403, 403)},
    ),
    (
        "POST",
        "/api/v1/accounts/import",
        "csv",
        {"ermc": (201, 201), "press": (403, 403), "manager": (403, 403)},
    ),
    (
        "GET",
        "/api/v1/accounts/export",
        "",
        {"ermc": (200, 200), "press": (403, 403), "manager": (403, 403)},
    ),
    ("GET", "/api/v1/audit", "", {"ermc": (200, 200), "press": (403, 403), "manager": (403, 403)}),
    (
        "GET",
        "/api/v1/audit/verify",
        "",
        {"ermc": (200, 200), "press": (403, 403), "manager": (403, 403)},
    ),
    ("GET", "/api/v1/me", "", {"ermc": (200, 200), "press": (200, 200), "manager": (200, 200)}),
]
CASES = [
    pytest.param(
        method,
        path,
        body,
        role,
        own,
        statuses[role][0 if own else 1],
        id=f"{method} {path} {body} {role} {'own' if own else 'other'}",
    )
    for method, path, body, statuses in MATRIX
    for role in ROLES
    for own in (True, False)
]


def _request(client: FlaskClient, method: str, url: str, body: str, headers: dict[str, str], manager: str) -> Any:
    if body == "register":
        return client.open(url, method=method, json=account_payload(manager), headers=headers)
    if body == "csv":
        csv = (
            "handle,platform,unit,purpose,monitored_hours,manager\n"
            f"@livuni_csv_{next(_csv_numbers)},x,Unit,News,24/7,{manager}\n"
        )
        return client.open(url, method=method, data=csv, content_type="text/csv", headers=headers)
    if body:
        return client.open(url, method=method, json={body: "Changed"}, headers=headers)
    return client.open(url, method=method, headers=headers)


@pytest.mark.parametrize(("method", "path", "body", "role", "own", "status"), CASES)
def test_role_matrix(
    client: FlaskClient,
    make_user: Callable[..., Login],
    register: Callable[..., dict[str, Any]],
    method: str,
    path: str,
    body: str,
    role: str,
    own: bool,
    status: int,
) -> None:
    caller = make_user(role)
    owner = caller if (own and role == "manager") else make_user("manager")
    account = register(owner)
    url = path.format(id=account["id"])
    response = _request(client, method, url, body, caller.headers, owner.email)
    assert response.status_code == status, response.get_data(as_text=True)
    if status == 403:
        assert response.json["error"]["code"] == "forbidden"


@pytest.mark.parametrize(("method", "path", "body", "statuses"), [m for m in MATRIX])
def test_every_endpoint_needs_a_valid_token(
    client: FlaskClient,
    make_user: Callable[..., Login],
    ctx: Any,
    method: str,
    path: str,
    body: str,
    statuses: Any,
) -> None:
    disabled = make_user("ermc")
    disable_user(ctx, "test", disabled.email)
    for headers in (
        {},
        {"Authorization": "Bearer ld_not-a-token"},
        {"Authorization": "Basic eDp5"},
        disabled.headers,
    ):
        response = _request(client, method, path.format(id=1), body, headers, "x@livuni.ac.uk")
        assert response.status_code == 401, (headers, response.get_data(as_text=True))
        assert response.json["error"]["code"] == "unauthorized"


def test_a_user_with_several_roles_has_the_rights_of_each(
    client: FlaskClient, make_user: Callable[..., Login], register: Callable[..., dict[str, Any]]
) -> None:
    both = make_user("press", "ermc")
    account = register(make_user("manager"))
    assert client.delete(f"/api/v1/accounts/{account['id']}", headers=both.headers).status_code == 200
    assert client.get("/api/v1/me", headers=both.headers).json["roles"] == ["ermc", "press"]
