"""Sign-in through the identity provider, from the checked token's claims on: roles mapped and
refreshed at every sign-in, the person bound to the provider's subject, a second factor for
press and ERMC from ``amr`` or Lockdown's TOTP, nobody let in with nothing to do; and the local
break-glass sign-in, audited and told to ERMC. (The token checks themselves run against a real
provider: tests/console/test_provider_flow.py.)"""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from lockdown.errors import Forbidden, Unauthorized
from lockdown.people.console_sessions import session_user_id
from lockdown.people.provider_sign_in import (
    CodeNeeded,
    finish_with_code,
    identity_from_claims,
    sign_in_with_provider,
)
from lockdown.people.signin import SignedIn, set_password, sign_in
from lockdown.people.users import add_user, disable_user, enabled_user
from lockdown.settings import OidcSettings, Settings, SettingsError
from lockdown.vault.break_glass import set_break_glass, tell_ermc_of_break_glass
from tests.people.conftest import PASSWORD

ISSUER = "https://login.microsoftonline.com/11111111-2222-3333-4444-555555555555/v2.0"
OIDC = OidcSettings(
    issuer=ISSUER,
    client_id="lockdown",
    client_secret="s",
    role_map={"Lockdown.Press": ("press",), "Lockdown.ERMC": ("ermc",), "Lockdown.Manager": ("manager",)},
)
LIFE = timedelta(hours=8)


def claims(
    sub: str = "abc", email: str = "ana@livuni.ac.uk", roles: list[str] | None = None, **extra: Any
) -> dict[str, Any]:
    return {"iss": ISSUER, "sub": sub, "email": email, "name": "Ana", "roles": roles or [], **extra}


def provider(ctx: Any, **kwargs: Any) -> SignedIn | CodeNeeded:
    return sign_in_with_provider(ctx, identity_from_claims(claims(**kwargs), OIDC), "10.0.0.9", lifetime=LIFE)


def audit_actions(ctx: Any) -> list[str]:
    return [row[0] for row in ctx.db.conn.execute("SELECT action FROM audit_log ORDER BY seq")]


def test_a_person_the_provider_gives_a_role_is_made_a_user_with_it(world: Any) -> None:
    ctx, *_ = world
    signed = provider(ctx, roles=["Lockdown.Manager", "Something.Else"])
    assert isinstance(signed, SignedIn)
    assert signed.user.roles == {"manager"}
    assert session_user_id(ctx.db, signed.session_token, ctx.now()) == signed.user.id
    assert "user.add" in audit_actions(ctx)


def test_roles_follow_the_provider_at_every_sign_in_and_a_removed_role_ends_other_sessions(world: Any) -> None:
    ctx, *_ = world
    first = provider(ctx, roles=["Lockdown.Manager", "Lockdown.ERMC"], amr=["pwd", "mfa"])
    assert isinstance(first, SignedIn)
    assert first.user.roles == {"manager", "ermc"}
    second = provider(ctx, roles=["Lockdown.Manager"])
    assert isinstance(second, SignedIn)
    assert enabled_user(ctx.db, second.user.id).roles == {"manager"}  # type: ignore[union-attr]
    assert session_user_id(ctx.db, first.session_token, ctx.now()) is None, "the ERMC session outlived the role"
    changed = json.loads(
        ctx.db.conn.execute(
            "SELECT details FROM audit_log WHERE action = 'user.roles_from_provider' ORDER BY seq DESC LIMIT 1"
        ).fetchone()[0]
    )
    assert (changed["before"], changed["after"]) == (["ermc", "manager"], ["manager"])


def test_a_person_with_no_role_and_no_account_is_told_whom_to_ask_and_nothing_is_made(world: Any) -> None:
    ctx, *_ = world
    with pytest.raises(Forbidden, match="ask ERMC"):
        provider(ctx, email="stranger@livuni.ac.uk", roles=["Students"])
    assert ctx.db.conn.execute("SELECT COUNT(*) FROM users WHERE email = 'stranger@livuni.ac.uk'").fetchone()[0] == 0
    assert audit_actions(ctx)[-1] == "user.sign_in_refused"


