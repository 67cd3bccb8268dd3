"""A real OpenID Connect provider (``oidc-provider`` 9 from npm, ``npm ci --prefix tests/oidc``) as a
session fixture, for the sign-in tests (issue 17): started once on loopback with an Entra-like
tenant issuer (``http://127.0.0.1:PORT/tenant-a/v2.0``), stopped at the end. Tests drive it through
its test-only endpoints (``start.js`` lists them): register clients, set and change a person's
claims (and how they signed in: ``amr``, ``acr``), rotate the signing key, shorten token lifetimes,
and sign in or out without any page to fill in. Without ``node_modules`` the tests that need it are
skipped on a developer's machine and fail in CI, where they must run."""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import secrets
import select
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from urllib.parse import urljoin

import httpx
import pytest
import requests

HERE = Path(__file__).parent
STARTED_WITHIN = 30.0
# The tenant part of the issuer, as Entra's https://login.microsoftonline.com/TENANT/v2.0.
ISSUER_PATH = "/tenant-a/v2.0"
_clients = itertools.count(1)


class OidcFailed(Exception):
    """The provider answered a test's call, or a step of a sign-in, with something unexpected."""

    def __init__(self, message: str, status: int | None = None, body: str = "") -> None:
        super().__init__(f"{message}: HTTP {status}: {body[:2000]}" if status is not None else message)
        self.status = status
        self.body = body


@dataclass(frozen=True)
class OidcClient:
    """A relying party registered at the provider."""

    client_id: str
    client_secret: str
    redirect_uris: tuple[str, ...]
    post_logout_redirect_uris: tuple[str, ...]
    token_endpoint_auth_method: str

    @property
    def redirect_uri(self) -> str:
        return self.redirect_uris[0]


