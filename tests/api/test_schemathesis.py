"""Schemathesis over the whole API document, for every role and for callers who are not signed
in: no server error, and every response matches the document (status, content type, body
schema, headers). Without a valid token every protected operation answers 401 in the one error
shape, whatever else is wrong with the request.

It drives schemathesis through its Python API, not its pytest plugin: the plugin's lazy
loader touches ``Item._nodeid``, which pytest 9 no longer has.

The budget is fixed per operation so that CI stays under two minutes on two cores;
``LOCKDOWN_FUZZ_EXAMPLES`` raises it (see the README).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

import hypothesis.strategies as st
import pytest
import schemathesis
from hypothesis import HealthCheck, given, reject, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from werkzeug.exceptions import HTTPException

from lockdown.people.users import disable_user
from lockdown.posting import posts
from lockdown.store.context import Context
from tests.api.test_error_shape import ERROR_KEYS
from tests.conftest import Login, fuzz_budget

# An editor is not a role (lockdown.people.users.ROLES): it is a user named in an account's editors,
# who may draft and approve its posts. Here one who holds the manager role but manages nothing.
ROLES = {"ermc": ("ermc",), "press": ("press",), "manager": ("manager",), "editor": ("manager",),
         "alerting": ("alerting",)}  # fmt: skip
POSITIVE = fuzz_budget("LOCKDOWN_FUZZ_EXAMPLES", 40)
EXAMPLES = {GenerationMode.POSITIVE: POSITIVE, GenerationMode.NEGATIVE: max(1, POSITIVE * 5 // 8)}
# The register's rules (a manager who exists, a livuni handle unless excepted) cannot all be
# said in a JSON schema, so well-shaped requests may rightly get 400 naming the field; and a
# caller who is not signed in gets 401 for the best-shaped request. Every other check,
# negative_data_rejection included, stays on.
EXCLUDED = [schemathesis.checks.positive_data_acceptance]
# API.md: a token on every call except /healthz, the signed, expiring public media links (the
# signature is the permission: a platform fetching a post's photo holds no token) and the CAP
# alerts (already-published incident messages, read by signage, apps and alert feeds).
UNPROTECTED = {"GET /healthz", "GET /media/public/{token}", "GET /cap/alerts.atom", "GET /cap/alerts/{identifier}.xml"}


def lost_in_serialisation(case: Any, operation: Any, response: Any) -> bool:
    """A negative case whose violation the client dropped (an extra query parameter with a null
    value, an object as a value) sends a clean request, which the API rightly accepts: skip only that."""
    if response.request.method != "GET" or response.status_code >= 400:
        return False
    # An object as a query value ({"a": []}) is sent by the test client as nothing at all, though
    # the request schemathesis reports shows it: the server saw a clean request.
    if any(isinstance(value, dict) for value in (case.query or {}).values()):
        return True
    sent = [name for name, _ in parse_qsl(urlsplit(response.request.url).query, keep_blank_values=True)]
    dropped = set(case.query or {}) - set(sent)
    known = {parameter.name for parameter in operation.query}
    return bool(dropped) and set(sent) <= known and len(sent) == len(set(sent))


def operations(app: Any) -> list[Any]:
    schema = schemathesis.openapi.from_wsgi("/openapi.json", app)
    return [result.ok() for result in schema.get_all_operations()]


def routed(app: Any, response: Any) -> bool:
    """Whether the request reached a route at all (a malformed id in the path matches none)."""
    path = unquote(urlsplit(response.request.url).path)  # routes match the decoded PATH_INFO
    try:
        app.url_map.bind("localhost").match(path, method=response.request.method)
    except HTTPException:
        return False
    return True


def assert_one_error_shape(response: Any) -> None:
    """``{"error": {"code": snake_case, "message": text, ...}}`` as JSON, and no trace."""
    content_type = response.headers.get("content-type") or response.headers.get("Content-Type") or [""]
    assert str(content_type[0] if isinstance(content_type, list) else content_type).startswith("application/json")
    body = response.json()
    assert set(body) == {"error"}, body
    error = body["error"]
    assert isinstance(error["code"], str), error
    assert error["code"] == error["code"].lower(), error
    assert isinstance(error["message"], str), error
    assert error["message"], error
    assert set(error) <= ERROR_KEYS, error
    assert "Traceback" not in response.text


def assert_refused_without_a_token(app: Any, response: Any) -> None:
    """Nobody signed in: a protected operation answers 401 in the error shape. Only the format
    checks that run before routing may answer first (a repeated query parameter is 400, a body
    in the wrong media type 415), and a path that matches no route (a malformed id) is 404."""
    status, request = response.status_code, f"{response.request.method} {response.request.url}"
    assert status in (400, 401, 404, 415), f"{request} answered {status} without a valid token: {response.text}"
    assert_one_error_shape(response)
    if status == 400:
        assert "give it once" in response.json()["error"]["message"], f"{request}: {response.text}"
    elif status != 415:
        expected = 401 if routed(app, response) else 404
        assert status == expected, f"{request} answered {status} without a valid token: {response.text}"


def fuzz(app: Any, operation: Any, mode: GenerationMode, callers: list[Login], strangers: list[Any]) -> Any:
    """A hypothesis test that sends the operation's generated cases as every caller, then as one
    stranger (drawn, so a failure replays; ``None``: no Authorization header at all)."""
    protected = operation.label not in UNPROTECTED

    @given(case=operation.as_strategy(generation_mode=mode), stranger=st.sampled_from(strangers))
    @settings(
        max_examples=EXAMPLES[mode],
        deadline=None,
        suppress_health_check=list(HealthCheck),
        database=None,
    )
    def run(case: schemathesis.Case, stranger: dict[str, str] | None) -> None:
        for login in callers:
            response = case.call(headers=login.headers)
            if mode is GenerationMode.NEGATIVE and lost_in_serialisation(case, operation, response):
                reject()
            case.validate_response(response, excluded_checks=EXCLUDED, headers=login.headers)
        if stranger is None:
            case.headers = {k: v for k, v in (case.headers or {}).items() if k.lower() != "authorization"}
        response = case.call(headers=stranger)
        if protected:
            assert_refused_without_a_token(app, response)
        case.validate_response(response, excluded_checks=EXCLUDED, headers=stranger)

    return run


@pytest.mark.parametrize("mode", list(EXAMPLES), ids=lambda m: m.value)
def test_every_operation_holds_its_document_for_every_caller(
    app: Any, ctx: Context, make_user: Any, register: Any, mode: GenerationMode
) -> None:
    logins = {name: make_user(*roles) for name, roles in ROLES.items()}
    callers: list[Login] = list(logins.values())
    # Give the manager accounts the editor edits, and a post awaiting review, so "own account"
    # and "a colleague's post" paths are reached as well as others'.
    for _ in range(2):
        account = register(logins["manager"], editors=[logins["editor"].email])
    when = "2099-01-01T09:00:00Z"
    posts.create_post(ctx, logins["manager"].user, {"account_id": account["id"], "body": "Hi", "scheduled_at": when})
    gone = make_user("press", "manager")
    disable_user(ctx, "test", gone.email)
    # As generated (schemathesis sends random, empty or garbled Authorization headers), with no
    # header at all, and with the real token of a disabled user.
    strangers: list[Any] = [{}, None, gone.headers]
    found = operations(app)
    assert len(found) >= 9, [op.label for op in found]
    unprotected = {op.label for op in found if not op.definition.raw.get("security")}
    assert unprotected == UNPROTECTED, "every operation but /healthz must declare the bearer token"
    exercised: list[str] = []
    for operation in found:
        run = fuzz(app, operation, mode, callers, strangers)
        try:
            run()
        except Unsatisfiable:
            # An operation with no parameters or body has nothing to make invalid.
            assert mode is GenerationMode.NEGATIVE, operation.label
            continue
        exercised.append(operation.label)
    assert len(exercised) >= (9 if mode is GenerationMode.POSITIVE else 5), exercised
