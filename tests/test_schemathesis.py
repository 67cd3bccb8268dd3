"""Schemathesis over the whole API document, for every role: no server error, and every
response matches the document (status, content type, body schema, headers).

It drives schemathesis through its Python API, not its pytest plugin: the plugin's lazy
loader touches ``Item._nodeid``, which pytest 9 no longer has.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest
import schemathesis
from hypothesis import HealthCheck, given, reject, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode

from tests.conftest import Login

ROLES = (("ermc",), ("press",), ("manager",))
EXAMPLES = {GenerationMode.POSITIVE: 40, GenerationMode.NEGATIVE: 25}
# The register's rules (a manager who exists, a livuni handle unless excepted) cannot all be
# said in a JSON schema, so well-shaped requests may rightly get 400 naming the field; every
# other check, negative_data_rejection included, stays on.
EXCLUDED = [schemathesis.checks.positive_data_acceptance]


def lost_in_serialisation(case: Any, operation: Any, response: Any) -> bool:
    """A negative case whose violation was an extra query parameter that the client dropped
    (a null value) sends a clean request, which the API rightly accepts: skip only that."""
    if response.request.method != "GET" or response.status_code >= 400:
        return False
    sent = [name for name, _ in parse_qsl(urlsplit(response.request.url).query, keep_blank_values=True)]
    dropped = set(case.query or {}) - set(sent)
    known = {parameter.name for parameter in operation.query}
    return bool(dropped) and set(sent) <= known and len(sent) == len(set(sent))


def operations(app: Any) -> list[Any]:
    schema = schemathesis.openapi.from_wsgi("/openapi.json", app)
    return [result.ok() for result in schema.get_all_operations()]


def fuzz(operation: Any, mode: GenerationMode, callers: list[Login]) -> Any:
    """A hypothesis test that sends the operation's generated cases as every caller."""

    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(
        max_examples=EXAMPLES[mode],
        deadline=None,
        suppress_health_check=list(HealthCheck),
        database=None,
    )
    def run(case: schemathesis.Case) -> None:
        for login in callers:
            response = case.call(headers=login.headers)
            if mode is GenerationMode.NEGATIVE and lost_in_serialisation(case, operation, response):
                reject()
            case.validate_response(response, excluded_checks=EXCLUDED, headers=login.headers)

    return run


@pytest.mark.parametrize("mode", list(EXAMPLES), ids=lambda m: m.value)
def test_every_operation_holds_its_document_for_every_role(
    app: Any, make_user: Any, register: Any, mode: GenerationMode
) -> None:
    callers: list[Login] = [make_user(*roles) for roles in ROLES]
    # Give the manager an account, so "own account" paths are reached as well as others'.
    register(callers[2])
    register(callers[2])
    found = operations(app)
    assert len(found) >= 9, [op.label for op in found]
    exercised: list[str] = []
    for operation in found:
        run = fuzz(operation, mode, callers)
        try:
            run()
        except Unsatisfiable:
            # An operation with no parameters or body has nothing to make invalid.
            assert mode is GenerationMode.NEGATIVE, operation.label
            continue
        exercised.append(operation.label)
    assert len(exercised) >= (9 if mode is GenerationMode.POSITIVE else 5), exercised
