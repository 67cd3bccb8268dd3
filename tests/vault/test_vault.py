"""The credential vault (policy 2.2.5) through the HTTP API and the CLI."""

from __future__ import annotations

import base64
import logging
import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pyotp
import pytest
from click.testing import CliRunner

from lockdown.app import create_app
from lockdown.cli import main
from lockdown.settings import Settings
from lockdown.store import audit
from lockdown.vault.rotation import end_takeovers, send_reminders
from tests.conftest import SECRET
from tests.vault.vault_kit import DAY, KEY_A, KEY_B, NIGHT, PASSWORD, SEED, Clock, deposit, open_session, reveal


def test_the_whole_night_a_manager_deposits_and_the_press_team_reveals_at_2am(world: dict[str, Any]) -> None:
    assert deposit(world).status_code == 204
    session = open_session(world)
    assert session.status_code == 201, session.json
    assert session.json["grounds"] == "out of hours"
    assert session.json["expires_at"] == "2026-11-24T03:00:00.000000Z"
    shown = reveal(world, session.json["id"])
    assert shown.status_code == 200, shown.json
    assert shown.headers["Cache-Control"] == "no-store"
    assert (shown.json["username"], shown.json["password"]) == ("livuni_chem", PASSWORD)
    assert shown.json["totp_code"] == pyotp.TOTP(SEED).at(NIGHT)
    assert "totp_secret" not in shown.json
    assert SEED not in shown.get_data(as_text=True)
    meta = world["client"].get(f"/api/v1/accounts/{world['chem']}/credentials", headers=world["h"]["dan"]).json
    assert meta["rotation_required"] is True
    assert meta["reasons"][0]["reason"] == "revealed"
    assert meta["reasons"][0]["detail"] == {"by": "priya@livuni.ac.uk", "session_id": session.json["id"]}
    assert {(k["email"], k["how"]) for k in meta["known_by"]} == {
        ("dan@livuni.ac.uk", "deposited"), ("ed@livuni.ac.uk", "granted"), ("priya@livuni.ac.uk", "revealed"),
    }  # fmt: skip
    notice = world["ctx"].db.conn.execute("SELECT recipient, subject, body FROM notifications").fetchone()
    assert notice[0] == "dan@livuni.ac.uk"
    assert "revealed" in notice[1]
    assert "The account posted spam" in notice[2]
    actions = [r[0] for r in world["ctx"].db.conn.execute("SELECT action FROM audit_log")]
    assert "credential.reveal" in actions
    assert audit.verify(world["ctx"].db, world["ctx"].audit_key).ok
    rotations = world["client"].get("/api/v1/rotations", headers=world["h"]["dan"]).json["items"]
    assert [r["account_id"] for r in rotations] == [world["chem"]]
    assert deposit(world, password="N3w-Pass-After-Reveal").status_code == 204
    after = world["client"].get(f"/api/v1/accounts/{world['chem']}/credentials", headers=world["h"]["dan"]).json
    assert (after["version"], after["rotation_required"]) == (2, False)
    assert {k["email"] for k in after["known_by"]} == {"dan@livuni.ac.uk", "ed@livuni.ac.uk"}, "the list starts again"
    again = reveal(world, session.json["id"]).json
    assert (again["version"], again["password"]) == (2, "N3w-Pass-After-Reveal"), "older versions are never shown"


@pytest.mark.parametrize(
    ("who", "account", "status"),
    [("dan", "chem", 204), ("ruth", "chem", 204), ("amira", "chem", 403), ("ed", "chem", 403), ("priya", "chem", 403)],
)
def test_only_the_manager_or_ermc_deposits(world: dict[str, Any], who: str, account: str, status: int) -> None:
    assert deposit(world, who=who, account=account).status_code == status


