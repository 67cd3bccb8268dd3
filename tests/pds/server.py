"""The reference Bluesky PDS (``@atproto/pds`` from npm, ``npm ci --prefix tests/pds``) as a
session fixture: started once on loopback with its rate limits on, stopped at the end, and a
helper that creates accounts with app passwords. Without ``node_modules`` the tests that need
it are skipped on a developer's machine and fail in CI, where they must run."""

from __future__ import annotations

import base64
import hashlib
import itertools
import json
import os
import select
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

HERE = Path(__file__).parent
STARTED_WITHIN = 60.0
_names = itertools.count(1)


class XrpcFailed(Exception):
    """The PDS refused a test's own call; ``error`` is its XRPC error body."""

    def __init__(self, status: int, error: dict[str, Any]) -> None:
        super().__init__(f"HTTP {status}: {error}")
        self.status = status
        self.error = error


@dataclass(frozen=True)
class PdsAccount:
    handle: str
    did: str
    password: str
    app_password: str


@dataclass
class Pds:
    """A running PDS: its URL (``http://localhost:PORT``, loopback only) and admin password."""

    url: str
    admin_password: str

    def xrpc(self, method: str, *, token: str | None = None, body: Any = None, **params: Any) -> Any:
        """One XRPC call, as a test's own eye on the PDS (not through the connector)."""
        # httpx, not requests: the connector tests answer every requests call with a fake.
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        url = f"{self.url}/xrpc/{method}"
        if body is None:
            response = httpx.get(url, params=params, headers=headers, timeout=10)
        else:
            response = httpx.post(url, json=body, headers=headers, timeout=10)
        if response.is_error:
            raise XrpcFailed(response.status_code, response.json() if response.content else {})
        return response.json() if response.content else {}

    def blob(self, did: str, cid: str) -> bytes:
        """A blob's bytes as the PDS serves them to anyone (com.atproto.sync.getBlob)."""
        response = httpx.get(f"{self.url}/xrpc/com.atproto.sync.getBlob", params={"did": did, "cid": cid}, timeout=10)
        if response.is_error:
            raise XrpcFailed(response.status_code, response.json() if response.content else {})
        return response.content

    def account(self, name: str = "acct") -> PdsAccount:
        """A new account ``NAME-N.test`` with an app password, as a manager would set one up."""
        handle = f"{name}-{next(_names)}.test"
        password = f"pw-{handle}-0123456789"
        made = self.xrpc(
            "com.atproto.server.createAccount",
            body={"handle": handle, "email": f"{handle}@example.com", "password": password},
        )
        app = self.xrpc("com.atproto.server.createAppPassword", token=made["accessJwt"], body={"name": "lockdown"})
        return PdsAccount(handle=handle, did=made["did"], password=password, app_password=app["password"])

    def posts(self, did: str) -> list[dict[str, Any]]:
        """Every post in the account's repository, newest first (listRecords, no AppView)."""
        found: list[dict[str, Any]] = []
        cursor = None
        while True:
            page = self.xrpc(
                "com.atproto.repo.listRecords",
                repo=did,
                collection="app.bsky.feed.post",
                limit=100,
                **({"cursor": cursor} if cursor else {}),
            )
            found.extend(page["records"])
            cursor = page.get("cursor")
            if not cursor or not page["records"]:
                return found


def cid_of(data: bytes) -> str:
    """The CID the PDS names a blob by (https://atproto.com/specs/data-model#link-and-cid-formats:
    CIDv1, raw codec 0x55, a sha-256 multihash, base32 with a "b" prefix): the hash of its bytes."""
    raw = bytes([0x01, 0x55, 0x12, 0x20]) + hashlib.sha256(data).digest()
    return "b" + base64.b32encode(raw).decode().lower().rstrip("=")


def missing(what: str) -> None:
    if os.environ.get("CI"):
        pytest.fail(f"{what}; CI must run the Bluesky PDS tests")
    pytest.skip(f"{what}; run the README's test command (npm ci --prefix tests/pds)")


@pytest.fixture(scope="session")
def pds() -> Iterator[Pds]:
    """The reference PDS for the whole run."""
    node = shutil.which("node")
    if node is None:
        missing("node is not installed")
    if not (HERE / "node_modules" / "@atproto" / "pds").is_dir():
        missing("tests/pds/node_modules is missing")
    data = tempfile.mkdtemp(prefix="lockdown-pds-")
    log = Path(data) / "pds.log"
    # Only start.js's one line comes on stdout (the PDS logs nothing unless LOG_ENABLED); the
    # rest goes to a file, so no pipe fills up while the tests run.
    with log.open("w") as errors:
        process = subprocess.Popen(
            [str(node), str(HERE / "start.js"), data],
            cwd=HERE,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=errors,
            text=True,
            env={**os.environ, "LOG_ENABLED": "false"},
        )
    try:
        assert process.stdout is not None
        ready, _, _ = select.select([process.stdout], [], [], STARTED_WITHIN)
        line = process.stdout.readline() if ready else ""
        if not line:
            process.kill()
            process.wait()
            pytest.fail("the PDS did not start:\n" + log.read_text())
        started = json.loads(line)
        yield Pds(url=started["url"], admin_password=started["admin_password"])
    finally:
        if process.stdin:
            process.stdin.close()  # start.js stops both servers when its stdin closes
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        if process.stdout:
            process.stdout.close()
        shutil.rmtree(data, ignore_errors=True)
