"""Console sign-in through a real OpenID provider (oidc-provider, tests/oidc) and Flask's test
client: the whole flow, and every refusal the issue names (wrong issuer, wrong audience, a
tampered nonce, a replayed state, an expired token, no MFA for a press officer, a person with no
role), a role removed at the provider, key rotation, sign-out with the provider's logout."""

from __future__ import annotations

import itertools
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import time_machine
from flask.testing import FlaskClient

from lockdown.app import create_app
from lockdown.settings import Settings
from tests.conftest import SECRET, VAULT_KEY
from tests.console.console_kit import browser, token_of
from tests.oidc.server import Oidc, OidcClient

PUBLIC = "https://lockdown.livuni.test"
CALLBACK = f"{PUBLIC}/sign-in/provider/callback"
ROLE_MAP = "Lockdown.Press=press,Lockdown.ERMC=ermc,Lockdown.Manager=manager"
_people = itertools.count(1)


@pytest.fixture
def registered(oidc: Oidc) -> OidcClient:
    return oidc.client([CALLBACK], post_logout_redirect_uris=[f"{PUBLIC}/sign-in"])


def settings_for(tmp_path: Path, oidc: Oidc, client: OidcClient, **extra: str) -> Settings:
    return Settings.from_env(
        {
            "LOCKDOWN_DB": str(tmp_path / "p.db"), "LOCKDOWN_SECRET_KEY": SECRET, "LOCKDOWN_VAULT_KEY": VAULT_KEY,
            "LOCKDOWN_PUBLIC_URL": PUBLIC, "LOCKDOWN_OIDC_ISSUER": oidc.issuer,
            "LOCKDOWN_OIDC_CLIENT_ID": client.client_id, "LOCKDOWN_OIDC_CLIENT_SECRET": client.client_secret,
            "LOCKDOWN_OIDC_ROLE_MAP": ROLE_MAP, "LOCKDOWN_OIDC_NAME": "Test University", **extra,
        }
    )  # fmt: skip


@pytest.fixture
def app(tmp_path: Path, oidc: Oidc, registered: OidcClient) -> Any:
    return create_app(settings_for(tmp_path, oidc, registered))


def person(oidc: Oidc, **claims: Any) -> str:
    sub = f"person-{next(_people)}"
    number = sub.split("-")[1]
    oidc.set_user(sub, **{"email": f"p{number}@livuni.ac.uk", "name": f"Person {number}", **claims})
    return sub


def start(client: FlaskClient, next_page: str = "/") -> str:
    """The provider's authorize URL Lockdown sends the browser to."""
    answer = client.get(f"/sign-in/provider?next={next_page}")
    assert answer.status_code == 302, answer.get_data(as_text=True)
    location: str = answer.headers["Location"]
    assert location.startswith(f"{urlsplit(location).scheme}://{urlsplit(location).netloc}")
    query = parse_qs(urlsplit(location).query)
    assert query["code_challenge_method"] == ["S256"]
    assert query["nonce"][0]
    assert query["state"][0]
    return location


def come_back(client: FlaskClient, returned: str) -> Any:
    assert returned.startswith(CALLBACK), returned
    return client.get(returned.removeprefix(PUBLIC))


def sign_in(oidc: Oidc, client: FlaskClient, sub: str, next_page: str = "/") -> Any:
    return come_back(client, oidc.sign_in(None, start(client, next_page), user=sub))


@pytest.fixture
def web(app: Any) -> FlaskClient:
    return browser(app)


def test_a_press_officer_with_mfa_signs_in_through_the_provider(oidc: Oidc, web: FlaskClient, app: Any) -> None:
    sub = person(oidc, roles=["Lockdown.Press"], amr=["pwd", "mfa"])
    answer = sign_in(oidc, web, sub, "/incidents")
    assert answer.status_code == 302, answer.get_data(as_text=True)
    assert answer.headers["Location"].endswith("/incidents")
    page = web.get("/").get_data(as_text=True)
    assert "Sign out" in page


