"""The test OpenID provider really is one: Authlib, as a relying party, discovers it, signs in with
the authorization code and PKCE, and validates the id_token against the published keys; claims,
amr and acr are the directory's, a change shows at the next sign-in, a rotated key is used and
published, lifetimes can be shortened, and RP-initiated logout ends the provider's session."""

from __future__ import annotations

import re
import secrets
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, cast
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
import requests
from authlib.common.security import generate_token
from authlib.integrations.flask_client import OAuth
from authlib.integrations.requests_client import OAuth2Session
from authlib.oidc.core import CodeIDToken
from flask import Flask, jsonify, session, url_for
from flask.testing import FlaskClient
from joserfc import jwt
from joserfc.errors import ExpiredTokenError, InvalidClaimError
from joserfc.jwk import KeySet

from tests.oidc.server import ISSUER_PATH, Oidc, OidcClient, OidcFailed

ROOT = Path(__file__).parents[2]
SCOPE = "openid email profile"


def key_set(oidc: Oidc) -> KeySet:
    """The provider's published keys, fetched now."""
    return KeySet.import_key_set(cast(Any, oidc.jwks()))


def query(url: str) -> dict[str, str]:
    return {name: values[0] for name, values in parse_qs(urlsplit(url).query).items()}


@pytest.fixture(scope="module")
def rp(oidc: Oidc) -> OidcClient:
    return oidc.client(["http://localhost/auth/callback"])


@pytest.fixture
def person(oidc: Oidc) -> str:
    """A new person in the directory, signed in with a password and a second factor."""
    sub = f"person-{secrets.token_hex(4)}"
    oidc.set_user(
        sub,
        email=f"{sub}@liverpool.example",
        email_verified=True,
        name="Pat Example",
        roles=["press-officer", "ermc"],
        groups=["comms"],
        amr=["pwd", "mfa"],
        acr="urn:lockdown:test:mfa",
    )
    return sub


class Flow:
    """One authorization code + PKCE round trip, step by step, with Authlib's requests client."""

    def __init__(self, oidc: Oidc, rp: OidcClient, **params: str) -> None:
        self.oidc = oidc
        self.rp = rp
        self.metadata = oidc.metadata()
        self.client = OAuth2Session(
            rp.client_id,
            rp.client_secret,
            scope=SCOPE,
            redirect_uri=rp.redirect_uri,
            code_challenge_method="S256",
            token_endpoint_auth_method=rp.token_endpoint_auth_method,
        )
        self.verifier = generate_token(48)
        self.nonce = generate_token(20)
        self.authorize_url, self.state = self.client.create_authorization_url(
            self.metadata["authorization_endpoint"], code_verifier=self.verifier, nonce=self.nonce, **params
        )

    def finish(self, callback: str) -> dict[str, Any]:
        assert query(callback)["state"] == self.state
        token: dict[str, Any] = self.client.fetch_token(
            self.metadata["token_endpoint"], authorization_response=callback, code_verifier=self.verifier
        )
        return token

    def id_token(self, token: dict[str, Any], *, leeway: int = 0, now: int | None = None) -> CodeIDToken:
        """The id_token, its signature checked against the JWKS and its claims validated as Authlib's
        OpenID client does (iss, aud, nonce, exp, iat, at_hash)."""
        keys = key_set(self.oidc)
        decoded = jwt.decode(token["id_token"], keys, algorithms=["RS256"])
        claims = CodeIDToken(
            decoded.claims,
            decoded.header,
            {"iss": {"values": [self.metadata["issuer"]]}, "aud": {"values": [self.rp.client_id]}},
            {"nonce": self.nonce, "client_id": self.rp.client_id, "access_token": token["access_token"]},
        )
        claims.validate(now=now, leeway=leeway)
        return claims


