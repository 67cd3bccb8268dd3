"""The sealed break-glass kit (issue 18, item 3): sealed from the vault, opened with any K of N
shares and refused with fewer, a changed byte anywhere in the file refused, a share of another
kit refused by name, stale after a rotation with ERMC told once, and ``used`` marking rotation."""

from __future__ import annotations

import base64
import itertools
import json
from pathlib import Path
from typing import Any

import pytest

from lockdown.crypto import Vault
from lockdown.errors import Conflict, Forbidden, InvalidInput, LockdownError
from lockdown.people.users import User, add_user, user_by_email
from lockdown.store import audit
from lockdown.vault.kit_file import KitRefused, SealedKit, Share, choose_shares, open_kit, parse_share, read_kit
from lockdown.vault.kits import list_kits, mark_used, seal
from lockdown.vault.rotation import rotations
from tests.conftest import SECRET
from tests.vault.vault_kit import KEY_A, PASSWORD, SEED, deposit

VAULT = Vault([base64.b64decode(KEY_A)])
PRESS = ["priya@livuni.ac.uk", "tom@livuni.ac.uk", "lena@livuni.ac.uk", "omar@livuni.ac.uk"]


@pytest.fixture
def w(world: dict[str, Any]) -> dict[str, Any]:
    """The vault's world with four press officers and chem's password deposited."""
    for name in ("lena", "omar"):
        add_user(world["ctx"], "t", name=name.title(), email=f"{name}@livuni.ac.uk", roles=["press"])
    assert deposit(world).status_code == 204
    return world


def ruth(w: dict[str, Any]) -> User:
    return user_by_email(w["ctx"].db, "ruth@livuni.ac.uk")


def sealed(w: dict[str, Any], holders: list[str], threshold: int) -> SealedKit:
    return seal(
        w["ctx"], VAULT, ruth(w), holders=holders, threshold=threshold, shares=len(holders), path=None,
        deliver=lambda kit: None,
    )  # fmt: skip


def opened(kit: SealedKit, shares: list[Share]) -> list[dict[str, Any]]:
    """Open the kit from its bytes and the shares' text, as ``lockdown kit open`` does."""
    read = read_kit(kit.data)
    return open_kit(read, choose_shares(read, [parse_share(s.text()) for s in shares]))


@pytest.mark.parametrize(("holders", "threshold"), [(3, 2), (4, 3)])
def test_any_k_of_n_shares_open_the_kit_and_k_minus_one_never_do(
    w: dict[str, Any], holders: int, threshold: int
) -> None:
    kit = sealed(w, PRESS[:holders], threshold)
    for subset in itertools.permutations(kit.shares, threshold):
        (chem,) = opened(kit, list(subset))
        assert (chem["handle"], chem["username"], chem["password"], chem["totp_secret"], chem["version"]) == (
            "@livuni_chem", "livuni_chem", PASSWORD, SEED, 1,
        )  # fmt: skip
    for subset in itertools.combinations(kit.shares, threshold - 1):
        with pytest.raises(KitRefused, match=f"needs {threshold} shares; {threshold - 1} given, 1 more needed"):
            opened(kit, list(subset))
    # The same share twice is one share.
    with pytest.raises(KitRefused, match="1 more needed"):
        opened(kit, [kit.shares[0]] * threshold if threshold == 2 else [kit.shares[0]] * 2 + [kit.shares[1]])


