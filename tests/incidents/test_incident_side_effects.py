"""What happens around a declaration: managers' email through a real SMTP server, and posts
scheduled on Mastodon and Facebook themselves withdrawn and put back."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs

import pytest
import responses
from aiosmtpd.controller import Controller
from flask.testing import FlaskClient

from connectors.versions import DEFAULT_GRAPH_VERSION
from lockdown.app import create_app
from lockdown.crypto import Vault
from lockdown.incidents.native_schedules import process_native_schedules
from lockdown.notify.delivery import deliver_due
from lockdown.settings import Settings
from lockdown.store import audit
from lockdown.store.context import Context
from lockdown.store.db import connect
from tests.conftest import SECRET, Login, free_port
from tests.connectors import mastodon_fake
from tests.connectors.openapi_check import SpecCheck
from tests.notify.test_notify_delivery import Mailbox

VAULT_KEY = base64.b64encode(b"V" * 32).decode()


@pytest.fixture
def smtp() -> Iterator[tuple[Mailbox, int]]:
    mailbox, port = Mailbox(), free_port()
    controller = Controller(mailbox, hostname="127.0.0.1", port=port)
    controller.start()
    yield mailbox, port
    controller.stop()


def full_settings(settings: Settings, smtp_port: int) -> Settings:
    return Settings.from_env(
        {
            "LOCKDOWN_DB": str(settings.db_path),
            "LOCKDOWN_SECRET_KEY": SECRET,
            "LOCKDOWN_SMTP_URL": f"smtp://127.0.0.1:{smtp_port}",
            "LOCKDOWN_MAIL_FROM": "lockdown@livuni.ac.uk",
            "LOCKDOWN_VAULT_KEY": VAULT_KEY,
        }
    )


def test_every_affected_manager_and_editor_gets_an_email_and_can_acknowledge(
    settings: Settings,
    smtp: tuple[Mailbox, int],
    make_user: Callable[..., Login],
    register: Callable[..., dict[str, Any]],
) -> None:
    mailbox, port = smtp
    configured = full_settings(settings, port)
    api = create_app(configured).test_client()
    press, manager, editor, central_owner = (
        make_user("press"), make_user("manager"), make_user("manager"), make_user("manager"),
    )  # fmt: skip
    register(manager, handle="@livuni_chem", editors=[editor.email])
    register(central_owner, handle="@livuni", central=True)
    declared = api.post(
        "/api/v1/incidents", json={"title": "Gas leak", "reason": "Reported by estates"}, headers=press.headers
    ).json
    ctx = Context(connect(configured.db_path), audit.audit_key(SECRET.encode()))
    report = deliver_due(ctx, configured)
    assert report.sent == 3
    letters = {message["To"]: message for message in mailbox.parsed()}
    assert set(letters) == {manager.email, editor.email, central_owner.email}
    letter = letters[editor.email]
    assert letter["Subject"] == "Lockdown: Gas leak - your accounts are on hold"
    text = letter.get_content()
    assert "@livuni_chem (x)" in text
    assert "@livuni (x)" not in text
    assert f"/api/v1/incidents/{declared['id']}/ack" in text
    api.post(f"/api/v1/incidents/{declared['id']}/ack", headers=editor.headers)
    acks = api.get(f"/api/v1/incidents/{declared['id']}", headers=press.headers).json["acknowledgements"]
    assert [a["email"] for a in acks["acknowledged"]] == [editor.email]
    assert {a["notice"] for a in acks["not_acknowledged"]} == {"sent"}
    api.post(f"/api/v1/incidents/{declared['id']}/resolve", json={}, headers=press.headers)
    deliver_due(ctx, configured)
    resolved = [m for m in mailbox.parsed() if "resolved" in m["Subject"]]
    assert len(resolved) == 3
    ctx.db.close()


def test_mail_failure_never_blocks_a_declaration(
    settings: Settings, make_user: Callable[..., Login], register: Callable[..., dict[str, Any]]
) -> None:
    configured = full_settings(settings, free_port())  # nothing listens there
    api = create_app(configured).test_client()
    press, manager = make_user("press"), make_user("manager")
    register(manager)
    declared = api.post("/api/v1/incidents", json={"title": "T", "reason": "R"}, headers=press.headers)
    assert declared.status_code == 201
    ctx = Context(connect(configured.db_path), audit.audit_key(SECRET.encode()))
    assert deliver_due(ctx, configured).retried == 1
    state, error = ctx.db.conn.execute("SELECT state, error FROM notifications").fetchone()
    assert state == "pending"
    assert error
    ctx.db.close()


MASTODON = "https://mastodon.example"
GRAPH = f"https://graph.facebook.com/{DEFAULT_GRAPH_VERSION}"


@pytest.fixture
def platforms(settings: Settings) -> Iterator[responses.RequestsMock]:
    with responses.RequestsMock(assert_all_requests_are_fired=False) as fake:
        yield fake


def test_posts_scheduled_on_the_platforms_are_withdrawn_after_declaring_and_restored_after(
    settings: Settings,
    platforms: responses.RequestsMock,
    make_user: Callable[..., Login],
    register: Callable[..., dict[str, Any]],
) -> None:
    configured = full_settings(settings, free_port())
    api: FlaskClient = create_app(configured).test_client()
    press, manager, ermc = make_user("press"), make_user("manager"), make_user("ermc")
    toots = register(
        manager, handle="@livuni_toots", platform="mastodon", connector={"kind": "mastodon", "base_url": MASTODON}
    )
    page = register(
        manager, handle="livuni_page", platform="facebook", connector={"kind": "facebook", "page_id": "4242"}
    )
    api.put(f"/api/v1/accounts/{toots['id']}/connector-secrets", json={"access_token": "m-token"}, headers=ermc.headers)
    api.put(
        f"/api/v1/accounts/{page['id']}/connector-secrets", json={"page_access_token": "fb-token"}, headers=ermc.headers
    )
    soon = datetime.now(UTC) + timedelta(hours=2)
    platforms.get(
        f"{MASTODON}/api/v1/scheduled_statuses",
        json=[mastodon_fake.scheduled("77", soon.strftime("%Y-%m-%dT%H:%M:%S.000Z"), {"text": "Open day!"})],
    )
    platforms.put(
        f"{MASTODON}/api/v1/scheduled_statuses/77",
        json=mastodon_fake.scheduled("77", "2031-01-01T00:00:00.000Z", {"text": "Open day!"}),
    )
    platforms.get(
        f"{GRAPH}/4242/scheduled_posts",
        json={"data": [{"id": "4242_9", "message": "Welcome week", "scheduled_publish_time": int(soon.timestamp())}]},
    )
    platforms.delete(f"{GRAPH}/4242_9", json={"success": True})
    platforms.post(f"{GRAPH}/4242/feed", json={"id": "4242_10"})
    declared = api.post("/api/v1/incidents", json={"title": "T", "reason": "R"}, headers=press.headers).json
    ctx = Context(connect(configured.db_path), audit.audit_key(SECRET.encode()))
    vault = Vault(configured.vault_keys)
    first = process_native_schedules(ctx, vault)
    assert (first.listed, first.withdrawn, first.failed) == (2, 2, 0)
    postponed = [c.request for c in platforms.calls if c.request.method == "PUT"]
    assert len(postponed) == 1
    moved_to = json.loads(postponed[0].body or b"{}").get("scheduled_at") or parse_qs(postponed[0].body or "").get(
        "scheduled_at"
    )
    assert moved_to, "Mastodon's status was moved, not deleted"
    assert any(c.request.method == "DELETE" and c.request.url.endswith("/4242_9") for c in platforms.calls)
    api.post(f"/api/v1/incidents/{declared['id']}/resolve", json={}, headers=press.headers)
    second = process_native_schedules(ctx, vault)
    assert second.restored == 2
    recreated = [
        c.request
        for c in platforms.calls
        if c.request.method == "POST" and c.request.url.startswith(f"{GRAPH}/4242/feed")
    ]
    assert len(recreated) == 1
    sent = parse_qs(recreated[0].body if isinstance(recreated[0].body, str) else (recreated[0].body or b"").decode())
    form = sent or json.loads(recreated[0].body or b"{}")
    assert "Welcome week" in str(form)
    spec = SpecCheck("mastodon.openapi.json")
    for call in platforms.calls:
        if call.request.url.startswith(MASTODON):
            spec.validate(call.request, instances=[MASTODON])
            spec.validate_response(call.request, call.response, instances=[MASTODON])
    timeline = [
        e["kind"] for e in api.get(f"/api/v1/incidents/{declared['id']}", headers=press.headers).json["timeline"]
    ]
    assert timeline.count("native_withdrawn") == 2
    assert timeline.count("native_restored") == 2
    assert all("token" not in (c.request.url or "") for c in platforms.calls if c.request.url.startswith(MASTODON))
    ctx.db.close()


def test_a_failing_platform_is_retried_and_the_failure_is_on_the_timeline(
    settings: Settings,
    platforms: responses.RequestsMock,
    make_user: Callable[..., Login],
    register: Callable[..., dict[str, Any]],
) -> None:
    configured = full_settings(settings, free_port())
    api = create_app(configured).test_client()
    press, manager, ermc = make_user("press"), make_user("manager"), make_user("ermc")
    toots = register(
        manager, handle="@livuni_toots", platform="mastodon", connector={"kind": "mastodon", "base_url": MASTODON}
    )
    api.put(f"/api/v1/accounts/{toots['id']}/connector-secrets", json={"access_token": "m-token"}, headers=ermc.headers)
    platforms.get(f"{MASTODON}/api/v1/scheduled_statuses", status=503, json={"error": "down for maintenance"})
    declared = api.post("/api/v1/incidents", json={"title": "T", "reason": "R"}, headers=press.headers).json
    ctx = Context(connect(configured.db_path), audit.audit_key(SECRET.encode()))
    report = process_native_schedules(ctx, Vault(configured.vault_keys))
    assert report.retried == 1
    state, attempts, due = ctx.db.conn.execute(
        "SELECT state, attempts, next_attempt_at FROM native_schedules"
    ).fetchone()
    assert (state, attempts) == ("to_list", 1)
    assert due > datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S")
    timeline = api.get(f"/api/v1/incidents/{declared['id']}", headers=press.headers).json["timeline"]
    retry = next(e for e in timeline if e["kind"] == "native_retry")
    assert "down for maintenance" in retry["details"]["error"]
    ctx.db.close()