@pytest.mark.parametrize(
    ("body", "field"),
    [({"password": ""}, "password"), ({"username": "  "}, "username"), ({"totp_secret": "not base32!"}, "totp_secret"),
     ({"totp_secret": "JBSWY3DPEHPK3PX"}, "totp_secret"), ({"totp_secret": "JBSWY3DP"}, "totp_secret"),
     ({"password": "x" * 1001}, "password")],
)  # fmt: skip
def test_a_bad_deposit_names_the_field_and_stores_nothing(
    world: dict[str, Any], body: dict[str, Any], field: str
) -> None:
    response = deposit(world, **body)
    assert response.status_code == 400
    assert response.json["error"]["field"] == field
    assert world["ctx"].db.conn.execute("SELECT COUNT(*) FROM credentials").fetchone()[0] == 0


class EightyBitTOTP(pyotp.TOTP):
    """What an authenticator app computes from an 80-bit seed (pyotp itself wants 112 bits)."""

    min_secret_length_bits = 80


def test_an_80_bit_totp_seed_is_stored_as_issued_and_the_metadata_says_it_is_short(world: dict[str, Any]) -> None:
    short = "jbsw y3dp ehpk 3pxp"  # 16 base32 characters, as many services still show them
    assert deposit(world, totp_secret=short).status_code == 204
    meta = world["client"].get(f"/api/v1/accounts/{world['chem']}/credentials", headers=world["h"]["dan"]).json
    assert (meta["has_totp"], meta["totp_seed_bits"], meta["totp_seed_short"]) == (True, 80, True)
    session = open_session(world).json["id"]
    shown = reveal(world, session)
    assert shown.status_code == 200, shown.json
    assert shown.json["totp_code"] == EightyBitTOTP("JBSWY3DPEHPK3PXP").at(NIGHT)
    assert deposit(world).status_code == 204
    meta = world["client"].get(f"/api/v1/accounts/{world['chem']}/credentials", headers=world["h"]["dan"]).json
    assert (meta["totp_seed_bits"], meta["totp_seed_short"]) == (160, False)
    assert deposit(world, totp_secret=None).status_code == 204
    meta = world["client"].get(f"/api/v1/accounts/{world['chem']}/credentials", headers=world["h"]["dan"]).json
    assert (meta["has_totp"], meta["totp_seed_bits"], meta["totp_seed_short"]) == (False, None, False)


def test_metadata_is_for_the_manager_ermc_and_press_and_never_holds_the_secret(world: dict[str, Any]) -> None:
    deposit(world)
    for who, status in (("dan", 200), ("ruth", 200), ("priya", 200), ("amira", 403), ("ed", 403)):
        response = world["client"].get(f"/api/v1/accounts/{world['chem']}/credentials", headers=world["h"][who])
        assert response.status_code == status
        assert PASSWORD not in response.get_data(as_text=True)


@pytest.mark.parametrize(
    ("justification", "status"),
    [("", 400), ("   ", 400), ("x" * 501, 400), ("bad\x07bell", 400), ("<script>alert(1)</script> hacked", 201)],
)
def test_justifications(world: dict[str, Any], justification: str, status: int) -> None:
    response = open_session(world, justification=justification)
    assert response.status_code == status, response.json
    if status == 201:
        assert response.json["justification"] == justification, "stored as text, shown as JSON text"


def test_in_office_hours_a_session_needs_an_incident(world: dict[str, Any], clock: Clock) -> None:
    clock.now = DAY
    refused = open_session(world)
    assert refused.status_code == 403
    assert "within office hours" in refused.json["error"]["message"]
    assert "out-of-hours sessions open at 17:00 on Tuesday" in refused.json["error"]["message"]
    assert "incident" in refused.json["error"]["message"]
    incident = (
        world["client"]
        .post("/api/v1/incidents", json={"title": "Hack", "reason": "spam"}, headers=world["h"]["priya"])
        .json["id"]
    )
    allowed = open_session(world, incident_id=incident)
    assert allowed.status_code == 201
    assert allowed.json["grounds"] == f"incident {incident}"
    assert open_session(world).json["grounds"] == f"incident {incident}", "any active incident is grounds"


@pytest.mark.parametrize("role", ["ruth", "dan"])
def test_only_the_press_team_opens_sessions(world: dict[str, Any], role: str) -> None:
    assert open_session(world, who=role).status_code == 403