def test_a_changed_byte_anywhere_in_the_file_is_refused(w: dict[str, Any]) -> None:
    kit = sealed(w, PRESS[:3], 2)
    header_end = kit.data.index(b"\n", len("lockdown-kit 1\n"))
    assert b"@livuni_chem" in kit.data[:header_end]  # the header names what is inside, not the secrets
    assert PASSWORD.encode() not in kit.data
    assert SEED.encode() not in kit.data
    for position in range(len(kit.data)):
        changed = bytearray(kit.data)
        changed[position] ^= 0x01
        with pytest.raises(KitRefused):
            open_kit(read_kit(bytes(changed)), kit.shares[:2])
    # A header still well-formed but altered (a holder, the threshold) does not authenticate.
    header = kit.data[len("lockdown-kit 1\n") : header_end]
    for old, new in ((b'"threshold":2', b'"threshold":3'), (b"priya@", b"pr1ya@")):
        altered = kit.data.replace(header, header.replace(old, new))
        with pytest.raises(KitRefused, match=r"altered after it was sealed|header was changed"):
            open_kit(read_kit(altered), kit.shares)
    with pytest.raises(KitRefused, match="altered after it was sealed"):
        open_kit(read_kit(kit.data[:-20] + kit.data[-20:].swapcase()), kit.shares[:2])


def test_a_share_of_another_kit_or_an_altered_share_is_refused_by_name(w: dict[str, Any]) -> None:
    first, second = sealed(w, PRESS[:3], 2), sealed(w, PRESS[:3], 2)
    with pytest.raises(KitRefused, match=f"share 2 belongs to kit {second.kit_id}, not to this kit \\({first.kit_id}"):
        opened(first, [first.shares[0], second.shares[1]])
    # Re-labelled as the first kit's share (checksum made good): the key it rebuilds is wrong.
    relabelled = Share(first.kit_id, 2, second.shares[1].value)
    with pytest.raises(KitRefused, match=r"these shares do not rebuild kit .* key: a share is wrong"):
        opened(first, [first.shares[0], relabelled])
    text = first.shares[1].text()
    mistyped = text[:-12] + ("0" if text[-12] != "0" else "1") + text[-11:]
    with pytest.raises(KitRefused, match=f"share 2 of {first.kit_id} is mistyped"):
        parse_share(mistyped)
    with pytest.raises(KitRefused, match="not a kit share"):
        parse_share("hunter2")
    with pytest.raises(KitRefused, match="has no share 9"):
        opened(first, [first.shares[0], Share(first.kit_id, 9, first.shares[1].value)])


def test_sealing_is_audited_and_recorded_without_a_secret(w: dict[str, Any]) -> None:
    kit = sealed(w, PRESS[:3], 2)
    ctx = w["ctx"]
    (entry,) = [e for e in audit.list_entries(ctx.db, limit=1000) if e["action"] == "kit.seal"]
    assert entry["actor"] == "ruth@livuni.ac.uk"
    assert entry["subject"] == f"kit:{kit.kit_id}"
    assert entry["details"]["holders"] == PRESS[:3]
    assert entry["details"]["threshold"] == 2
    assert entry["details"]["versions"] == {str(w["chem"]): 1}
    trail = json.dumps(audit.list_entries(ctx.db, limit=1000))
    assert PASSWORD not in trail
    assert SEED not in trail
    assert kit.shares[0].value.hex() not in trail
    assert ctx.db.conn.execute("SELECT account_id, version FROM kit_credentials").fetchall() == [(w["chem"], 1)]
    assert audit.verify(ctx.db, audit.audit_key(SECRET.encode())).ok


