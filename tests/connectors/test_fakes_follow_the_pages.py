"""The fakes' builders refuse an answer their platform's reference page does not show, so a
test cannot quietly invent a shape the connector would never meet."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from tests.connectors import graph_fake, linkedin_fake, x_fake


@pytest.mark.parametrize(
    "build",
    [
        lambda: graph_fake.error("made up", 999),  # a code on no page
        lambda: graph_fake.error("rate limited", 4, status=429),  # Graph says so with 400
        lambda: graph_fake.error("token", 190, status=401),
        lambda: graph_fake.error("x", 100, kind="SomeException"),
        lambda: graph_fake.error("x", 100, retry_in=30),  # a field the error object lacks
        lambda: graph_fake.container_status("c-1", "READY"),
        lambda: linkedin_fake.error(418, "teapot"),
        lambda: linkedin_fake.created("urn:li:organization:123"),
        lambda: linkedin_fake.image_upload_initialized("urn:li:digitalmediaAsset:C4E10AQ"),  # the old Assets API's
        lambda: linkedin_fake.image_upload_initialized("urn:li:image:C4E10AQ", "https://www.linkedin.com/upload"),
        lambda: linkedin_fake.video("urn:li:video:C5F10AQ", "READY", "urn:li:organization:123"),
        lambda: x_fake.problem("rate-limited", 429, "Too Many Requests", "slow down"),
        lambda: x_fake.problem("resource-not-found", 404, "Not Found", "gone"),  # no resource_type
        lambda: x_fake.problem("invalid-request", 400, "Bad", "x", reason="a field X's problem lacks"),
    ],
    ids=[
        "graph-code", "graph-429", "graph-401", "graph-type", "graph-field", "ig-container-state",
        "linkedin-status", "linkedin-urn", "linkedin-image-urn", "linkedin-upload-url", "linkedin-video-status",
        "x-problem-kind", "x-problem-required-field", "x-problem-field",
    ],
)  # fmt: skip
def test_a_fake_refuses_an_answer_its_page_does_not_show(build: Callable[[], Any]) -> None:
    with pytest.raises(ValueError, match=r"."):
        build()


def test_the_graph_error_has_the_error_handling_pages_shape() -> None:
    answer = graph_fake.error("(#4) Application request limit reached", 4, 2207051, is_transient=False)

    assert answer["status"] == 400
    assert answer["json"] == {
        "error": {
            "message": "(#4) Application request limit reached",
            "type": "OAuthException",
            "code": 4,
            "error_subcode": 2207051,
            "is_transient": False,
            "fbtrace_id": "AbCdEfGhIjK",
        }
    }


def test_linkedin_answers_a_new_post_with_201_and_its_urn_in_x_restli_id() -> None:
    assert linkedin_fake.created("urn:li:share:1") == {
        "status": 201,
        "body": "",
        "headers": {"x-restli-id": "urn:li:share:1"},
    }
    assert linkedin_fake.error(422, "dup", code="DUPLICATE_POST")["json"] == {
        "status": 422,
        "message": "dup",
        "code": "DUPLICATE_POST",
    }