def test_a_session_lasts_at_most_four_hours(world: dict[str, Any]) -> None:
    assert open_session(world, minutes=241).status_code == 400
    assert open_session(world, minutes=240).json["expires_at"] == "2026-11-24T06:00:00.000000Z"


def test_every_wrong_session_state(world: dict[str, Any], clock: Clock) -> None:
    deposit(world)
    deposit(world, who="amira", account="phys", username="livuni_phys")
    session = open_session(world).json["id"]
    assert reveal(world, session, who="tom").status_code == 404, "another press officer's session is not theirs"
    assert reveal(world, session, account="phys").status_code == 403, "an account the session does not cover"
    assert reveal(world, 424242).status_code == 404
    clock.now = NIGHT + timedelta(minutes=61)
    expired = reveal(world, session)
    assert expired.status_code == 409
    assert "expired" in expired.json["error"]["message"]
    clock.now = NIGHT
    other = open_session(world).json["id"]
    closed = world["client"].post(f"/api/v1/access-sessions/{other}/close", headers=world["h"]["priya"])
    assert closed.json["closed_at"] is not None
    assert reveal(world, other).status_code == 409
    again = world["client"].post(f"/api/v1/access-sessions/{other}/close", headers=world["h"]["priya"])
    assert again.status_code == 409
    by_other = world["client"].post(f"/api/v1/access-sessions/{other}/close", headers=world["h"]["tom"])
    assert by_other.status_code == 404
    assert world["ctx"].db.conn.execute("SELECT COUNT(*) FROM reveals").fetchone()[0] == 0