def test_discovery_describes_a_code_flow_provider_with_pkce_and_logout(oidc: Oidc) -> None:
    metadata = oidc.metadata()

    assert metadata["issuer"] == oidc.issuer
    assert oidc.issuer == f"{oidc.url}{ISSUER_PATH}"
    for endpoint in ("authorization_endpoint", "token_endpoint", "userinfo_endpoint", "jwks_uri"):
        assert metadata[endpoint].startswith(oidc.issuer + "/")
    assert metadata["end_session_endpoint"].startswith(oidc.issuer + "/")
    assert metadata["response_types_supported"] == ["code"]
    assert metadata["code_challenge_methods_supported"] == ["S256"]
    assert {"client_secret_post", "client_secret_basic"} <= set(metadata["token_endpoint_auth_methods_supported"])
    assert {"email", "name", "roles", "groups", "acr"} <= set(metadata["claims_supported"])
    assert metadata["id_token_signing_alg_values_supported"] == ["RS256"]


@pytest.mark.parametrize("auth_method", ["client_secret_post", "client_secret_basic"])
def test_code_and_pkce_round_trip_gives_a_valid_id_token_with_the_directory_s_claims(
    oidc: Oidc, person: str, auth_method: str
) -> None:
    rp = oidc.client(["http://localhost/auth/callback"], token_endpoint_auth_method=auth_method)
    flow = Flow(oidc, rp)

    callback = oidc.sign_in(None, flow.authorize_url, person)
    assert callback.startswith(rp.redirect_uri + "?")
    assert query(callback)["iss"] == oidc.issuer
    token = flow.finish(callback)
    claims = flow.id_token(token)

    assert claims["iss"] == oidc.issuer
    assert claims["aud"] == rp.client_id
    assert claims["sub"] == person
    assert claims["nonce"] == flow.nonce
    assert claims["email"] == f"{person}@liverpool.example"
    assert claims["email_verified"] is True
    assert claims["name"] == "Pat Example"
    assert claims["roles"] == ["press-officer", "ermc"]
    assert claims["groups"] == ["comms"]
    assert claims["amr"] == ["pwd", "mfa"]
    assert claims["acr"] == "urn:lockdown:test:mfa"
    assert claims["exp"] - claims["iat"] == 3600
    userinfo = httpx.get(
        flow.metadata["userinfo_endpoint"], headers={"Authorization": f"Bearer {token['access_token']}"}, timeout=10
    ).json()
    assert userinfo["sub"] == person
    assert userinfo["roles"] == ["press-officer", "ermc"]


def test_the_id_token_fails_validation_for_another_nonce_audience_or_issuer(
    oidc: Oidc, rp: OidcClient, person: str
) -> None:
    flow = Flow(oidc, rp)
    token = flow.finish(oidc.sign_in(None, flow.authorize_url, person))
    flow.id_token(token)

    flow.nonce = "another"
    with pytest.raises(InvalidClaimError, match="nonce"):
        flow.id_token(token)
    flow.nonce = query(flow.authorize_url)["nonce"]
    flow.rp = OidcClient("someone-else", "x", rp.redirect_uris, (), rp.token_endpoint_auth_method)
    with pytest.raises(InvalidClaimError, match="aud"):
        flow.id_token(token)
    flow.rp = rp
    flow.metadata = {**flow.metadata, "issuer": oidc.url}
    with pytest.raises(InvalidClaimError, match="iss"):
        flow.id_token(token)


def test_pkce_is_required(oidc: Oidc, rp: OidcClient, person: str) -> None:
    client = OAuth2Session(rp.client_id, rp.client_secret, scope=SCOPE, redirect_uri=rp.redirect_uri)
    url, _ = client.create_authorization_url(oidc.metadata()["authorization_endpoint"], nonce="n")

    callback = oidc.sign_in(None, url, person)

    assert query(callback)["error"] == "invalid_request"
    assert "PKCE" in query(callback)["error_description"]