def test_a_manager_in_the_register_signs_in_without_a_mapped_role(world: Any) -> None:
    ctx, *_ = world
    dan = ctx.db.conn.execute("SELECT id FROM users WHERE email = 'dan@livuni.ac.uk'").fetchone()[0]
    ctx.db.conn.execute("DELETE FROM user_roles WHERE user_id = ?", [dan])
    ctx.db.conn.execute(
        "INSERT INTO accounts (handle, handle_key, platform, unit, purpose, monitored_hours, manager_id, created_at, "
        "updated_at) VALUES ('@livuni_chem', 'livuni_chem', 'x', 'U', 'P', '24/7', ?, '2026-01-01', '2026-01-01')",
        [dan],
    )
    ctx.db.conn.commit()
    assert isinstance(provider(ctx, email="dan@livuni.ac.uk", roles=[]), SignedIn)


def test_press_without_mfa_at_the_provider_gives_lockdowns_own_code(world: Any) -> None:
    ctx, vault, clock, totp, _ = world
    pending = provider(ctx, email="priya@livuni.ac.uk", roles=["Lockdown.Press"], amr=["pwd"])
    assert isinstance(pending, CodeNeeded)
    assert ctx.db.conn.execute("SELECT COUNT(*) FROM console_sessions").fetchone()[0] == 0
    with pytest.raises(Unauthorized):
        finish_with_code(ctx, vault, pending, "000000", "10.0.0.9", lifetime=LIFE)
    signed = finish_with_code(ctx, vault, pending, totp.at(clock.now), "10.0.0.9", lifetime=LIFE)
    assert signed.user.email == "priya@livuni.ac.uk"


def test_press_with_mfa_at_the_provider_or_the_configured_acr_needs_no_more(world: Any) -> None:
    ctx, *_ = world
    assert isinstance(provider(ctx, email="priya@livuni.ac.uk", roles=["Lockdown.Press"], amr=["pwd", "mfa"]), SignedIn)
    strong = OidcSettings(**{**OIDC.__dict__, "mfa_acr": "urn:livuni:mfa"})
    identity = identity_from_claims(
        claims(email="priya@livuni.ac.uk", roles=["Lockdown.Press"], acr="urn:livuni:mfa"), strong
    )
    assert identity.second_factor


def test_press_without_mfa_or_an_authenticator_is_refused(world: Any) -> None:
    ctx, *_ = world
    with pytest.raises(Unauthorized, match="second factor"):
        provider(ctx, email="new.press@livuni.ac.uk", roles=["Lockdown.Press"])


def test_an_email_bound_to_another_subject_is_refused(world: Any) -> None:
    ctx, *_ = world
    assert isinstance(provider(ctx, sub="first", email="dan@livuni.ac.uk", roles=["Lockdown.Manager"]), SignedIn)
    with pytest.raises(Unauthorized, match="another identity"):
        provider(ctx, sub="second", email="dan@livuni.ac.uk", roles=["Lockdown.Manager"])


def test_a_disabled_user_is_refused_and_the_refusal_audited(world: Any) -> None:
    ctx, *_ = world
    disable_user(ctx, "t", "dan@livuni.ac.uk")
    with pytest.raises(Unauthorized, match="disabled"):
        provider(ctx, email="dan@livuni.ac.uk", roles=["Lockdown.Manager"])
    assert audit_actions(ctx)[-1] == "user.sign_in_refused"


def test_a_token_without_the_email_claim_is_refused_naming_it(world: Any) -> None:
    with pytest.raises(Unauthorized) as caught:
        identity_from_claims({"iss": ISSUER, "sub": "x", "roles": []}, OIDC)
    assert caught.value.field == "email"


def test_with_a_provider_only_break_glass_users_sign_in_locally_and_ermc_is_told(world: Any) -> None:
    ctx, vault, *_ = world
    add_user(ctx, "t", name="Ruth", email="ruth@livuni.ac.uk", roles=["ermc"])
    with pytest.raises(Unauthorized, match="break-glass"):
        sign_in(ctx, vault, "dan@livuni.ac.uk", PASSWORD, None, "10.0.0.1", provider="Microsoft")
    set_break_glass(ctx, "t", "dan@livuni.ac.uk", True)
    signed = sign_in(
        ctx, vault, "dan@livuni.ac.uk", PASSWORD, None, "10.0.0.1", provider="Microsoft",
        on_break_glass=tell_ermc_of_break_glass,
    )  # fmt: skip
    assert signed.user.email == "dan@livuni.ac.uk"
    assert "user.break_glass_sign_in" in audit_actions(ctx)
    told = ctx.db.conn.execute("SELECT recipient, event FROM notifications").fetchall()
    assert told == [("ruth@livuni.ac.uk", "break_glass_sign_in")]


