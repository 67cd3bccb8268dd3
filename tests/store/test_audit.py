"""The audit trail: written with every change or not at all, and every kind of tampering found."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient

from lockdown.register.accounts import register_account
from lockdown.settings import Settings
from lockdown.store import audit
from lockdown.store.context import Context
from lockdown.store.db import connect
from tests.conftest import Login, account_payload, count_rows


@pytest.fixture
def trail(ctx: Context, manager: Login, register: Callable[..., dict[str, Any]]) -> Context:
    """A trail of a dozen entries, with the protecting triggers dropped as an attacker would."""
    for _ in range(8):
        register(manager)
    ctx.db.conn.executescript("DROP TRIGGER audit_log_no_update; DROP TRIGGER audit_log_no_delete;")
    return ctx


def check(ctx: Context, expect_head: str | None = None) -> audit.Verification:
    return audit.verify(ctx.db, ctx.audit_key, expect_head)


def test_an_untouched_trail_verifies(trail: Context) -> None:
    result = check(trail)
    assert result.ok
    assert result.first_bad is None
    assert result.entries == count_rows(trail, "audit_log")
    assert result.head == audit.head(trail.db)[1]


def test_the_trail_refuses_updates_and_deletes_while_its_triggers_stand(ctx: Context, manager: Login) -> None:
    with pytest.raises(sqlite3.IntegrityError, match="append-only"):
        ctx.db.conn.execute("UPDATE audit_log SET actor = 'x'")
    with pytest.raises(sqlite3.IntegrityError, match="append-only"):
        ctx.db.conn.execute("DELETE FROM audit_log")


def test_an_edited_entry_is_found(trail: Context) -> None:
    trail.db.conn.execute("UPDATE audit_log SET actor = 'someone-else' WHERE seq = 5")
    trail.db.conn.commit()
    result = check(trail)
    assert (result.ok, result.first_bad) == (False, 5)


def test_an_edited_entry_with_its_hash_recomputed_without_the_key_is_found(trail: Context) -> None:
    forged = audit._entry_hash(b"guessed key", 5, "2026-01-01T00:00:00.000000Z", ("x", "y", "z", "{}"), "0" * 64)
    trail.db.conn.execute("UPDATE audit_log SET hash = ? WHERE seq = 5", [forged])
    trail.db.conn.commit()
    assert check(trail).first_bad == 5


def test_a_deleted_entry_is_found(trail: Context) -> None:
    trail.db.conn.execute("DELETE FROM audit_log WHERE seq = 4")
    trail.db.conn.commit()
    result = check(trail)
    assert (result.ok, result.first_bad) == (False, 4)
    assert "missing" in (result.reason or "")


def test_reordered_entries_are_found(trail: Context) -> None:
    conn = trail.db.conn
    conn.execute("UPDATE audit_log SET seq = -1 WHERE seq = 3")
    conn.execute("UPDATE audit_log SET seq = 3 WHERE seq = 4")
    conn.execute("UPDATE audit_log SET seq = 4 WHERE seq = -1")
    conn.commit()
    assert check(trail).first_bad == 3


def test_an_inserted_entry_is_found(trail: Context) -> None:
    conn = trail.db.conn
    last_seq, last_hash = audit.head(trail.db)
    conn.execute(
        "INSERT INTO audit_log VALUES "
        "(?, '2026-01-01T00:00:00.000000Z', 'x', 'account.archive', 'account:1', '{}', ?, ?)",
        [last_seq + 1, last_hash, "f" * 64],
    )
    conn.commit()
    assert check(trail).first_bad == last_seq + 1


def test_an_entry_inserted_in_the_middle_by_renumbering_is_found(trail: Context) -> None:
    conn = trail.db.conn
    for seq in range(count_rows(trail, "audit_log"), 5, -1):
        conn.execute("UPDATE audit_log SET seq = seq + 1 WHERE seq = ?", [seq])
    row = conn.execute("SELECT hash FROM audit_log WHERE seq = 5").fetchone()
    conn.execute(
        "INSERT INTO audit_log VALUES (6, '2026-01-01T00:00:00.000000Z', 'x', 'y', 'z', '{}', ?, ?)",
        [row[0], "e" * 64],
    )
    conn.commit()
    assert check(trail).first_bad == 6


def test_a_truncated_tail_is_found_only_with_the_kept_head(trail: Context) -> None:
    kept = audit.head(trail.db)[1]
    total = count_rows(trail, "audit_log")
    trail.db.conn.execute("DELETE FROM audit_log WHERE seq > ?", [total - 3])
    trail.db.conn.commit()
    assert check(trail).ok, "without the kept head a cut tail looks like a shorter trail"
    result = check(trail, kept)
    assert (result.ok, result.first_bad) == (False, total - 2)


def test_a_kept_head_older_than_the_tail_still_verifies(trail: Context, manager: Login, ermc: Login) -> None:
    kept = audit.head(trail.db)[1]
    register_account(trail, ermc.user, account_payload(manager.email))
    assert check(trail, kept).ok


def test_a_change_whose_audit_write_fails_is_not_made(
    client: FlaskClient, ermc: Login, manager: Login, ctx: Context, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = (count_rows(ctx, "accounts"), count_rows(ctx, "audit_log"))

    def broken(*args: Any, **kwargs: Any) -> int:
        raise sqlite3.OperationalError("disk I/O error")

    monkeypatch.setattr(audit, "record_many", broken)
    response = client.post("/api/v1/accounts", json=account_payload(manager.email), headers=ermc.headers)
    assert response.status_code == 500
    assert response.json["error"]["code"] == "internal_error"
    assert "disk" not in response.get_data(as_text=True)
    assert (count_rows(ctx, "accounts"), count_rows(ctx, "audit_log")) == before


def test_the_api_reports_verification(client: FlaskClient, ermc: Login, trail: Context) -> None:
    good = client.get("/api/v1/audit/verify", headers=ermc.headers).json
    assert good["ok"] is True
    assert good["first_bad"] is None
    trail.db.conn.execute("UPDATE audit_log SET details = '{\"x\":1}' WHERE seq = 2")
    trail.db.conn.commit()
    bad = client.get("/api/v1/audit/verify", headers=ermc.headers).json
    assert (bad["ok"], bad["first_bad"]) == (False, 2)
    cut = client.get(f"/api/v1/audit/verify?expect_head={'a' * 64}", headers=ermc.headers).json
    assert cut["ok"] is False


def test_concurrent_writers_keep_one_unbroken_chain(
    settings: Settings, app: Any, ermc: Login, manager: Login, tmp_path: Path
) -> None:
    """Several threads, each with its own connection, change the register at once: BEGIN
    IMMEDIATE serialises them, so none fails with 'database is locked' and the chain holds."""
    key = audit.audit_key(settings.require_secret_key())
    failures: list[BaseException] = []

    def writer(number: int) -> None:
        db = connect(settings.db_path, busy_timeout=30)
        try:
            worker = Context(db, key)
            for n in range(15):
                register_account(
                    worker,
                    ermc.user,
                    account_payload(manager.email, handle=f"@livuni_t{number}_{n}"),
                )
        except BaseException as exc:  # pragma: no cover - reported below
            failures.append(exc)
        finally:
            db.close()

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []
    db = connect(settings.db_path)
    result = audit.verify(db, key)
    accounts = db.conn.execute("SELECT COUNT(*) FROM accounts").fetchone()[0]
    db.close()
    assert result.ok
    assert accounts == 90