@dataclass
class Oidc:
    """A running provider. ``url`` is its origin (``http://127.0.0.1:PORT``), ``issuer`` the issuer
    identifier every token carries (the origin plus the tenant path, if any)."""

    url: str
    issuer: str
    started_in: float = 0.0  # seconds from launching node to the provider listening

    @property
    def discovery_url(self) -> str:
        return f"{self.issuer}/.well-known/openid-configuration"

    # httpx, not requests, for the test-only endpoints: some tests answer every requests call with a fake.
    def _admin(self, method: str, path: str, body: Any = None) -> Any:
        response = httpx.request(method, f"{self.url}/_test{path}", json=body, timeout=10)
        if response.is_error:
            raise OidcFailed(f"{method} /_test{path}", response.status_code, response.text)
        return response.json()

    def metadata(self) -> dict[str, Any]:
        """The discovery document."""
        response = httpx.get(self.discovery_url, timeout=10)
        response.raise_for_status()
        document: dict[str, Any] = response.json()
        return document

    def jwks(self) -> dict[str, Any]:
        """The public keys as the provider publishes them (its ``jwks_uri``)."""
        response = httpx.get(self.metadata()["jwks_uri"], timeout=10)
        response.raise_for_status()
        keys: dict[str, Any] = response.json()
        return keys

    def state(self) -> dict[str, Any]:
        """What the provider holds: users, client ids, key ids (signing key first), lifetimes, and
        ``hits``, the requests it has had per path."""
        found: dict[str, Any] = self._admin("GET", "/state")
        return found

    def hits(self, path: str) -> int:
        """How many requests the provider has had for ``path``, relative to the issuer (``"/jwks"``,
        ``"/token"``, ``"/.well-known/openid-configuration"``...), since it started; ``jwks()`` and
        ``metadata()`` count too."""
        return int(self.state()["hits"].get(path, 0))

    def client(
        self,
        redirect_uris: Sequence[str] = ("http://localhost/auth/callback",),
        *,
        post_logout_redirect_uris: Sequence[str] = ("http://localhost/",),
        token_endpoint_auth_method: str = "client_secret_post",  # noqa: S107 (a method's name)
        client_id: str | None = None,
        client_secret: str | None = None,
    ) -> OidcClient:
        """Registers a confidential client (a new id unless ``client_id`` names one to replace) and
        returns it. ``token_endpoint_auth_method`` is ``client_secret_post`` or ``client_secret_basic``."""
        registered = OidcClient(
            client_id=client_id or f"lockdown-test-{next(_clients)}",
            client_secret=client_secret or secrets.token_hex(24),
            redirect_uris=tuple(redirect_uris),
            post_logout_redirect_uris=tuple(post_logout_redirect_uris),
            token_endpoint_auth_method=token_endpoint_auth_method,
        )
        self._admin(
            "POST",
            "/clients",
            {
                "client_id": registered.client_id,
                "client_secret": registered.client_secret,
                "redirect_uris": list(registered.redirect_uris),
                "post_logout_redirect_uris": list(registered.post_logout_redirect_uris),
                "token_endpoint_auth_method": registered.token_endpoint_auth_method,
                "grant_types": ["authorization_code", "refresh_token"],
                "response_types": ["code"],
            },
        )
        return registered

    def set_user(self, sub: str, **claims: Any) -> None:
        """Sets (replaces: a claim left out is gone) what the directory says of ``sub``: ``email``,
        ``name``, ``preferred_username``, ``roles``, ``groups``, ``oid``, ``tid``... go into tokens
        made from now on; ``amr`` (a list) and ``acr`` describe how the person signs in, and so
        count from their next sign-in at the provider."""
        self._admin("PUT", "/users", {sub: claims})

    def remove_user(self, sub: str) -> None:
        """The person leaves the directory: no sign-in, no more tokens."""
        self._admin("DELETE", f"/users/{sub}")

    def next_user(self, sub: str) -> None:
        """Who signs in at the next interaction that names no one (no login_hint, no helper): for a
        browser test. It counts once."""
        self._admin("POST", "/next-user", {"sub": sub})

    def rotate_keys(self, *, keep_previous: bool = True) -> str:
        """A new signing key: tokens from now on are signed with it and carry its ``kid``, which the
        JWKS lists first. The old keys stay in the JWKS unless ``keep_previous`` is false. Returns
        the new kid."""
        rotated: dict[str, Any] = self._admin("POST", "/rotate-keys", {"keep_previous": keep_previous})
        return str(rotated["kid"])

    @contextlib.contextmanager
    def ttl(
        self,
        *,
        id_token: int | None = None,
        access_token: int | None = None,
        authorization_code: int | None = None,
        session: int | None = None,
    ) -> Iterator[None]:
        """Token lifetimes in seconds for what is made inside the block; the previous ones return
        after it (the provider serves the whole run)."""
        names = {
            "IdToken": id_token,
            "AccessToken": access_token,
            "AuthorizationCode": authorization_code,
            "Session": session,
        }
        wanted = {name: seconds for name, seconds in names.items() if seconds is not None}
        before = self.state()["ttl"]
        self._admin("POST", "/ttl", wanted)
        try:
            yield
        finally:
            self._admin("POST", "/ttl", {name: before[name] for name in wanted})

    def sign_in(self, session: requests.Session | None, authorize_url: str, user: str | None = None) -> str:
        """Follows the provider's redirects from the relying party's ``authorize_url`` (authorize,
        interaction, back to authorize; and the provider's own self-submitting forms, as when a
        browser signed in as someone else switches user) as a browser would, signing in as ``user``,
        and returns the URL the provider finally sends the browser to: the relying party's
        redirect_uri with ``code``, ``state`` and ``iss``, or with ``error``. ``session`` holds the
        provider's cookies (its single sign-on session): pass the same one to sign in again without
        an interaction, ``None`` for a fresh browser. With ``user`` None, the provider takes the
        request's login_hint or the ``next_user``; with a ``user`` other than the session's, the
        provider asks for a new sign-in."""
        browser = session if session is not None else requests.Session()
        headers = {"X-Test-User": user} if user else {}
        return self._follow(browser, "GET", authorize_url, {}, headers, "sign-in")

    def sign_out(self, session: requests.Session, end_session_url: str) -> str:
        """RP-initiated logout: opens the relying party's ``end_session_url`` (the provider's
        end_session_endpoint with ``id_token_hint``, ``post_logout_redirect_uri``, ``state``...),
        submits the provider's confirmation form as its page does, and returns where the provider
        sends the browser: the post_logout_redirect_uri (with ``state``), or, without one, the
        provider's own "signed out" page. ``session`` must be the one the sign-in used: it carries
        the provider's session."""
        return self._follow(session, "GET", end_session_url, {}, {}, "sign-out")

    def _follow(
        self,
        browser: requests.Session,
        method: str,
        url: str,
        data: dict[str, str],
        headers: dict[str, str],
        what: str,
    ) -> str:
        for _ in range(12):
            if not url.startswith(self.url + "/"):
                return url
            if method == "GET":
                response = browser.get(url, headers=headers, allow_redirects=False, timeout=10)
            else:
                response = browser.post(url, data=data, headers=headers, allow_redirects=False, timeout=10)
            if response.status_code in (301, 302, 303, 307, 308):
                method, url, data = "GET", urljoin(url, response.headers["Location"]), {}
                continue
            form = _Form.parse(response.text) if response.status_code == 200 else None
            if form is None or form.action is None:
                if what == "sign-out" and response.status_code == 200:
                    return url  # the provider's "signed out" page
                raise OidcFailed(f"{what} stopped at {url}", response.status_code, response.text)
            target = urljoin(url, form.action)
            if not target.startswith(self.url + "/"):
                raise OidcFailed(f"{what}: the provider posts a form to {target} (response_mode=form_post?)")
            method, url, data = form.method, target, form.fields
        raise OidcFailed(f"{what} went round in circles (last at {url})")