def test_the_sign_in_page_offers_the_provider_first_and_local_sign_in_as_break_glass(web: FlaskClient) -> None:
    page = web.get("/sign-in").get_data(as_text=True)
    assert page.index("Sign in with Test University") < page.index("Break-glass sign-in")


def test_a_replayed_state_is_refused(oidc: Oidc, web: FlaskClient) -> None:
    sub = person(oidc, roles=["Lockdown.Manager"])
    returned = oidc.sign_in(None, start(web), user=sub)
    assert come_back(web, returned).status_code == 302
    fresh = browser(web.application)
    replayed = come_back(fresh, returned)
    assert replayed.status_code == 401
    assert "did not complete" in replayed.get_data(as_text=True)


def test_a_tampered_nonce_is_refused(oidc: Oidc, web: FlaskClient) -> None:
    sub = person(oidc, roles=["Lockdown.Manager"])
    authorize = start(web)
    with web.session_transaction() as stored:
        keys = [key for key in stored if key.startswith("_state_provider_")]
        assert keys, "Authlib keeps the state, nonce and PKCE verifier in the signed session"
        for key in keys:
            kept = dict(stored[key])
            kept["data"] = {**kept["data"], "nonce": "not-the-nonce-sent"}
            stored[key] = kept
    answer = come_back(web, oidc.sign_in(None, authorize, user=sub))
    assert answer.status_code == 401
    assert "nonce" in answer.get_data(as_text=True).lower()


def test_an_expired_token_is_refused(oidc: Oidc, web: FlaskClient) -> None:
    sub = person(oidc, roles=["Lockdown.Manager"])
    authorize = start(web)
    returned = oidc.sign_in(None, authorize, user=sub)
    # The provider's tokens live 60 s here; Lockdown reads them two hours on (its own clock).
    with oidc.ttl(id_token=60), time_machine.travel(timedelta(hours=2), tick=True):
        answer = come_back(web, returned)
    assert answer.status_code == 401
    assert "expired" in answer.get_data(as_text=True).lower()


def test_a_token_for_another_client_is_refused(oidc: Oidc, tmp_path: Path, registered: OidcClient) -> None:
    other = oidc.client([CALLBACK])
    # Lockdown believes it is ``registered`` but the provider knows it as ``other``: the token it
    # gets is for ``other``'s audience... which the provider refuses to even exchange, so the
    # refusal comes from the token endpoint, and no session opens either way.
    confused = create_app(
        settings_for(tmp_path, oidc, OidcClient(**{**registered.__dict__, "client_id": other.client_id}))
    )
    web = browser(confused)
    sub = person(oidc, roles=["Lockdown.Manager"])
    answer = come_back(web, oidc.sign_in(None, start(web), user=sub))
    assert answer.status_code == 401


def test_an_id_token_made_for_another_client_is_refused(oidc: Oidc, app: Any) -> None:
    """A real token from the provider, for another client: Lockdown's check refuses its audience."""
    from lockdown.console.provider_pages import id_token_claims
    from lockdown.errors import Unauthorized
    from tests.oidc.test_provider import Flow

    other = oidc.client(["https://elsewhere.livuni.test/callback"])
    flow = Flow(oidc, other)
    token = flow.finish(oidc.sign_in(None, flow.authorize_url, user=person(oidc, roles=["Lockdown.Manager"])))
    with app.test_request_context(), pytest.raises(Unauthorized) as refused:
        id_token_claims(token, flow.nonce)
    assert "Invalid claim: 'aud'" in refused.value.message


def test_the_wrong_issuer_is_refused_before_anyone_is_sent_there(
    oidc: Oidc, tmp_path: Path, registered: OidcClient
) -> None:
    base = oidc.issuer.rsplit("/tenant-a/", 1)[0]
    other_tenant = settings_for(tmp_path, oidc, registered, LOCKDOWN_OIDC_ISSUER=f"{base}/tenant-b/v2.0")
    web = browser(create_app(other_tenant))
    answer = web.get("/sign-in/provider")
    assert answer.status_code in (502, 503)


