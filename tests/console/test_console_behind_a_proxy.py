"""Behind a reverse proxy: with LOCKDOWN_TRUSTED_PROXIES the sign-in counts the client address the
proxy forwards, so a stranger's failures stop the stranger's address only; from any other peer a
forwarded-for header changes nothing."""

from __future__ import annotations

import os
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from tests.conftest import LOCKDOWN, SECRET, VAULT_KEY, free_port
from tests.console.console_kit import MANAGER, Site, make_site, sign_in_form, token_of


@pytest.fixture
def site(tmp_path: Path) -> Iterator[Site]:
    yield from make_site(tmp_path)


@pytest.fixture
def proxied(tmp_path: Path) -> Iterator[Site]:
    # The test client's peer is 127.0.0.1: the reverse proxy in front, with a load balancer
    # (10.1.1.1) in front of that.
    yield from make_site(tmp_path, {"LOCKDOWN_TRUSTED_PROXIES": "127.0.0.1, 10.0.0.0/8"})


def test_behind_a_trusted_proxy_each_forwarded_client_is_counted_alone(proxied: Site) -> None:
    app = proxied.app
    statuses = [
        sign_in_form(app, f"guess{n}@livuni.ac.uk", password="x", forwarded_for="203.0.113.5")().status_code
        for n in range(21)
    ]
    assert statuses == [401] * 20 + [429], "the stranger's address is stopped"
    assert sign_in_form(app, MANAGER, forwarded_for="198.51.100.7")().status_code == 302, "and only theirs"
    # Through the load balancer too: the first address from the right that is not a trusted proxy.
    assert sign_in_form(app, MANAGER, forwarded_for="203.0.113.5, 10.1.1.1")().status_code == 429
    assert sign_in_form(app, MANAGER, forwarded_for="203.0.113.5, 198.51.100.7, 10.1.1.1")().status_code == 302
    audited = proxied.ctx.db.conn.execute(
        "SELECT json_extract(details, '$.address') FROM audit_log WHERE action = 'user.sign_in_failed' LIMIT 1"
    ).fetchone()[0]
    assert audited == "203.0.113.5"


def test_a_forwarded_for_header_from_a_peer_that_is_not_a_trusted_proxy_is_ignored(site: Site) -> None:
    statuses = [
        sign_in_form(site.app, f"guess{n}@livuni.ac.uk", password="x", forwarded_for=f"192.0.2.{n}")().status_code
        for n in range(21)
    ]
    assert statuses == [401] * 20 + [429], "a made-up header does not give a stranger fresh addresses"


def test_lockdown_serve_counts_the_address_a_trusted_proxy_forwards(tmp_path: Path) -> None:
    """waitress drops proxy headers it was not told to trust: through the real server, the
    forwarded address must still reach the sign-in."""
    for site in make_site(tmp_path):
        port = free_port()
        env = {**os.environ, "LOCKDOWN_DB": str(tmp_path / "c.db"), "LOCKDOWN_SECRET_KEY": SECRET,
               "LOCKDOWN_VAULT_KEY": VAULT_KEY, "LOCKDOWN_TRUSTED_PROXIES": "127.0.0.1"}  # fmt: skip
        log = tmp_path / "serve.log"
        with log.open("w") as out:
            server = subprocess.Popen(
                [LOCKDOWN, "serve", "--no-scheduler", "--port", str(port)], env=env, stdout=out, stderr=out
            )
        try:
            url = f"http://127.0.0.1:{port}"
            _wait_until_up(url, log)
            page = requests.get(f"{url}/sign-in", timeout=10)
            # The session cookie is Secure, so requests keeps it from plain http: send it by hand.
            cookie = page.headers["Set-Cookie"].split(";", 1)[0]
            answer = requests.post(
                f"{url}/sign-in",
                data={"csrf_token": token_of(page.text), "email": MANAGER, "password": "wrong", "next": "/"},
                headers={"Cookie": cookie, "X-Forwarded-For": "203.0.113.77"},
                timeout=30,
                allow_redirects=False,
            )
            assert answer.status_code == 401, answer.text
        finally:
            server.terminate()
            server.wait(timeout=20)
        addresses = [row[0] for row in site.ctx.db.conn.execute("SELECT address FROM sign_in_attempts")]
        assert addresses == ["203.0.113.77"]


def _wait_until_up(url: str, log: Path) -> None:
    for _ in range(300):
        try:
            if requests.get(f"{url}/healthz", timeout=2).status_code in (200, 503):
                return
        except requests.ConnectionError:
            pass
        threading.Event().wait(0.1)
    pytest.fail("lockdown serve did not start:\n" + log.read_text())