def test_a_changed_role_shows_at_the_next_sign_in_even_within_the_provider_s_session(
    oidc: Oidc, rp: OidcClient, person: str
) -> None:
    browser = requests.Session()
    first = Flow(oidc, rp)
    assert first.id_token(first.finish(oidc.sign_in(browser, first.authorize_url, person)))["roles"] == [
        "press-officer",
        "ermc",
    ]

    oidc.set_user(person, email=f"{person}@liverpool.example", name="Pat Example", roles=["ermc"], amr=["pwd"])
    again = Flow(oidc, rp)
    claims = again.id_token(again.finish(oidc.sign_in(browser, again.authorize_url)))  # no user: single sign-on

    assert claims["sub"] == person
    assert claims["roles"] == ["ermc"]
    assert "groups" not in claims
    # How the person signed in belongs to the provider's session: still the first sign-in's.
    assert claims["amr"] == ["pwd", "mfa"]
    fresh = Flow(oidc, rp)
    assert fresh.id_token(fresh.finish(oidc.sign_in(None, fresh.authorize_url, person)))["amr"] == ["pwd"]


def test_the_user_comes_from_login_hint_or_next_user_and_another_user_means_a_new_sign_in(
    oidc: Oidc, rp: OidcClient, person: str
) -> None:
    other = f"other-{secrets.token_hex(4)}"
    oidc.set_user(other, email=f"{other}@liverpool.example", roles=[])
    browser = requests.Session()

    hinted = Flow(oidc, rp, login_hint=person)
    assert hinted.id_token(hinted.finish(oidc.sign_in(browser, hinted.authorize_url)))["sub"] == person
    switched = Flow(oidc, rp, login_hint=other)
    assert switched.id_token(switched.finish(oidc.sign_in(browser, switched.authorize_url)))["sub"] == other
    oidc.next_user(person)
    nobody_named = Flow(oidc, rp)
    assert nobody_named.id_token(nobody_named.finish(oidc.sign_in(None, nobody_named.authorize_url)))["sub"] == person
    with pytest.raises(OidcFailed, match="no user to sign in"):  # next_user counts once
        oidc.sign_in(None, Flow(oidc, rp).authorize_url)


def test_an_unknown_or_removed_person_is_refused(oidc: Oidc, rp: OidcClient, person: str) -> None:
    assert query(oidc.sign_in(None, Flow(oidc, rp).authorize_url, "nobody"))["error"] == "access_denied"

    flow = Flow(oidc, rp)
    callback = oidc.sign_in(None, flow.authorize_url, person)
    oidc.remove_user(person)
    with pytest.raises(Exception, match="invalid_grant"):
        flow.finish(callback)


def test_a_rotated_key_signs_new_tokens_and_joins_the_jwks(oidc: Oidc, rp: OidcClient, person: str) -> None:
    before = Flow(oidc, rp)
    old_token = before.finish(oidc.sign_in(None, before.authorize_url, person))
    old_kid = jwt.decode(old_token["id_token"], key_set(oidc)).header["kid"]

    new_kid = oidc.rotate_keys()

    kids = [key["kid"] for key in oidc.jwks()["keys"]]
    assert kids[0] == new_kid
    assert old_kid in kids
    after = Flow(oidc, rp)
    new_token = after.finish(oidc.sign_in(None, after.authorize_url, person))
    assert after.id_token(new_token).header["kid"] == new_kid
    before.id_token(old_token)  # the old key still verifies what it signed

    oidc.rotate_keys(keep_previous=False)
    assert old_kid not in [key["kid"] for key in oidc.jwks()["keys"]]


def test_short_lifetimes_make_expired_tokens(oidc: Oidc, rp: OidcClient, person: str) -> None:
    flow = Flow(oidc, rp)
    with oidc.ttl(id_token=5, access_token=1):
        token = flow.finish(oidc.sign_in(None, flow.authorize_url, person))
    claims = flow.id_token(token)
    assert claims["exp"] - claims["iat"] == 5
    assert token["expires_in"] == 1
    with pytest.raises(ExpiredTokenError):
        flow.id_token(token, now=claims["iat"] + 6)

    time.sleep(1.5)
    userinfo = httpx.get(
        flow.metadata["userinfo_endpoint"], headers={"Authorization": f"Bearer {token['access_token']}"}, timeout=10
    )
    assert userinfo.status_code == 401
    later = Flow(oidc, rp)
    assert later.id_token(later.finish(oidc.sign_in(None, later.authorize_url, person)))["exp"] - claims["iat"] > 3000


