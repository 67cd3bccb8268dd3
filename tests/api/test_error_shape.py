"""One JSON error shape on every error path, and never a stack trace."""

from __future__ import annotations

import re
from typing import Any

import pytest
from flask.testing import FlaskClient

from tests.conftest import Login, account_payload

ERROR_KEYS = {"code", "message", "field", "errors", "error_count", "account_id"}


def assert_error_shape(response: Any, status: int, code: str | None = None) -> dict[str, Any]:
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == "application/json"
    body = response.json
    assert set(body) == {"error"}
    error = body["error"]
    assert isinstance(error["code"], str)
    assert error["code"] == error["code"].lower()
    assert isinstance(error["message"], str)
    assert error["message"]
    assert set(error) <= ERROR_KEYS
    assert "Traceback" not in response.get_data(as_text=True)
    if code:
        assert error["code"] == code
    return dict(error)


def test_unknown_path_is_404(client: FlaskClient) -> None:
    error = assert_error_shape(client.get("/api/v1/nothing-here"), 404, "not_found")
    assert "/api/v1/nothing-here" in error["message"]


def test_unknown_account_is_404(client: FlaskClient, ermc: Login) -> None:
    error = assert_error_shape(client.get("/api/v1/accounts/999999", headers=ermc.headers), 404, "not_found")
    assert error["field"] == "id"


def test_wrong_method_is_405_with_allow(client: FlaskClient, ermc: Login) -> None:
    response = client.put("/api/v1/accounts", headers=ermc.headers)
    error = assert_error_shape(response, 405, "method_not_allowed")
    assert "POST" in response.headers["Allow"]
    assert "POST" in error["message"]


def test_every_route_answers_unsupported_methods_with_the_error_shape(
    app: Any, client: FlaskClient, ermc: Login
) -> None:
    for rule in app.url_map.iter_rules():
        if rule.endpoint == "static":
            continue
        url = re.sub(r"<int[^>]*:\w+>", "1", rule.rule).replace("<path:filename>", "x")
        for method in {"GET", "POST", "PUT", "PATCH", "DELETE"} - set(rule.methods or ()):
            response = client.open(url, method=method, headers=ermc.headers)
            if response.status_code == 405:
                assert_error_shape(response, 405, "method_not_allowed")


def test_malformed_json_is_400(client: FlaskClient, ermc: Login) -> None:
    response = client.post("/api/v1/accounts", data="{not json", content_type="application/json", headers=ermc.headers)
    assert_error_shape(response, 400, "malformed_json")


def test_a_json_body_of_the_wrong_type_is_400(client: FlaskClient, ermc: Login) -> None:
    for body in ("[1, 2]", '"text"', "null", "42"):
        response = client.post("/api/v1/accounts", data=body, content_type="application/json", headers=ermc.headers)
        assert_error_shape(response, 400)


def test_a_body_that_is_not_json_is_415(client: FlaskClient, ermc: Login) -> None:
    response = client.post(
        "/api/v1/accounts",
        data="handle=x",
        content_type="application/x-www-form-urlencoded",
        headers=ermc.headers,
    )
    error = assert_error_shape(response, 415, "unsupported_media_type")
    assert "application/json" in error["message"]
    csv = client.post("/api/v1/accounts/import", json={"a": 1}, headers=ermc.headers)
    assert "text/csv" in assert_error_shape(csv, 415)["message"]


def test_a_wrong_field_type_is_400_naming_it(client: FlaskClient, ermc: Login, manager: Login) -> None:
    payload = account_payload(manager.email, editors="not-a-list")
    error = assert_error_shape(
        client.post("/api/v1/accounts", json=payload, headers=ermc.headers), 400, "invalid_input"
    )
    assert error["field"] == "editors"


def test_no_token_is_401_and_wrong_role_is_403(client: FlaskClient, manager: Login) -> None:
    assert_error_shape(client.get("/api/v1/accounts"), 401, "unauthorized")
    assert_error_shape(client.get("/api/v1/audit", headers=manager.headers), 403, "forbidden")


def test_a_duplicate_is_409(client: FlaskClient, ermc: Login, manager: Login) -> None:
    payload = account_payload(manager.email)
    client.post("/api/v1/accounts", json=payload, headers=ermc.headers)
    assert_error_shape(client.post("/api/v1/accounts", json=payload, headers=ermc.headers), 409, "conflict")


def test_a_body_over_the_limit_is_413(client: FlaskClient, ermc: Login, app: Any) -> None:
    app.config["MAX_CONTENT_LENGTH"] = 1000
    response = client.post("/api/v1/accounts/import", data="x" * 5000, content_type="text/csv", headers=ermc.headers)
    assert_error_shape(response, 413, "body_too_large")


@pytest.fixture
def exploding_client(settings: Any) -> FlaskClient:
    from lockdown.app import create_app

    app = create_app(settings)

    @app.get("/explode")
    def explode() -> None:
        raise RuntimeError("secret internals: /etc/passwd")

    return app.test_client()


def test_an_unexpected_exception_is_500_without_internals(exploding_client: FlaskClient) -> None:
    response = exploding_client.get("/explode")
    error = assert_error_shape(response, 500, "internal_error")
    assert "secret internals" not in response.get_data(as_text=True)
    assert "logged" in error["message"]


def test_healthz_needs_no_token(client: FlaskClient) -> None:
    body = client.get("/healthz").json
    assert body["ok"] is True
    assert body["database"] == "ok"
    assert "last_tick" in body["scheduler"]


def test_a_repeated_query_parameter_is_400_naming_it(client: FlaskClient, ermc: Login) -> None:
    response = client.get("/api/v1/accounts?central=true&central=false", headers=ermc.headers)
    assert assert_error_shape(response, 400, "invalid_input")["field"] == "central"