def test_sealing_refuses_what_would_make_a_bad_kit(w: dict[str, Any]) -> None:
    cases: list[tuple[dict[str, Any], type[LockdownError], str]] = [
        ({"holders": PRESS[:3], "threshold": 2, "shares": 4}, InvalidInput, "shares is 4 but 3 holders"),
        ({"holders": PRESS[:3], "threshold": 1, "shares": 3}, InvalidInput, "threshold must be between 2 and"),
        ({"holders": PRESS[:3], "threshold": 4, "shares": 3}, InvalidInput, "threshold must be between 2 and"),
        ({"holders": [*PRESS[:2], "dan@livuni.ac.uk"], "threshold": 2, "shares": 3}, InvalidInput,
         "dan@livuni.ac.uk is not a press officer"),
        ({"holders": [PRESS[0], PRESS[0].upper()], "threshold": 2, "shares": 2}, InvalidInput, "named twice"),
        ({"holders": [PRESS[0], "nobody@livuni.ac.uk"], "threshold": 2, "shares": 2}, InvalidInput,
         "no user nobody@livuni.ac.uk"),
    ]  # fmt: skip
    for args, error, message in cases:
        with pytest.raises(error, match=message) as caught:
            seal(w["ctx"], VAULT, ruth(w), path=None, deliver=lambda kit: None, **args)
        assert caught.value.field in {"shares", "threshold", "holder"}
    priya = user_by_email(w["ctx"].db, PRESS[0])
    with pytest.raises(Forbidden):
        seal(w["ctx"], VAULT, priya, holders=PRESS[:2], threshold=2, shares=2, path=None, deliver=lambda k: None)
    with pytest.raises(Conflict, match="cannot be decrypted"):
        seal(w["ctx"], Vault([b"B" * 32]), ruth(w), holders=PRESS[:2], threshold=2, shares=2, path=None,
             deliver=lambda k: None)  # fmt: skip
    assert w["ctx"].db.conn.execute("SELECT COUNT(*) FROM kits").fetchone() == (0,)


def test_a_kit_that_cannot_be_written_is_not_recorded(w: dict[str, Any]) -> None:
    def fail(kit: SealedKit) -> None:
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        seal(w["ctx"], VAULT, ruth(w), holders=PRESS[:2], threshold=2, shares=2, path=None, deliver=fail)
    assert w["ctx"].db.conn.execute("SELECT COUNT(*) FROM kits").fetchone() == (0,)
    assert not [e for e in audit.list_entries(w["ctx"].db, limit=1000) if e["action"] == "kit.seal"]


def stale_notices(w: dict[str, Any]) -> list[tuple[str, str]]:
    return (
        w["ctx"]
        .db.conn.execute("SELECT recipient, subject FROM notifications WHERE event = 'kit_stale' ORDER BY id")
        .fetchall()
    )


def test_a_rotation_makes_every_kit_holding_the_old_version_stale_and_ermc_is_told_once(w: dict[str, Any]) -> None:
    old = sealed(w, PRESS[:3], 2)
    assert [k["stale"] for k in list_kits(w["ctx"])] == [False]
    assert deposit(w, password="N3w-Password-After-Rotation").status_code == 204
    (kit,) = list_kits(w["ctx"])
    assert kit["stale"]
    assert "@livuni_chem" in kit["stale_reason"]
    assert "version 2" in kit["stale_reason"]
    assert stale_notices(w) == [
        ("ruth@livuni.ac.uk", f"Lockdown: break-glass kit {old.kit_id} is stale; seal a new one")
    ]
    # Told once per kit: another rotation is no second notice.
    assert deposit(w, password="Th1rd-Password-Of-Chem").status_code == 204
    assert len(stale_notices(w)) == 1
    # A kit sealed now holds version 3 and is current; the first deposit of another account's
    # password makes it stale (it lacks a password that exists), told once.
    new = sealed(w, PRESS[:3], 2)
    assert {k["id"]: k["stale"] for k in list_kits(w["ctx"])} == {old.kit_id: True, new.kit_id: False}
    assert deposit(w, who="amira", account="phys", username="livuni_phys").status_code == 204
    assert {k["id"]: k["stale"] for k in list_kits(w["ctx"])} == {old.kit_id: True, new.kit_id: True}
    assert [subject.split()[3] for _r, subject in stale_notices(w)] == [old.kit_id, new.kit_id]
    actions = [e["action"] for e in audit.list_entries(w["ctx"].db, limit=1000)]
    assert actions.count("kit.stale") == 2


