"""A platform's own words about a failed incident-message delivery are read by the press team,
ERMC and the central account's manager only (#12 finding 4, as for posts)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from flask.testing import FlaskClient

from connectors.base import Connector, ConnectorError, OutgoingPost, Published, Ready
from connectors.registry import CONNECTORS
from lockdown.incidents.delivery_errors import HIDDEN
from lockdown.posting.post_errors import MAX_ERROR_CHARS
from tests.conftest import Login

SECRET_WORDS = "HTTP 403: INTERNAL-ONLY: ask j.smith@internal about account 7731"


class RefusingPlatform(Connector):
    kind = "refusing"

    def publish(self, post: OutgoingPost) -> Published:
        raise ConnectorError(SECRET_WORDS, permanent=True, status=403)

    def delete(self, remote_id: str) -> None:
        """Nothing was published."""

    def check(self) -> Ready:
        return Ready(account="fake")


@pytest.fixture
def central_on(
    client: FlaskClient, ctx: Any, register: Callable[..., dict[str, Any]], monkeypatch: pytest.MonkeyPatch
) -> Callable[[Login, str], int]:
    """Register a central account for ``owner`` that publishes through this module's platform ``kind``."""

    def make(owner: Login, kind: str) -> int:
        monkeypatch.setitem(CONNECTORS, kind, f"{__name__}.{PLATFORMS[kind]}")
        central = int(register(owner, handle="@livuni", platform="x", central=True)["id"])
        ctx.db.conn.execute("UPDATE accounts SET connector = json_object('kind', ?) WHERE id = ?", [kind, central])
        ctx.db.conn.commit()
        return central

    return make


def message_sent(client: FlaskClient, author: Login, approver: Login) -> tuple[dict[str, Any], dict[str, Any]]:
    """Declare an incident, draft an update through every central account, have it approved:
    the incident and the approved message."""
    incident = client.post("/api/v1/incidents", json={"title": "T", "reason": "R"}, headers=author.headers).json
    message = client.post(
        f"/api/v1/incidents/{incident['id']}/messages", json={"body": "Update"}, headers=author.headers
    ).json
    approved = client.post(
        f"/api/v1/incidents/{incident['id']}/messages/{message['id']}/approve", headers=approver.headers
    ).json
    return incident, approved


def test_a_delivery_error_is_read_in_full_only_by_press_ermc_and_the_accounts_manager(
    client: FlaskClient,
    make_user: Callable[..., Login],
    register: Callable[..., dict[str, Any]],
    central_on: Callable[[Login, str], int],
) -> None:
    press, press2, ermc = make_user("press"), make_user("press"), make_user("ermc")
    owner, other = make_user("manager"), make_user("manager")
    central_on(owner, "refusing")
    register(other, handle="@livuni_chem")
    incident, message = message_sent(client, press, press2)
    assert message["deliveries"][0]["state"] == "failed"

    def seen_by(login: Login) -> tuple[str, str]:
        listed = client.get(f"/api/v1/incidents/{incident['id']}/messages", headers=login.headers).json
        report = client.get(f"/api/v1/incidents/{incident['id']}/report", headers=login.headers).json
        last = next(m for m in listed["items"] if m["id"] == message["id"])
        reported = next(m for m in report["messages"] if m["id"] == message["id"])
        return last["deliveries"][0]["error"], reported["deliveries"][0]["error"]

    for reader in (press, ermc, owner):
        assert seen_by(reader) == (SECRET_WORDS, SECRET_WORDS)
    assert seen_by(other) == (HIDDEN, HIDDEN)


def test_a_delivery_error_is_kept_capped_like_a_posts(
    client: FlaskClient,
    make_user: Callable[..., Login],
    central_on: Callable[[Login, str], int],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(f"{__name__}.SECRET_WORDS", "HTTP 500: " + "x" * 20_000)
    central_on(make_user("manager"), "refusing")
    _, approved = message_sent(client, make_user("press"), make_user("press"))
    assert len(approved["deliveries"][0]["error"]) == MAX_ERROR_CHARS


class DeduplicatingPlatform(Connector):
    """Mastodon-like: it keeps Idempotency-Keys for an hour, and here answers a 502."""

    kind = "deduplicating"
    deduplicates_publish_for = timedelta(hours=1)

    def publish(self, post: OutgoingPost) -> Published:
        raise ConnectorError("HTTP 502: bad gateway", permanent=False, status=502)

    def delete(self, remote_id: str) -> None:
        """Nothing was published."""

    def check(self) -> Ready:
        return Ready(account="fake")


def test_a_message_without_a_clear_answer_from_a_deduplicating_platform_is_unknown_not_failed(
    client: FlaskClient, make_user: Callable[..., Login], central_on: Callable[[Login, str], int]
) -> None:
    # A message is never retried, so the platform's de-duplication cannot help: it may be live.
    central_on(make_user("manager"), "deduplicating")
    _, approved = message_sent(client, make_user("press"), make_user("press"))
    assert approved["deliveries"][0]["state"] == "unknown", approved


def test_the_report_shows_a_failed_posts_platform_answer_only_to_those_who_may_read_it(
    client: FlaskClient, ctx: Any, make_user: Callable[..., Login], register: Callable[..., dict[str, Any]]
) -> None:
    press, owner, other = make_user("press"), make_user("manager"), make_user("manager")
    chem = register(owner, handle="@livuni_chem")["id"]
    incident = client.post("/api/v1/incidents", json={"title": "T", "reason": "R"}, headers=press.headers).json
    client.post(
        "/api/v1/posts",
        json={"account_id": chem, "body": "Open day", "scheduled_at": "2031-01-01T09:00:00Z"},
        headers=owner.headers,
    )
    ctx.db.conn.execute(
        "UPDATE posts SET state = 'failed', scheduled_at = ?, error = ?, error_code = 'permanent', error_status = 403",
        [incident["declared_at"], SECRET_WORDS],
    )
    ctx.db.conn.commit()

    def held_error(login: Login) -> str:
        report = client.get(f"/api/v1/incidents/{incident['id']}/report", headers=login.headers).json
        account = next(a for a in report["accounts"] if a["account_id"] == chem)
        return str(account["held_posts"][0]["error"])

    assert held_error(owner) == SECRET_WORDS
    assert SECRET_WORDS not in held_error(other)
    assert "HTTP 403" in held_error(other)


PLATFORMS = {"refusing": "RefusingPlatform", "deduplicating": "DeduplicatingPlatform"}
