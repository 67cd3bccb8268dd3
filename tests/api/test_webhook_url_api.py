"""Webhook URLs are credentials (#12, finding 11): anyone holding a Slack or Teams hook URL can
post to its channel. The API takes the URL as before but keeps it as a connector secret
(encrypted like a token), shows it masked to every role, and never writes it to the audit
trail; the webhook still posts to the whole URL."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient

from lockdown.posting import posts
from lockdown.posting.dispatch import Dispatcher
from lockdown.settings import Settings
from lockdown.store import audit
from lockdown.store.context import Context
from tests.conftest import SECRET, Login

START = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
HOOK_PATH = "/services/T0SECRET/B0SECRET/XXsecretXX"


@pytest.fixture
def receiver() -> Iterator[tuple[int, list[str]]]:
    paths: list[str] = []

    class Hook(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            paths.append(self.path)
            self.send_response(200)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Hook)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server.server_address[1], paths
    server.shutdown()
    server.server_close()


@pytest.fixture
def hook_account(
    client: FlaskClient, ermc: Login, manager: Login, receiver: tuple[int, list[str]]
) -> tuple[dict[str, Any], str]:
    url = f"http://127.0.0.1:{receiver[0]}{HOOK_PATH}"
    created = client.post(
        "/api/v1/accounts",
        json={
            "handle": "@livuni_hook",
            "platform": "other",
            "unit": "IT",
            "purpose": "Relay to the team channel",
            "monitored_hours": "24/7",
            "manager": manager.email,
            "connector": {"kind": "webhook", "url": url},
        },
        headers=ermc.headers,
    )
    assert created.status_code == 201, created.json
    body: dict[str, Any] = created.json
    return body, url


def send_one(settings: Settings, ctx: Context, ermc: Login, manager: Login, account_id: int) -> dict[str, Any]:
    ctx.clock = lambda: START - timedelta(hours=1)
    post = posts.create_post(
        ctx, manager.user, {"account_id": account_id, "body": "Hello", "scheduled_at": START.isoformat()}
    )
    posts.approve_post(ctx, ermc.user, post["id"])
    worker = Dispatcher(settings, audit.audit_key(SECRET.encode()), clock=lambda: START)
    try:
        worker.tick()
    finally:
        worker.close()
    return posts.get_post(ctx.db, post["id"])


def test_a_webhook_url_is_shown_masked_to_every_role_and_kept_out_of_the_audit_trail(
    client: FlaskClient,
    settings: Settings,
    ermc: Login,
    press: Login,
    manager: Login,
    make_user: Callable[..., Login],
    hook_account: tuple[dict[str, Any], str],
    receiver: tuple[int, list[str]],
) -> None:
    account, _ = hook_account
    masked = f"http://127.0.0.1:{receiver[0]}/…"
    assert account["connector"] == {"kind": "webhook", "url": masked}
    for who in (ermc, press, manager, make_user("manager")):
        one = client.get(f"/api/v1/accounts/{account['id']}", headers=who.headers)
        listed = client.get("/api/v1/accounts", headers=who.headers)
        for response in (one, listed):
            assert "SECRET" not in response.get_data(as_text=True)
        assert one.json["connector"]["url"] == masked
    trail = client.get("/api/v1/audit?limit=1000", headers=ermc.headers)
    assert trail.status_code == 200
    assert "SECRET" not in trail.get_data(as_text=True)
    exported = client.get("/api/v1/accounts/export", headers=ermc.headers)
    assert "SECRET" not in exported.get_data(as_text=True)
    status = client.get(f"/api/v1/accounts/{account['id']}/connector-secrets", headers=press.headers).json
    assert [(s["name"], s["set"]) for s in status["secrets"]] == [("url", True)]
    raw = b"".join(path.read_bytes() for path in Path(settings.db_path).parent.glob("lockdown.db*"))
    assert b"T0SECRET" not in raw, "the URL is stored in clear"


def test_the_webhook_still_posts_to_the_whole_url_even_after_an_edit_sends_the_mask_back(
    client: FlaskClient,
    settings: Settings,
    ctx: Context,
    ermc: Login,
    manager: Login,
    hook_account: tuple[dict[str, Any], str],
    receiver: tuple[int, list[str]],
) -> None:
    account, _ = hook_account
    # What the console's edit form (and a client that PATCHes back what it read) sends.
    echoed = client.patch(
        f"/api/v1/accounts/{account['id']}",
        json={"purpose": "Relay", "connector": account["connector"]},
        headers=ermc.headers,
    )
    assert echoed.status_code == 200, echoed.json

    assert send_one(settings, ctx, ermc, manager, account["id"])["state"] == "published"
    assert receiver[1] == [HOOK_PATH]


def test_a_new_webhook_url_replaces_the_old_one_but_only_ermc_moves_it_to_another_host(
    client: FlaskClient,
    settings: Settings,
    ctx: Context,
    ermc: Login,
    manager: Login,
    hook_account: tuple[dict[str, Any], str],
    receiver: tuple[int, list[str]],
) -> None:
    account, url = hook_account
    secrets_url = f"/api/v1/accounts/{account['id']}/connector-secrets"
    moved = client.put(secrets_url, json={"url": "https://hooks.example.org/steal"}, headers=manager.headers)
    assert (moved.status_code, moved.json["error"]["field"]) == (400, "url")
    rotated = client.put(secrets_url, json={"url": url.replace("XXsecretXX", "YYnewYY")}, headers=manager.headers)
    assert rotated.status_code == 200, rotated.json

    assert send_one(settings, ctx, ermc, manager, account["id"])["state"] == "published"
    assert receiver[1] == [HOOK_PATH.replace("XXsecretXX", "YYnewYY")]