class _Form(HTMLParser):
    """The first form of one of the provider's own pages: where it goes and its hidden fields."""

    def __init__(self) -> None:
        super().__init__()
        self.action: str | None = None
        self.method = "GET"
        self.fields: dict[str, str] = {}
        self._inside = False
        self._done = False

    @classmethod
    def parse(cls, page: str) -> _Form | None:
        form = cls()
        form.feed(page)
        return form if form._done or form._inside else None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        named = {name: value or "" for name, value in attrs}
        if tag == "form" and not self._done and not self._inside:
            self._inside = True
            self.action = named.get("action")
            self.method = named.get("method", "get").upper()
        elif tag == "input" and self._inside and named.get("type") == "hidden" and "name" in named:
            self.fields[named["name"]] = named.get("value", "")

    def handle_endtag(self, tag: str) -> None:
        if tag == "form" and self._inside:
            self._inside, self._done = False, True


def missing(what: str) -> None:
    if os.environ.get("CI"):
        pytest.fail(f"{what}; CI must run the OpenID provider tests")
    pytest.skip(f"{what}; run the README's test command (npm ci --prefix tests/oidc)")


@contextlib.contextmanager
def start_oidc(issuer_path: str = ISSUER_PATH, **config: Any) -> Iterator[Oidc]:
    """A provider of its own (the ``oidc`` fixture serves the whole run; use this only for a
    different issuer or a state no other test may see). ``config`` is start.js's: ``clients``,
    ``users``, ``ttl``, ``acr_values``, ``clock_tolerance``."""
    node = shutil.which("node")
    if node is None:
        missing("node is not installed")
    if not (HERE / "node_modules" / "oidc-provider").is_dir():
        missing("tests/oidc/node_modules is missing")
    folder = Path(tempfile.mkdtemp(prefix="lockdown-oidc-"))
    (folder / "config.json").write_text(json.dumps({"issuer_path": issuer_path, **config}))
    log = folder / "oidc.log"
    # Only start.js's one line comes on stdout; its warnings and errors go to a file, so no pipe
    # fills up while the tests run.
    with log.open("w") as errors:
        process = subprocess.Popen(
            [str(node), str(HERE / "start.js"), str(folder / "config.json")],
            cwd=HERE,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=errors,
            text=True,
        )
    try:
        assert process.stdout is not None
        began = time.monotonic()
        ready, _, _ = select.select([process.stdout], [], [], STARTED_WITHIN)
        line = process.stdout.readline() if ready else ""
        if not line:
            process.kill()
            process.wait()
            pytest.fail("the OpenID provider did not start:\n" + log.read_text())
        started = json.loads(line)
        yield Oidc(url=started["url"], issuer=started["issuer"], started_in=time.monotonic() - began)
    finally:
        if process.stdin:
            process.stdin.close()  # start.js stops when its stdin closes
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        if process.stdout:
            process.stdout.close()
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(scope="session")
def oidc() -> Iterator[Oidc]:
    """The OpenID provider for the whole run (issuer ``http://127.0.0.1:PORT/tenant-a/v2.0``)."""
    with start_oidc() as provider:
        yield provider