def test_a_reveal_whose_audit_write_fails_reveals_nothing(
    world: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    deposit(world)
    session = open_session(world).json["id"]

    def broken(*args: Any, **kwargs: Any) -> int:
        raise sqlite3.OperationalError("disk full")

    monkeypatch.setattr(audit, "record_many", broken)
    response = reveal(world, session)
    assert response.status_code == 500
    assert PASSWORD not in response.get_data(as_text=True)
    conn = world["ctx"].db.conn
    assert conn.execute("SELECT COUNT(*) FROM reveals").fetchone()[0] == 0
    assert conn.execute("SELECT COUNT(*) FROM rotation_requirements").fetchone()[0] == 0
    assert conn.execute("SELECT COUNT(*) FROM notifications").fetchone()[0] == 0


def test_tampered_swapped_truncated_and_unknown_key_ciphertexts_are_refused(world: dict[str, Any]) -> None:
    deposit(world)
    deposit(world, who="amira", account="phys", username="livuni_phys", password="Phys-Pass-123")
    session = open_session(world, account_ids=[world["chem"], world["phys"]]).json["id"]
    conn = world["ctx"].db.conn
    chem, phys = (conn.execute("SELECT password FROM credentials WHERE account_id = ?", [a]).fetchone()[0]
                  for a in (world["chem"], world["phys"]))  # fmt: skip

    def refused(value: str) -> None:
        conn.execute("UPDATE credentials SET password = ? WHERE account_id = ?", [value, world["chem"]])
        conn.commit()
        response = reveal(world, session)
        assert response.status_code == 409, response.json
        assert "cannot be decrypted" in response.json["error"]["message"]

    kid, _, payload = chem.partition(":")
    raw = bytearray(base64.b64decode(payload))
    raw[-1] ^= 1
    refused(f"{kid}:{base64.b64encode(bytes(raw)).decode()}")  # tampered
    refused(phys)  # swapped in from another account
    refused(f"{kid}:{base64.b64encode(base64.b64decode(payload)[:20]).decode()}")  # truncated
    refused(f"000000000000:{payload}")  # an unknown key id
    assert conn.execute("SELECT COUNT(*) FROM reveals").fetchone()[0] == 0


def test_offboarding_disables_ends_sessions_and_marks_what_they_knew(world: dict[str, Any]) -> None:
    deposit(world)
    session = open_session(world).json["id"]
    reveal(world, session)
    deposit(world, password="Rotated-After-Reveal")  # priya no longer knows the current one
    deposit(world, who="amira", account="phys", username="livuni_phys")
    session2 = open_session(world, account_ids=[world["phys"]]).json["id"]
    reveal(world, session2, account="phys")
    result = CliRunner().invoke(
        main, ["users", "offboard", "priya@livuni.ac.uk", "--as", "ruth@livuni.ac.uk"], env=world["env"]
    )
    assert result.exit_code == 0, result.output
    assert "passwords to rotate on accounts: " + str(world["phys"]) in result.output
    assert world["client"].get("/api/v1/me", headers=world["h"]["priya"]).status_code == 401
    reasons = {r["reason"] for r in world["client"].get(
        f"/api/v1/accounts/{world['phys']}/credentials", headers=world["h"]["ruth"]).json["reasons"]}  # fmt: skip
    assert "offboarded" in reasons
    chem_reasons = world["client"].get(f"/api/v1/accounts/{world['chem']}/credentials", headers=world["h"]["ruth"]).json
    assert chem_reasons["rotation_required"] is False
    state = world["ctx"].db.conn.execute("SELECT close_reason FROM access_sessions WHERE id = ?", [session2]).fetchone()
    assert state[0] == "owner offboarded"


def test_a_takeover_that_ends_requires_rotation(world: dict[str, Any], clock: Clock) -> None:
    deposit(world)
    created = world["client"].post(
        f"/api/v1/accounts/{world['chem']}/takeovers",
        json={"who": "Student ambassadors", "from": "2026-11-24T09:00:00Z", "until": "2026-11-25T09:00:00Z"},
        headers=world["h"]["dan"],
    )
    assert created.status_code == 201, created.json
    assert end_takeovers(world["ctx"]) == 0
    clock.now = datetime(2026, 11, 25, 9, 0, 1, tzinfo=UTC)
    assert end_takeovers(world["ctx"]) == 1
    meta = world["client"].get(f"/api/v1/accounts/{world['chem']}/credentials", headers=world["h"]["dan"]).json
    assert meta["reasons"][0]["reason"] == "takeover_ended"
    assert end_takeovers(world["ctx"]) == 0


def test_quarterly_reminders_go_once_per_due_window(world: dict[str, Any], clock: Clock) -> None:
    deposit(world)
    assert send_reminders(world["ctx"]) == 0
    clock.now = NIGHT + timedelta(days=90, seconds=1)
    assert send_reminders(world["ctx"]) == 1
    assert send_reminders(world["ctx"]) == 0, "idempotent"
    notices = world["ctx"].db.conn.execute("SELECT event, recipient FROM notifications ORDER BY id").fetchall()
    assert notices == [("rotation_due", "dan@livuni.ac.uk"), ("rotation_summary", "ruth@livuni.ac.uk")]
    meta = world["client"].get(f"/api/v1/accounts/{world['chem']}/credentials", headers=world["h"]["dan"]).json
    assert meta["reasons"][0]["reason"] == "quarterly"
    deposit(world, password="Quarterly-New-1")
    clock.now = clock.now + timedelta(days=90, seconds=1)
    assert send_reminders(world["ctx"]) == 1, "the new version has its own window"


def test_key_rotation_runs_twice_and_an_interrupted_one_changes_nothing(
    world: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    deposit(world)
    runner = CliRunner()
    rotated_env = {**world["env"], "LOCKDOWN_VAULT_KEY": f"{KEY_B},{KEY_A}"}
    import lockdown.crypto

    original = lockdown.crypto.Vault.encrypt
    calls = {"n": 0}

    def flaky(self: Any, plaintext: str, associated: bytes) -> str:
        calls["n"] += 1
        if calls["n"] == 2:
            raise RuntimeError("power cut")
        return original(self, plaintext, associated)

    monkeypatch.setattr(lockdown.crypto.Vault, "encrypt", flaky)
    interrupted = runner.invoke(main, ["vault", "rotate-key"], env=rotated_env)
    assert interrupted.exit_code != 0
    monkeypatch.setattr(lockdown.crypto.Vault, "encrypt", original)
    stored = world["ctx"].db.conn.execute("SELECT password FROM credentials").fetchone()[0]
    assert stored.startswith(lockdown.crypto.key_id(b"A" * 32)), "nothing half rewritten"
    first = runner.invoke(main, ["vault", "rotate-key"], env=rotated_env)
    assert first.exit_code == 0, first.output
    assert "re-encrypted 3 credential fields" in first.output
    second = runner.invoke(main, ["vault", "rotate-key"], env=rotated_env)
    assert "re-encrypted 0 credential fields" in second.output
    only_b = {**world["env"], "LOCKDOWN_VAULT_KEY": KEY_B}
    client = create_app(Settings.from_env(only_b), clock=Clock(NIGHT)).test_client()
    session = client.post(
        "/api/v1/access-sessions",
        json={"account_ids": [world["chem"]], "justification": "after key rotation"},
        headers=world["h"]["priya"],
    ).json["id"]
    shown = client.post(
        f"/api/v1/access-sessions/{session}/reveal", json={"account_id": world["chem"]}, headers=world["h"]["priya"]
    )
    assert shown.json["password"] == PASSWORD


def test_new_key_prints_a_usable_key() -> None:
    key = CliRunner().invoke(main, ["vault", "new-key"]).stdout.strip()
    assert len(base64.b64decode(key)) == 32


def test_no_secret_anywhere_after_a_full_scenario(world: dict[str, Any], caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    deposit(world)
    session = open_session(world).json["id"]
    reveal(world, session)
    world["client"].post("/api/v1/users/offboard", json={"email": "priya@livuni.ac.uk"}, headers=world["h"]["ruth"])
    world["ctx"].db.conn.execute("PRAGMA wal_checkpoint(FULL)")
    files = b"".join(p.read_bytes() for p in world["path"].glob("vault.db*"))
    for secret in (PASSWORD, SEED):
        assert secret.encode() not in files
        assert secret not in caplog.text
        for (body,) in world["ctx"].db.conn.execute("SELECT body FROM notifications"):
            assert secret not in body
        for (details,) in world["ctx"].db.conn.execute("SELECT details FROM audit_log"):
            assert secret not in details


def test_serve_refuses_to_start_without_a_vault_key(tmp_path: Path) -> None:
    env = {"LOCKDOWN_DB": str(tmp_path / "x.db"), "LOCKDOWN_SECRET_KEY": SECRET, "LOCKDOWN_VAULT_KEY": ""}
    result = CliRunner().invoke(main, ["serve"], env=env)
    assert result.exit_code == 1
    assert "LOCKDOWN_VAULT_KEY" in result.output
    assert "lockdown vault new-key" in result.output


def test_demo_creates_an_owner_only_vault_key_and_says_so(tmp_path: Path) -> None:
    env = {"LOCKDOWN_DB": str(tmp_path / "demo" / "x.db"), "LOCKDOWN_SECRET_KEY": "", "LOCKDOWN_VAULT_KEY": ""}
    result = CliRunner().invoke(main, ["demo"], env=env)
    assert result.exit_code == 0, result.output
    key = tmp_path / "demo" / "demo-vault.key"
    assert key.stat().st_mode & 0o777 == 0o600
    assert f"Demo vault key: {key}" in result.stdout
    assert len(base64.b64decode(key.read_text().strip())) == 32


def test_a_manager_lists_only_their_own_rotations_and_ermc_all(world: dict[str, Any]) -> None:
    deposit(world)
    deposit(world, who="amira", account="phys", username="livuni_phys")
    session = open_session(world, account_ids=[world["chem"], world["phys"]]).json["id"]
    reveal(world, session)
    reveal(world, session, account="phys")

    def listed(who: str) -> list[int]:
        return [
            r["account_id"] for r in world["client"].get("/api/v1/rotations", headers=world["h"][who]).json["items"]
        ]

    assert listed("dan") == [world["chem"]]
    assert listed("amira") == [world["phys"]]
    assert listed("ruth") == [world["chem"], world["phys"]]
    assert world["client"].get("/api/v1/rotations", headers=world["h"]["priya"]).status_code == 403