def test_used_marks_every_password_still_current_for_rotation_and_records_who_opened_it(w: dict[str, Any]) -> None:
    assert deposit(w, who="amira", account="phys", username="livuni_phys").status_code == 204
    kit = sealed(w, PRESS[:3], 2)
    assert (
        deposit(w, who="amira", account="phys", username="livuni_phys", password="Phys-Rotated-Already").status_code
        == 204
    )
    ctx = w["ctx"]
    with pytest.raises(InvalidInput, match="opened_by: there is no user") as caught:
        mark_used(ctx, ruth(w), kit.kit_id, ["stranger@example.org"])
    assert caught.value.field == "opened_by"
    result = mark_used(ctx, ruth(w), kit.kit_id, ["Priya@livuni.ac.uk", "tom@livuni.ac.uk"])
    assert result == {
        "kit_id": kit.kit_id, "opened_by": PRESS[:2], "rotation_required": [w["chem"]],
        "replaced_since_sealed": [w["phys"]],
    }  # fmt: skip
    due = {item["account_id"]: item["reasons"] for item in rotations(ctx, ruth(w))}
    assert [r["reason"] for r in due[w["chem"]]] == ["kit_opened"]
    assert due[w["chem"]][0]["detail"] == {"kit_id": kit.kit_id, "opened_by": PRESS[:2]}
    assert w["phys"] not in due
    knowers = ctx.db.conn.execute(
        "SELECT u.email FROM credential_knowers k JOIN users u ON u.id = k.user_id WHERE k.how = 'kit' ORDER BY 1"
    ).fetchall()
    assert knowers == [(PRESS[0],), (PRESS[1],)]
    (entry,) = [e for e in audit.list_entries(ctx.db, limit=1000) if e["action"] == "kit.used"]
    assert entry["details"]["opened_by"] == PRESS[:2]
    assert entry["actor"] == "ruth@livuni.ac.uk"
    (listed,) = [k for k in list_kits(ctx) if k["id"] == kit.kit_id]
    assert listed["used_at"]
    assert listed["opened_by"] == PRESS[:2]
    with pytest.raises(Conflict, match="marked used already"):
        mark_used(ctx, ruth(w), kit.kit_id, [PRESS[0]])
    with pytest.raises(LockdownError, match="no kit kit-0000000000000000"):
        mark_used(ctx, ruth(w), "kit-0000000000000000", [PRESS[0]])


def test_an_older_database_gains_the_kit_tables_and_keeps_users_and_notices(tmp_path: Path) -> None:
    """m028 on a database as the release before it left it: users and notices stay, and the
    outbox admits ``kit_stale`` beside every event it admitted."""
    from lockdown.store.db import connect
    from lockdown.store.migrations import migrate
    from tests.store.old_database import database_before

    old = database_before(tmp_path / "old.db", "m028")
    old.conn.execute("INSERT INTO users (name, email, token_hash, created_at) VALUES ('A', 'a@x.uk', 'h', 't')")
    old.conn.execute(
        "INSERT INTO notifications (event, channel, recipient, subject, body, state, next_attempt_at, created_at) "
        "VALUES ('break_glass_sign_in', 'email', 'a@x.uk', 's', 'b', 'pending', 't', 't')"
    )
    old.conn.commit()
    old.close()
    db = connect(tmp_path / "old.db")
    assert migrate(db)[0] == "m028_break_glass_kits"
    assert db.conn.execute("SELECT email FROM users").fetchall() == [("a@x.uk",)]
    db.conn.execute(
        "INSERT INTO notifications (event, channel, recipient, subject, body, state, next_attempt_at, created_at) "
        "VALUES ('kit_stale', 'email', 'a@x.uk', 's', 'b', 'pending', 't', 't')"
    )
    assert db.conn.execute("SELECT event FROM notifications ORDER BY id").fetchall() == [
        ("break_glass_sign_in",),
        ("kit_stale",),
    ]
    assert db.conn.execute("SELECT COUNT(*) FROM kits").fetchone() == (0,)
    db.close()
