"""``lockdown kit`` as the installed command: sealed on the server with shares written 0600,
opened with no database, no keys and no network reachable, refused with too few shares or a
changed file, listed as stale after a rotation, and marked used once the service is back."""

from __future__ import annotations

import os
import stat
import subprocess
from pathlib import Path
from typing import Any

import pytest

from lockdown.crypto import Vault
from lockdown.people.users import add_user
from lockdown.register.accounts import register_account
from lockdown.store import audit
from lockdown.store.context import Context
from lockdown.store.db import connect
from lockdown.store.migrations import migrate
from lockdown.vault.credentials import deposit
from lockdown.vault.kits import list_kits
from tests.conftest import LOCKDOWN, SECRET, VAULT_KEY

PASSWORD = "Corr3ct-Horse-Battery-Staple"
SEED = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"
HOLDERS = ["priya@livuni.ac.uk", "tom@livuni.ac.uk", "lena@livuni.ac.uk"]


def lockdown(*args: str, env: dict[str, str], stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run([LOCKDOWN, *args], env=env, input=stdin, capture_output=True, text=True, timeout=60)


@pytest.fixture
def server(tmp_path: Path) -> dict[str, Any]:
    """A database with ERMC, three press officers and one account with a password deposited."""
    import base64

    env = {**os.environ, "LOCKDOWN_DB": str(tmp_path / "kit.db"), "LOCKDOWN_SECRET_KEY": SECRET,
           "LOCKDOWN_VAULT_KEY": VAULT_KEY, "LOCKDOWN_USER": "ruth@livuni.ac.uk"}  # fmt: skip
    db = connect(tmp_path / "kit.db")
    migrate(db)
    ctx = Context(db, audit.audit_key(SECRET.encode()))
    ruth, _ = add_user(ctx, "t", name="Ruth", email="ruth@livuni.ac.uk", roles=["ermc", "manager"])
    for email in HOLDERS:
        add_user(ctx, "t", name=email.split("@")[0].title(), email=email, roles=["press"])
    register_account(
        ctx, ruth, {"handle": "@livuni_chem", "platform": "x", "unit": "U", "purpose": "P",
                    "monitored_hours": "24/7", "manager": "ruth@livuni.ac.uk"},
    )  # fmt: skip
    vault = Vault([base64.b64decode(VAULT_KEY)])
    deposit(ctx, vault, ruth, 1, {"username": "livuni_chem", "password": PASSWORD, "totp_secret": SEED})
    yield {"env": env, "ctx": ctx, "vault": vault, "ruth": ruth, "path": tmp_path}
    db.close()


def seal(server: dict[str, Any], *extra: str, threshold: int = 2) -> subprocess.CompletedProcess[str]:
    holders = [arg for email in HOLDERS for arg in ("--holder", email)]
    return lockdown("kit", "seal", "--shares", "3", "--threshold", str(threshold), *holders, *extra, env=server["env"])


def nowhere(tmp_path: Path) -> dict[str, str]:
    """The machine running ``kit open``: no database, no secret key, no vault key, no user."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("LOCKDOWN_")}
    return {**env, "LOCKDOWN_DB": str(tmp_path / "absent.db")}


def test_seal_writes_owner_only_shares_and_open_needs_no_database_and_k_shares(
    server: dict[str, Any], tmp_path: Path
) -> None:
    shares = tmp_path / "shares"
    shares.mkdir()
    sealed = seal(server, "--out", str(tmp_path / "kit.lockdown"), "--share-dir", str(shares))
    assert sealed.returncode == 0, sealed.stderr
    assert sealed.stdout == ""  # the shares went to their files, nowhere else
    files = sorted(shares.iterdir())
    assert [f.name for f in files] == sorted(f"{email}.share" for email in HOLDERS)
    assert {stat.S_IMODE(f.stat().st_mode) for f in files} == {0o600}
    assert PASSWORD not in (tmp_path / "kit.lockdown").read_text()

    away = nowhere(tmp_path)
    opened = lockdown("kit", "open", str(tmp_path / "kit.lockdown"), str(files[0]), str(files[2]), env=away)
    assert opened.returncode == 0, opened.stderr
    assert "@livuni_chem (x), account 1, version 1" in opened.stdout
    assert f"password: {PASSWORD}" in opened.stdout
    assert "TOTP code at" in opened.stdout
    assert "2 of 3 shares open it" in opened.stderr
    assert not list(tmp_path.glob("absent.db*"))  # no database was created or opened

    short = lockdown("kit", "open", str(tmp_path / "kit.lockdown"), str(files[1]), env=away)
    assert short.returncode == 1
    assert "needs 2 shares; 1 given, 1 more needed" in short.stderr
    assert PASSWORD not in short.stdout

    changed = bytearray((tmp_path / "kit.lockdown").read_bytes())
    changed[-10] = ord("A") if changed[-10] != ord("A") else ord("B")
    (tmp_path / "changed.lockdown").write_bytes(bytes(changed))
    tampered = lockdown("kit", "open", str(tmp_path / "changed.lockdown"), str(files[0]), str(files[1]), env=away)
    assert tampered.returncode == 1
    assert "was altered after it was sealed" in tampered.stderr


def test_shares_printed_once_open_from_stdin_and_a_share_of_another_kit_is_refused(
    server: dict[str, Any], tmp_path: Path
) -> None:
    first = seal(server, "--out", str(tmp_path / "a.lockdown"))
    second = seal(server, "--out", str(tmp_path / "b.lockdown"))
    assert first.returncode == 0, first.stderr
    lines = first.stdout.splitlines()
    assert [line.split("\t")[0] for line in lines] == HOLDERS
    away = nowhere(tmp_path)
    # Pasted as printed (email, tab, share), one per line.
    opened = lockdown("kit", "open", str(tmp_path / "a.lockdown"), env=away, stdin="\n".join(lines[1:]) + "\n")
    assert opened.returncode == 0, opened.stderr
    assert f"password: {PASSWORD}" in opened.stdout
    other = second.stdout.splitlines()[1]
    mixed = lockdown("kit", "open", str(tmp_path / "a.lockdown"), env=away, stdin=f"{lines[0]}\n{other}\n")
    assert mixed.returncode == 1
    assert "share 2 belongs to kit kit-" in mixed.stderr
    assert "not to this kit" in mixed.stderr
    # A kit file is never overwritten.
    again = seal(server, "--out", str(tmp_path / "a.lockdown"))
    assert again.returncode == 1
    assert "exists" in again.stderr


def test_list_shows_a_kit_stale_after_a_rotation_and_used_marks_its_passwords(
    server: dict[str, Any], tmp_path: Path
) -> None:
    assert seal(server, "--out", str(tmp_path / "kit.lockdown")).returncode == 0
    listed = lockdown("kit", "list", env=server["env"])
    assert listed.returncode == 0, listed.stderr
    assert "\t2 of 3\t1 passwords\tcurrent\t" in listed.stdout
    deposit(server["ctx"], server["vault"], server["ruth"], 1, {"username": "livuni_chem", "password": "N3w-One"})
    stale = lockdown("kit", "list", env=server["env"])
    assert "stale since" in stale.stdout
    assert "@livuni_chem" in stale.stdout
    # The kit exposed version 1, which is no longer current: nothing left to rotate.
    used = lockdown("kit", "used", str(tmp_path / "kit.lockdown"), "--opened-by", HOLDERS[0], env=server["env"])
    assert used.returncode == 0, used.stderr
    assert "0 passwords marked for rotation; 1 already replaced since it was sealed" in used.stdout
    assert "used " in lockdown("kit", "list", env=server["env"]).stdout


def test_used_marks_rotation_and_refusals_are_one_clear_line(server: dict[str, Any], tmp_path: Path) -> None:
    sealed = seal(server, "--out", str(tmp_path / "kit.lockdown"))
    kit_id = sealed.stderr.split()[2]
    used = lockdown("kit", "used", kit_id, "--opened-by", HOLDERS[0], "--opened-by", HOLDERS[1], env=server["env"])
    assert used.returncode == 0, used.stderr
    assert "1 passwords marked for rotation" in used.stdout
    reasons = (
        server["ctx"].db.conn.execute("SELECT reason FROM rotation_requirements WHERE cleared_at IS NULL").fetchall()
    )
    assert reasons == [("kit_opened",)]
    cases = [
        (("kit", "used", kit_id, "--opened-by", HOLDERS[0]), "was marked used already"),
        (("kit", "used", "nonsense", "--opened-by", HOLDERS[0]), "neither a kit id"),
        (("kit", "seal", "--shares", "2", "--threshold", "2", "--holder", HOLDERS[0], "--holder",
          "ruth@livuni.ac.uk", "--out", str(tmp_path / "x")), "ruth@livuni.ac.uk is not a press officer"),
        (("kit", "seal", "--shares", "3", "--threshold", "2", "--holder", HOLDERS[0], "--holder",
          HOLDERS[1], "--out", str(tmp_path / "x")), "shares is 3 but 2 holders"),
    ]  # fmt: skip
    cases.append(
        (("kit", "seal", "--shares", "2", "--threshold", "2", "--holder", HOLDERS[0], "--holder", HOLDERS[1],
          "--out", str(tmp_path / "missing-dir" / "k")), "nothing was sealed"),
    )  # fmt: skip
    for args, message in cases:
        refused = lockdown(*args, env=server["env"])
        assert refused.returncode == 1, refused.stdout
        assert message in refused.stderr
        assert "Traceback" not in refused.stderr
    assert not (tmp_path / "x").exists()
    assert [k["holders"] for k in list_kits(server["ctx"])] == [HOLDERS]  # only the first kit was recorded
