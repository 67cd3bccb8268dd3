"""Sign-in through the university's identity provider (OpenID Connect), with Authlib: the
authorization code flow with PKCE, ``state`` and ``nonce`` kept in the signed session (used
once), the ID token checked against the provider's keys (fetched again when it signs with a new
one) for the configured issuer, this client's audience, the nonce and its expiry. Who the
token names, and what they may do, is ``lockdown.people.provider_sign_in``'s."""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

import requests
from authlib.common.errors import AuthlibBaseError
from authlib.integrations.flask_client import OAuth
from flask import Flask, Response, current_app, redirect, render_template, request, session, url_for
from joserfc.errors import JoseError
from werkzeug.wrappers import Response as BaseResponse

from lockdown.api.state import app_state, request_context
from lockdown.console.auth import SESSION_TOKEN
from lockdown.console.blueprint import bp
from lockdown.console.redirects import console_page
from lockdown.errors import LockdownError, Unauthorized
from lockdown.people.provider_sign_in import (
    CodeNeeded,
    finish_with_code,
    identity_from_claims,
    sign_in_with_provider,
)
from lockdown.people.signin import SignedIn
from lockdown.settings import OidcSettings

log = logging.getLogger(__name__)
CLIENT = "provider"
EXTENSION = "lockdown_oauth"
# How long a sign-in that waits for Lockdown's own code may wait.
CODE_WAIT = timedelta(minutes=5)
# Seconds of clock difference allowed with the provider when reading a token's times.
LEEWAY = 60


def init_provider(app: Flask, oidc: OidcSettings | None) -> None:
    """Register the provider with Authlib for this app (nothing when none is configured)."""
    if oidc is None:
        return
    oauth = OAuth(app)
    oauth.register(
        CLIENT,
        client_id=oidc.client_id,
        client_secret=oidc.client_secret,
        server_metadata_url=f"{oidc.issuer}/.well-known/openid-configuration",
        client_kwargs={"scope": oidc.scopes, "code_challenge_method": "S256", "timeout": 10},
    )
    app.extensions[EXTENSION] = oauth


def expected_claims(oidc: OidcSettings) -> dict[str, Any]:
    """What an ID token must say beyond its signature, nonce and times: this tenant's issuer
    (never the discovery document's word alone), this client as its audience, a subject."""
    return {
        "iss": {"essential": True, "value": oidc.issuer},
        "aud": {"essential": True, "value": oidc.client_id},
        "sub": {"essential": True},
    }


def id_token_claims(token: dict[str, Any], nonce: str) -> dict[str, Any]:
    """A token endpoint's answer checked as the callback checks it (for tests of tokens made
    elsewhere): 401 when the ID token fails."""
    oidc = _oidc()
    try:
        return dict(_client().parse_id_token(token, nonce, claims_options=expected_claims(oidc), leeway=LEEWAY))
    except (AuthlibBaseError, JoseError) as exc:
        raise Unauthorized(f"the ID token was refused: {getattr(exc, 'description', None) or exc}") from None


def _oidc() -> OidcSettings:
    oidc = app_state().settings.oidc
    if oidc is None:
        raise Unauthorized("this installation signs in with local passwords only")
    return oidc


def _client() -> Any:
    return current_app.extensions[EXTENSION].create_client(CLIENT)


def callback_url() -> str:
    """The redirect URI registered at the provider: under LOCKDOWN_PUBLIC_URL."""
    return f"{app_state().settings.public_url.rstrip('/')}/sign-in/provider/callback"


def _refused(message: str, status: int = 401) -> Response:
    page = render_template("sign_in.html", error=message, field=None, next=session.get("sign_in_next", "/"))
    return Response(page, status)


def _record_failure(reason: str) -> None:
    ctx = request_context()
    with ctx.change() as change:
        change.audit("provider", "user.sign_in_failed", "user:0", address=request.remote_addr or "unknown",
                     method="provider", reason=reason[:300])  # fmt: skip