def test_rp_initiated_logout_returns_to_the_relying_party_and_ends_the_provider_s_session(
    oidc: Oidc, rp: OidcClient, person: str
) -> None:
    browser = requests.Session()
    flow = Flow(oidc, rp)
    token = flow.finish(oidc.sign_in(browser, flow.authorize_url, person))
    logout = httpx.URL(
        flow.metadata["end_session_endpoint"],
        params={
            "id_token_hint": token["id_token"],
            "post_logout_redirect_uri": rp.post_logout_redirect_uris[0],
            "state": "bye",
        },
    )

    back = oidc.sign_out(browser, str(logout))

    assert back.startswith(rp.post_logout_redirect_uris[0])
    assert query(back)["state"] == "bye"
    with pytest.raises(OidcFailed, match="no user to sign in"):  # no session left: an interaction is needed
        oidc.sign_in(browser, Flow(oidc, rp).authorize_url)


def relying_party(oidc: Oidc, rp: OidcClient) -> Flask:
    """A small Flask relying party, as issue 17's will be: Authlib's Flask client."""
    app = Flask(__name__)
    app.secret_key = secrets.token_hex(16)
    oauth = OAuth(app)
    oauth.register(
        "university",
        client_id=rp.client_id,
        client_secret=rp.client_secret,
        server_metadata_url=oidc.discovery_url,
        client_kwargs={
            "scope": SCOPE,
            "code_challenge_method": "S256",
            "token_endpoint_auth_method": rp.token_endpoint_auth_method,
        },
    )

    @app.get("/login")
    def login() -> Any:
        return oauth.university.authorize_redirect(url_for("callback", _external=True))

    @app.get("/auth/callback")
    def callback() -> Any:
        token = oauth.university.authorize_access_token()
        session["id_token"] = token["id_token"]
        return jsonify(dict(token["userinfo"]))

    return app


@pytest.fixture
def flask_rp(oidc: Oidc, rp: OidcClient) -> Iterator[FlaskClient]:
    with relying_party(oidc, rp).test_client() as client:
        yield client


def sign_in_through(flask_rp: FlaskClient, oidc: Oidc, user: str) -> dict[str, Any]:
    start = flask_rp.get("/login")
    assert start.status_code == 302
    callback = urlsplit(oidc.sign_in(None, start.headers["Location"], user))
    response = flask_rp.get(f"{callback.path}?{callback.query}")
    assert response.status_code == 200, response.text
    claims = response.json
    assert isinstance(claims, dict)
    return claims


def test_authlib_s_flask_client_signs_in_and_fetches_the_jwks_again_after_rotation(
    oidc: Oidc, flask_rp: FlaskClient, person: str
) -> None:
    fetched = oidc.hits("/jwks")
    assert sign_in_through(flask_rp, oidc, person)["roles"] == ["press-officer", "ermc"]
    assert oidc.hits("/jwks") == fetched + 1
    sign_in_through(flask_rp, oidc, person)
    assert oidc.hits("/jwks") == fetched + 1  # Authlib keeps the key set it has

    oidc.rotate_keys()  # a kid the client's key set does not have

    claims = sign_in_through(flask_rp, oidc, person)
    assert claims["sub"] == person
    assert claims["amr"] == ["pwd", "mfa"]
    assert oidc.hits("/jwks") == fetched + 2


def test_the_readme_and_ci_install_the_provider() -> None:
    readme = (ROOT / "README.md").read_text()
    ci = (ROOT / ".ci" / "run").read_text()
    command = next(line for line in ci.splitlines() if line.startswith("python3 -m venv"))

    assert "npm ci -s --prefix tests/oidc" in command
    in_readme = re.findall(r"^python3 -m venv .venv && .venv/bin/pip install -q -e '\.\[test\]'.*$", readme, re.M)
    assert in_readme
    assert all(line == command for line in in_readme)