def test_without_a_provider_local_sign_in_is_as_before(world: Any) -> None:
    ctx, vault, *_ = world
    set_password(ctx, "t", "dan@livuni.ac.uk", PASSWORD)
    assert sign_in(ctx, vault, "dan@livuni.ac.uk", PASSWORD, None, "10.0.0.1").user.email == "dan@livuni.ac.uk"


@pytest.mark.parametrize(
    ("env", "named"),
    [
        ({"LOCKDOWN_OIDC_ISSUER": ISSUER}, "LOCKDOWN_OIDC_CLIENT_ID"),
        (
            {"LOCKDOWN_OIDC_ISSUER": "https://login.microsoftonline.com/common/v2.0", "LOCKDOWN_OIDC_CLIENT_ID": "c",
             "LOCKDOWN_OIDC_CLIENT_SECRET": "s", "LOCKDOWN_OIDC_ROLE_MAP": "A=press"},
            "tenant",
        ),
        (
            {"LOCKDOWN_OIDC_ISSUER": "http://idp.example", "LOCKDOWN_OIDC_CLIENT_ID": "c",
             "LOCKDOWN_OIDC_CLIENT_SECRET": "s", "LOCKDOWN_OIDC_ROLE_MAP": "A=press"},
            "https",
        ),
        (
            {"LOCKDOWN_OIDC_ISSUER": ISSUER, "LOCKDOWN_OIDC_CLIENT_ID": "c", "LOCKDOWN_OIDC_CLIENT_SECRET": "s",
             "LOCKDOWN_OIDC_ROLE_MAP": "A=admin"},
            "LOCKDOWN_OIDC_ROLE_MAP",
        ),
    ],
)  # fmt: skip
def test_provider_settings_are_refused_naming_what_is_wrong(env: dict[str, str], named: str) -> None:
    with pytest.raises(SettingsError, match=named):
        Settings.from_env(env)


def test_provider_settings_are_read() -> None:
    read = Settings.from_env(
        {"LOCKDOWN_OIDC_ISSUER": ISSUER + "/", "LOCKDOWN_OIDC_CLIENT_ID": "c", "LOCKDOWN_OIDC_CLIENT_SECRET": "s",
         "LOCKDOWN_OIDC_ROLE_MAP": "Lockdown.Press=press, 0b7c-group=ermc,0b7c-group=manager",
         "LOCKDOWN_OIDC_NAME": "Microsoft", "LOCKDOWN_CONSOLE_SESSION_HOURS": "4"}
    ).oidc  # fmt: skip
    assert read is not None
    assert read.issuer == ISSUER
    assert read.role_map == {"Lockdown.Press": ("press",), "0b7c-group": ("ermc", "manager")}
    assert "secret" not in repr(read) or "client_secret='s'" not in repr(read)


def test_an_older_database_gains_break_glass_and_keeps_its_users_sessions_and_notices(tmp_path: Path) -> None:
    """m027 on a database as the release before it left it: users stay (not break-glass, bound
    to no provider), console sessions stay (opened by password), notices stay and the outbox
    admits the new event."""
    from lockdown.store.db import connect
    from lockdown.store.migrations import migrate
    from tests.store.old_database import database_before

    old = database_before(tmp_path / "old.db", "m027")
    old.conn.execute("INSERT INTO users (name, email, token_hash, created_at) VALUES ('A', 'a@x.uk', 'h', 't')")
    old.conn.execute(
        "INSERT INTO console_sessions (token_hash, user_id, address, created_at, expires_at) "
        "VALUES ('s', 1, 'a', 't', 'u')"
    )
    old.conn.execute(
        "INSERT INTO notifications (event, channel, recipient, subject, body, state, next_attempt_at, created_at) "
        "VALUES ('declared', 'email', 'a@x.uk', 's', 'b', 'pending', 't', 't')"
    )
    old.conn.commit()
    old.close()
    db = connect(tmp_path / "old.db")
    # Later releases' migrations run after it in the same upgrade.
    assert migrate(db)[0] == "m027_provider_sign_in"
    assert db.conn.execute("SELECT break_glass, oidc_subject FROM users").fetchall() == [(0, None)]
    assert db.conn.execute("SELECT method FROM console_sessions").fetchall() == [("password",)]
    db.conn.execute(
        "INSERT INTO notifications (event, channel, recipient, subject, body, state, next_attempt_at, created_at) "
        "VALUES ('break_glass_sign_in', 'email', 'a@x.uk', 's', 'b', 'pending', 't', 't')"
    )
    assert db.conn.execute("SELECT event FROM notifications ORDER BY id").fetchall() == [
        ("declared",),
        ("break_glass_sign_in",),
    ]
    db.close()
