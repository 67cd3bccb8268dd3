"""Server-side request forgery (#12, finding 4): the dispatcher sends a connector's requests only
to public addresses, unless LOCKDOWN_OUTBOUND_ALLOW lists more; it follows no redirect; and a
platform's own error words are shown only to ERMC and the account's manager.

Each test runs the real dispatcher against fake platform servers on loopback. This module's
installation allows nothing beyond public addresses (the other tests allow loopback), so a
server on 127.0.0.1 stands for "this machine" or "the campus network"."""

from __future__ import annotations

import ipaddress
import itertools
import json
import socket
import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient

from connectors.http import new_session
from connectors.outbound import OutboundPolicy, is_public
from lockdown.posting import posts
from lockdown.posting.dispatch import Dispatcher
from lockdown.settings import Settings
from lockdown.store import audit
from lockdown.store.context import Context
from tests.conftest import SECRET, VAULT_KEY, Login

HANDLES = itertools.count(1)
START = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """An installation on its defaults: no outbound allowlist."""
    return Settings.from_env(
        {"LOCKDOWN_DB": str(tmp_path / "lockdown.db"), "LOCKDOWN_SECRET_KEY": SECRET, "LOCKDOWN_VAULT_KEY": VAULT_KEY}
    )


class Platform:
    """A fake Mastodon instance on loopback that records every request it gets."""

    def __init__(self, host: str = "127.0.0.1", answer: Callable[[BaseHTTPRequestHandler], None] | None = None):
        self.calls: list[dict[str, Any]] = []
        platform = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                platform.calls.append(
                    {
                        "path": self.path,
                        "authorization": self.headers.get("Authorization"),
                        "body": self.rfile.read(length).decode(),
                    }
                )
                if answer is not None:
                    answer(self)
                    return
                body = json.dumps({"id": "1", "url": "https://example.org/1"}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        class Server(ThreadingHTTPServer):
            address_family = socket.AF_INET6 if ":" in host else socket.AF_INET

        self.server = Server((host, 0), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def platform() -> Iterator[Platform]:
    server = Platform()
    yield server
    server.close()


def reply(status: int, body: dict[str, Any], **headers: str) -> Callable[[BaseHTTPRequestHandler], None]:
    def answer(handler: BaseHTTPRequestHandler) -> None:
        data = json.dumps(body).encode()
        handler.send_response(status)
        for name, value in {"Content-Type": "application/json", **headers}.items():
            handler.send_header(name, value)
        handler.send_header("Content-Length", str(len(data)))
        handler.end_headers()
        handler.wfile.write(data)

    return answer


@pytest.fixture
def publish(
    settings: Settings,
    client: FlaskClient,
    ctx: Context,
    ermc: Login,
    make_user: Callable[..., Login],
) -> Callable[..., tuple[int, int]]:
    """Register a Mastodon account at ``base_url``, deposit its token, approve a post and run
    the dispatcher once; returns (account id, post id)."""

    def run(base_url: str, *, settings_: Settings | None = None, manager: Login | None = None) -> tuple[int, int]:
        manager = manager or make_user("manager")
        created = client.post(
            "/api/v1/accounts",
            json={
                "handle": f"@livuni_toots{next(HANDLES)}",
                "platform": "mastodon",
                "unit": "Press office",
                "purpose": "News",
                "monitored_hours": "24/7",
                "manager": manager.email,
                "connector": {"kind": "mastodon", "base_url": base_url},
            },
            headers=ermc.headers,
        )
        assert created.status_code == 201, created.json
        account_id = created.json["id"]
        deposited = client.put(
            f"/api/v1/accounts/{account_id}/connector-secrets",
            json={"access_token": "manager-token-123"},
            headers=manager.headers,
        )
        assert deposited.status_code == 200, deposited.json
        ctx.clock = lambda: START - timedelta(hours=1)
        post = posts.create_post(
            ctx, manager.user, {"account_id": account_id, "body": "Open day", "scheduled_at": START.isoformat()}
        )
        posts.approve_post(ctx, ermc.user, post["id"])
        worker = Dispatcher(settings_ or settings, audit.audit_key(SECRET.encode()), clock=lambda: START)
        try:
            worker.tick()
        finally:
            worker.close()
        return account_id, int(post["id"])

    return run


@pytest.mark.parametrize(
    "host",
    ["127.0.0.1", "0x7f000001", "2130706433", "127.1", "localhost", "LocalHost."],
)
def test_a_connector_url_naming_this_machine_is_refused_in_any_spelling(
    publish: Callable[..., tuple[int, int]], platform: Platform, ctx: Context, host: str
) -> None:
    _, post_id = publish(f"http://{host}:{platform.port}")

    assert platform.calls == [], "the token went to this machine"
    post = posts.get_post(ctx.db, post_id)
    assert post["state"] == "failed"
    assert "not a public address" in post["error"]


def test_an_ipv6_loopback_url_is_refused_before_connecting(
    publish: Callable[..., tuple[int, int]], ctx: Context
) -> None:
    try:
        server = Platform(host="::1")
    except OSError:
        pytest.skip("no IPv6 loopback on this machine")
    try:
        _, post_id = publish(f"http://[::1]:{server.port}")
    finally:
        server.close()
    assert server.calls == []
    post = posts.get_post(ctx.db, post_id)
    assert (post["state"], "not a public address" in post["error"]) == ("failed", True)


def test_a_name_is_judged_by_the_address_it_resolves_to(
    publish: Callable[..., tuple[int, int]], platform: Platform, ctx: Context, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = socket.getaddrinfo

    def campus_dns(host: Any, port: Any, *args: Any, **kwargs: Any) -> Any:
        # A public-looking name whose DNS answer is this machine.
        return real("127.0.0.1" if host == "mastodon.example.org" else host, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", campus_dns)
    _, post_id = publish(f"http://mastodon.example.org:{platform.port}")

    assert platform.calls == []
    assert "mastodon.example.org (127.0.0.1)" in posts.get_post(ctx.db, post_id)["error"]


def test_the_allowlist_lets_a_private_deployment_reach_its_own_instance(
    publish: Callable[..., tuple[int, int]], platform: Platform, settings: Settings, ctx: Context
) -> None:
    allowed = Settings.from_env(
        {
            "LOCKDOWN_DB": str(settings.db_path),
            "LOCKDOWN_SECRET_KEY": SECRET,
            "LOCKDOWN_VAULT_KEY": VAULT_KEY,
            "LOCKDOWN_OUTBOUND_ALLOW": "10.0.0.0/8, 127.0.0.1/32",
        }
    )
    _, post_id = publish(f"http://127.0.0.1:{platform.port}", settings_=allowed)

    assert posts.get_post(ctx.db, post_id)["state"] == "published"
    assert [call["authorization"] for call in platform.calls] == ["Bearer manager-token-123"]


def test_a_redirect_is_not_followed_so_the_post_and_its_token_stay_with_the_platform(
    publish: Callable[..., tuple[int, int]], settings: Settings, ctx: Context
) -> None:
    thief = Platform(host="127.0.0.1")
    # The platform (allowed) answers 307, which would resend the body to the thief (not allowed).
    instance = Platform(
        host="127.0.0.2",
        answer=reply(307, {}, Location=f"http://127.0.0.1:{thief.port}/steal"),
    )
    allowed = Settings.from_env(
        {
            "LOCKDOWN_DB": str(settings.db_path),
            "LOCKDOWN_SECRET_KEY": SECRET,
            "LOCKDOWN_VAULT_KEY": VAULT_KEY,
            "LOCKDOWN_OUTBOUND_ALLOW": "127.0.0.2",
        }
    )
    try:
        _, post_id = publish(f"http://127.0.0.2:{instance.port}", settings_=allowed)
    finally:
        thief.close()
        instance.close()

    assert len(instance.calls) == 1
    assert thief.calls == []
    post = posts.get_post(ctx.db, post_id)
    assert post["state"] == "failed"
    assert "redirect" in post["error"]


@pytest.mark.parametrize(
    ("address", "public"),
    [
        ("169.254.169.254", False),  # the cloud's metadata service
        ("10.1.2.3", False),
        ("172.16.0.1", False),
        ("192.168.1.1", False),
        ("100.64.0.1", False),
        ("0.0.0.0", False),  # noqa: S104 - an address judged, not bound
        ("224.0.0.1", False),
        ("255.255.255.255", False),
        ("::1", False),
        ("::ffff:127.0.0.1", False),
        ("fe80::1", False),
        ("fd00::1", False),
        ("64:ff9b::a9fe:a9fe", False),  # NAT64 of 169.254.169.254
        ("2002:a9fe:a9fe::1", False),  # 6to4 of 169.254.169.254
        ("2001:0:a9fe:a9fe::1", False),  # Teredo
        ("8.8.8.8", True),
        ("2a00:1450:4009:81f::200e", True),
    ],
)
def test_only_public_addresses_are_public(address: str, public: bool) -> None:
    ip = ipaddress.ip_address(address)
    assert is_public(ip) is public
    assert OutboundPolicy().allows(ip) is public


def test_the_allowlist_takes_networks_and_host_names_and_refuses_anything_else() -> None:
    policy = OutboundPolicy.parse(["10.0.0.0/8", " ::1 ", "Mastodon.Campus.Example.", ""])
    assert policy.allows(ipaddress.ip_address("10.9.9.9"))
    assert policy.allows(ipaddress.ip_address("::1"))
    assert not policy.allows(ipaddress.ip_address("169.254.169.254"))
    assert policy.resolve("mastodon.campus.example", 443) is None
    with pytest.raises(ValueError, match="not_a host"):
        OutboundPolicy.parse(["not_a host"])


def test_a_platforms_error_body_is_shown_only_to_ermc_and_the_manager_and_capped(
    publish: Callable[..., tuple[int, int]],
    settings: Settings,
    client: FlaskClient,
    ermc: Login,
    press: Login,
    make_user: Callable[..., Login],
) -> None:
    said = "INTERNAL-ONLY: staff directory at http://10.0.0.5/staff " + "x" * 5000
    instance = Platform(answer=reply(403, {"error": said}))
    allowed = Settings.from_env(
        {
            "LOCKDOWN_DB": str(settings.db_path),
            "LOCKDOWN_SECRET_KEY": SECRET,
            "LOCKDOWN_VAULT_KEY": VAULT_KEY,
            "LOCKDOWN_OUTBOUND_ALLOW": "127.0.0.1",
        }
    )
    manager, other_manager = make_user("manager"), make_user("manager")
    try:
        account_id, post_id = publish(f"http://127.0.0.1:{instance.port}", settings_=allowed, manager=manager)
    finally:
        instance.close()

    for who in (press, other_manager):
        one = client.get(f"/api/v1/posts/{post_id}", headers=who.headers).json
        listed = client.get(f"/api/v1/posts?account_id={account_id}", headers=who.headers).json["items"]
        for post in (one, *listed):
            assert post["state"] == "failed"
            assert "INTERNAL-ONLY" not in post["error"]
            assert "403" in post["error"]
            assert (post["error_code"], post["error_status"]) == ("permanent", 403)
    for who in (ermc, manager):
        post = client.get(f"/api/v1/posts/{post_id}", headers=who.headers).json
        assert "HTTP 403: INTERNAL-ONLY: staff directory" in post["error"]
        assert len(post["error"]) <= 600


def test_a_proxy_from_the_environment_is_not_used_so_every_address_is_checked_here(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Through a proxy, the proxy would resolve and reach the host, past the address check.
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.campus.example:3128")
    monkeypatch.setenv("HTTP_PROXY", "http://proxy.campus.example:3128")
    session = new_session(outbound=OutboundPolicy.parse([]))
    chosen = session.merge_environment_settings("https://mastodon.example/api/v1/statuses", {}, None, None, None)
    assert chosen["proxies"] == {}