@bp.get("/sign-in/provider")
def provider_sign_in() -> BaseResponse:
    """Send the person to the provider, after checking that it is the issuer configured."""
    oidc = _oidc()
    client = _client()
    try:
        metadata = client.load_server_metadata()
    except (requests.RequestException, ValueError) as exc:
        log.error("the provider's discovery document could not be read: %s", exc)
        return _refused(f"{oidc.name} cannot be reached just now; a break-glass account can sign in below", 503)
    if str(metadata.get("issuer", "")).rstrip("/") != oidc.issuer:
        # Entra's /common document names an issuer template: tokens from any tenant would pass.
        log.error("discovery names issuer %r, not LOCKDOWN_OIDC_ISSUER %r", metadata.get("issuer"), oidc.issuer)
        return _refused(
            f"{oidc.name} is not the issuer this installation trusts (LOCKDOWN_OIDC_ISSUER); tell ERMC", 502
        )
    session["sign_in_next"] = console_page(request.args.get("next"), url_for("console.dashboard"))
    answer: BaseResponse = client.authorize_redirect(callback_url())
    return answer


@bp.get("/sign-in/provider/callback")
def provider_callback() -> BaseResponse:
    """The provider's answer: check it, then sign the person in (or ask for Lockdown's code)."""
    oidc = _oidc()
    try:
        token = _client().authorize_access_token(claims_options=expected_claims(oidc), leeway=LEEWAY)
        claims = dict(token.get("userinfo") or {})
        if not claims:
            raise Unauthorized("the provider gave no ID token")
    except (AuthlibBaseError, JoseError, requests.RequestException, Unauthorized) as exc:
        reason = getattr(exc, "description", None) or getattr(exc, "error", None) or str(exc) or type(exc).__name__
        _record_failure(f"{type(exc).__name__}: {reason}")
        return _refused(f"the sign-in with {oidc.name} did not complete ({reason}); start again")
    try:
        identity = identity_from_claims(claims, oidc)
        outcome = sign_in_with_provider(request_context(), identity, request.remote_addr or "unknown", lifetime=_life())
    except LockdownError as exc:
        return _refused(exc.message, exc.status)
    if isinstance(outcome, CodeNeeded):
        session["provider_pending"] = {"user": outcome.user_id, "email": outcome.email,
                                       "until": (request_context().now() + CODE_WAIT).timestamp()}  # fmt: skip
        return redirect(url_for("console.provider_code"))
    return _signed_in(outcome)


def _life() -> timedelta:
    return timedelta(hours=app_state().settings.console_session_hours)


def _signed_in(outcome: SignedIn) -> BaseResponse:
    target = session.get("sign_in_next") or url_for("console.dashboard")
    # A fresh cookie, so no one can plant a session id beforehand.
    session.clear()
    session[SESSION_TOKEN] = outcome.session_token
    session["signed_in_with"] = "provider"
    session.permanent = True
    return redirect(console_page(target, url_for("console.dashboard")))


@bp.route("/sign-in/provider/code", methods=["GET", "POST"])
def provider_code() -> BaseResponse | str:
    """Lockdown's own authenticator code, for press and ERMC whose provider sign-in had no MFA."""
    pending = session.get("provider_pending")
    if not isinstance(pending, dict) or request_context().now().timestamp() > pending.get("until", 0):
        session.pop("provider_pending", None)
        return redirect(url_for("console.sign_in"))
    if request.method == "GET":
        return render_template("provider_code.html", email=pending["email"])
    try:
        outcome = finish_with_code(
            request_context(), app_state().vault, CodeNeeded(int(pending["user"]), str(pending["email"])),
            request.form.get("code"), request.remote_addr or "unknown", lifetime=_life(),
        )  # fmt: skip
    except LockdownError as exc:
        return Response(render_template("provider_code.html", email=pending["email"], error=exc.message), exc.status)
    return _signed_in(outcome)


def provider_logout_url() -> str | None:
    """The provider's end-session address (RP-initiated logout), back to the sign-in page."""
    oidc = app_state().settings.oidc
    if oidc is None:
        return None
    try:
        metadata = _client().load_server_metadata()
    except (requests.RequestException, ValueError):
        return None
    endpoint = metadata.get("end_session_endpoint")
    if not endpoint:
        return None
    made = _client().create_logout_url(
        post_logout_redirect_uri=f"{app_state().settings.public_url.rstrip('/')}/sign-in", client_id=oidc.client_id
    )
    return str(made["url"])
