"""Console sign-in: argon2 passwords, a TOTP second factor for press and ERMC, rate limiting."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from lockdown.cli import main
from lockdown.errors import TooManyAttempts, Unauthorized
from lockdown.people.signin import set_password, sign_in
from lockdown.people.users import disable_user
from lockdown.store import audit
from tests.conftest import SECRET, VAULT_KEY
from tests.people.conftest import NOW, PASSWORD


def test_a_manager_signs_in_with_a_password(world: Any) -> None:
    ctx, vault, *_ = world
    assert sign_in(ctx, vault, "Dan@LivUni.ac.uk", PASSWORD, None, "10.0.0.1").user.email == "dan@livuni.ac.uk"


def test_press_needs_a_current_code_and_each_code_works_once(world: Any) -> None:
    ctx, vault, clock, totp, _ = world
    with pytest.raises(Unauthorized, match="code"):
        sign_in(ctx, vault, "priya@livuni.ac.uk", PASSWORD, None, "a")
    with pytest.raises(Unauthorized, match="code"):
        sign_in(ctx, vault, "priya@livuni.ac.uk", PASSWORD, "000000" if totp.at(NOW) != "000000" else "111111", "a")
    code = totp.at(NOW)
    assert sign_in(ctx, vault, "priya@livuni.ac.uk", PASSWORD, code, "a").user.email == "priya@livuni.ac.uk"
    with pytest.raises(Unauthorized, match="used already"):
        sign_in(ctx, vault, "priya@livuni.ac.uk", PASSWORD, code, "a")
    clock.now = NOW + timedelta(seconds=30)
    assert sign_in(ctx, vault, "priya@livuni.ac.uk", PASSWORD, totp.at(clock.now - timedelta(seconds=0)), "b")


def test_a_code_one_step_old_is_accepted_for_clock_drift_but_not_two(world: Any) -> None:
    ctx, vault, clock, totp, _ = world
    clock.now = NOW + timedelta(seconds=35)
    assert sign_in(ctx, vault, "priya@livuni.ac.uk", PASSWORD, totp.at(NOW), "a")
    clock.now = NOW + timedelta(minutes=5)
    with pytest.raises(Unauthorized):
        sign_in(ctx, vault, "priya@livuni.ac.uk", PASSWORD, totp.at(NOW + timedelta(minutes=2)), "a")


@pytest.mark.parametrize(("email", "password"), [("dan@livuni.ac.uk", "wrong"), ("nobody@livuni.ac.uk", PASSWORD)])
def test_wrong_password_or_unknown_email_say_the_same(world: Any, email: str, password: str) -> None:
    ctx, vault, *_ = world
    with pytest.raises(Unauthorized, match="email or password is wrong"):
        sign_in(ctx, vault, email, password, None, "a")


def test_a_disabled_user_cannot_sign_in(world: Any) -> None:
    ctx, vault, *_ = world
    disable_user(ctx, "t", "dan@livuni.ac.uk")
    with pytest.raises(Unauthorized):
        sign_in(ctx, vault, "dan@livuni.ac.uk", PASSWORD, None, "a")


def test_sign_in_is_throttled_per_email_and_address_and_per_address(world: Any) -> None:
    ctx, vault, clock, *_ = world
    for _ in range(5):
        with pytest.raises(Unauthorized):
            sign_in(ctx, vault, "dan@livuni.ac.uk", "wrong", None, "10.0.0.1")
    with pytest.raises(TooManyAttempts, match="from here; try again in 15 minutes"):
        sign_in(ctx, vault, "dan@livuni.ac.uk", PASSWORD, None, "10.0.0.1")
    # From elsewhere the email is slowed down (a second here), not locked.
    with pytest.raises(TooManyAttempts, match="for this email; try again in 1 seconds") as slowed:
        sign_in(ctx, vault, "dan@livuni.ac.uk", PASSWORD, None, "10.0.0.2")
    assert slowed.value.extra == {"retry_after": 1}
    clock.now = NOW + timedelta(seconds=1)
    assert sign_in(ctx, vault, "dan@livuni.ac.uk", PASSWORD, None, "10.0.0.2")
    clock.now = NOW + timedelta(minutes=16)
    assert sign_in(ctx, vault, "dan@livuni.ac.uk", PASSWORD, None, "10.0.0.1")
    for n in range(20):
        with pytest.raises(Unauthorized):
            sign_in(ctx, vault, f"guess{n}@livuni.ac.uk", "wrong", None, "10.9.9.9")
    with pytest.raises(TooManyAttempts, match="from this address"):
        sign_in(ctx, vault, "dan@livuni.ac.uk", PASSWORD, None, "10.9.9.9")


def test_a_code_sent_after_its_step_was_used_is_refused_and_a_non_ascii_code_is_just_wrong(world: Any) -> None:
    ctx, vault, _clock, totp, _ = world
    assert sign_in(ctx, vault, "priya@livuni.ac.uk", PASSWORD, totp.at(NOW), "a")
    with pytest.raises(Unauthorized, match="used already"):
        sign_in(ctx, vault, "priya@livuni.ac.uk", PASSWORD, totp.at(NOW - timedelta(seconds=30)), "b")
    with pytest.raises(Unauthorized, match="code is wrong"):
        sign_in(ctx, vault, "priya@livuni.ac.uk", PASSWORD, "\uff11\uff12\uff13\uff14\uff15\uff16", "c")


def test_passwords_are_hashed_and_seeds_encrypted_and_attempts_audited(world: Any) -> None:
    ctx, vault, _clock, totp, tmp_path = world
    sign_in(ctx, vault, "dan@livuni.ac.uk", PASSWORD, None, "a")
    ctx.db.conn.execute("PRAGMA wal_checkpoint(FULL)")
    files = b"".join(p.read_bytes() for p in tmp_path.glob("signin.db*"))
    assert PASSWORD.encode() not in files
    assert totp.secret.encode() not in files
    stored = ctx.db.conn.execute("SELECT password_hash FROM users WHERE email = 'dan@livuni.ac.uk'").fetchone()[0]
    assert stored.startswith("$argon2id$")
    actions = [r[0] for r in ctx.db.conn.execute("SELECT action FROM audit_log")]
    assert "user.sign_in" in actions
    assert audit.verify(ctx.db, ctx.audit_key).ok


def test_a_short_password_is_refused(world: Any) -> None:
    ctx, *_ = world
    from lockdown.errors import InvalidInput

    with pytest.raises(InvalidInput, match="12"):
        set_password(ctx, "t", "dan@livuni.ac.uk", "short")


def test_the_cli_sets_a_password_and_enrolls_totp(tmp_path: Path) -> None:
    env = {"LOCKDOWN_DB": str(tmp_path / "c.db"), "LOCKDOWN_SECRET_KEY": SECRET, "LOCKDOWN_VAULT_KEY": VAULT_KEY}
    runner = CliRunner()
    runner.invoke(main, ["users", "add", "Priya", "--email", "priya@livuni.ac.uk", "--role", "press"], env=env)
    done = runner.invoke(
        main, ["users", "set-password", "priya@livuni.ac.uk", "--password-stdin"], input=PASSWORD + "\n", env=env
    )
    assert done.exit_code == 0, done.output
    prompted = runner.invoke(
        main, ["users", "set-password", "priya@livuni.ac.uk"], input=f"{PASSWORD}\n{PASSWORD}\n", env=env
    )
    assert prompted.exit_code == 0, prompted.output
    uri = runner.invoke(main, ["users", "enroll-totp", "priya@livuni.ac.uk"], env=env).stdout.strip()
    assert uri.startswith("otpauth://totp/Lockdown:priya%40livuni.ac.uk?secret=")
    too_short = runner.invoke(
        main, ["users", "set-password", "priya@livuni.ac.uk", "--password-stdin"], input="x\n", env=env
    )
    assert too_short.exit_code == 1
    assert "12 characters" in too_short.output