def test_a_press_officer_without_mfa_and_without_an_authenticator_is_refused(oidc: Oidc, web: FlaskClient) -> None:
    sub = person(oidc, roles=["Lockdown.Press"], amr=["pwd"])
    answer = sign_in(oidc, web, sub)
    assert answer.status_code == 401
    assert "second factor" in answer.get_data(as_text=True)


def test_a_person_with_no_mapped_role_is_told_whom_to_ask(oidc: Oidc, web: FlaskClient) -> None:
    sub = person(oidc, roles=["Students"])
    answer = sign_in(oidc, web, sub)
    assert answer.status_code == 403
    assert "ask ERMC" in answer.get_data(as_text=True)


def test_a_role_removed_at_the_provider_stops_at_the_next_sign_in(oidc: Oidc, web: FlaskClient, app: Any) -> None:
    sub = person(oidc, roles=["Lockdown.ERMC", "Lockdown.Manager"], amr=["mfa"])
    assert sign_in(oidc, web, sub).status_code == 302
    assert web.get("/audit").status_code == 200, "ERMC reads the audit trail"
    oidc.set_user(sub, email=f"p{sub.split('-')[1]}@livuni.ac.uk", roles=["Lockdown.Manager"], amr=["mfa"])
    again = browser(app)
    assert sign_in(oidc, again, sub).status_code == 302
    assert again.get("/audit").status_code in (302, 403)
    assert web.get("/audit").status_code in (302, 403), "the first session kept a role the provider took away"


def test_a_new_signing_key_is_fetched(oidc: Oidc, web: FlaskClient, app: Any) -> None:
    sub = person(oidc, roles=["Lockdown.Manager"])
    assert sign_in(oidc, web, sub).status_code == 302
    oidc.rotate_keys(keep_previous=False)
    assert sign_in(oidc, browser(app), sub).status_code == 302


def test_sign_out_ends_the_session_and_offers_the_providers_logout(oidc: Oidc, web: FlaskClient) -> None:
    sub = person(oidc, roles=["Lockdown.Manager"])
    assert sign_in(oidc, web, sub).status_code == 302
    page = web.get("/").get_data(as_text=True)
    answer = web.post("/sign-out", data={"csrf_token": token_of(page)})
    text = answer.get_data(as_text=True)
    assert "Sign out of the university too" in text
    assert web.get("/").status_code == 302, "the Lockdown session outlived sign-out"
    assert "end_session" in text or "session/end" in text


def test_only_a_break_glass_user_signs_in_with_a_password_and_ermc_is_told(app: Any) -> None:
    from lockdown.api.state import AppState
    from lockdown.people.signin import set_password
    from lockdown.people.users import add_user
    from lockdown.store import audit
    from lockdown.store.context import Context
    from lockdown.store.db import connect
    from lockdown.vault.break_glass import set_break_glass

    state: AppState = app.extensions["lockdown"]
    ctx = Context(connect(state.settings.db_path), audit.audit_key(SECRET.encode()))
    add_user(ctx, "t", name="Ruth", email="ruth@livuni.ac.uk", roles=["ermc"])
    add_user(ctx, "t", name="Dan", email="dan@livuni.ac.uk", roles=["manager"])
    set_password(ctx, "t", "dan@livuni.ac.uk", "a long pass phrase for the console")

    def local(email: str) -> Any:
        web = browser(app)
        page = web.get("/sign-in").get_data(as_text=True)
        return web.post(
            "/sign-in",
            data={"csrf_token": token_of(page), "email": email, "password": "a long pass phrase for the console"},
        )

    refused = local("dan@livuni.ac.uk")
    assert refused.status_code == 401
    assert "Sign in with Test University" in refused.get_data(as_text=True)
    set_break_glass(ctx, "t", "dan@livuni.ac.uk", True)
    assert local("dan@livuni.ac.uk").status_code == 302
    told = ctx.db.conn.execute("SELECT recipient, event, subject FROM notifications").fetchall()
    assert told == [("ruth@livuni.ac.uk", "break_glass_sign_in", "Break-glass sign-in to Lockdown by dan@livuni.ac.uk")]
    ctx.db.close()
