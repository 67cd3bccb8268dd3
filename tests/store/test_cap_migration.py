"""m031 (CAP in, issue 19): an older database keeps its roles and notices through the rebuilds of
``user_roles`` and ``notifications``, and then admits the role ``alerting`` and the event ``cap_proposed``."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from lockdown.store.migrations import migrate
from tests.store.old_database import database_before


def test_an_older_database_admits_the_alerting_role_and_the_cap_notice_keeping_its_rows(tmp_path: Path) -> None:
    old = database_before(tmp_path / "old.db", "m031_cap_proposals")
    old.conn.execute("INSERT INTO users (id, name, email, token_hash, created_at) VALUES (1, 'A', 'a@x', 'h', 'x')")
    old.conn.execute("INSERT INTO user_roles (user_id, role) VALUES (1, 'press'), (1, 'ermc')")
    old.conn.execute(
        "INSERT INTO notifications (event, channel, user_id, recipient, subject, body, state, next_attempt_at, "
        "created_at) VALUES ('kit_stale', 'email', 1, 'a@x', 's', 'b', 'pending', 'x', 'x')"
    )
    with pytest.raises(sqlite3.IntegrityError):
        old.conn.execute("INSERT INTO user_roles (user_id, role) VALUES (1, 'alerting')")
    old.conn.commit()
    assert "m031_cap_proposals" in migrate(old)
    assert sorted(old.conn.execute("SELECT role FROM user_roles").fetchall()) == [("ermc",), ("press",)]
    assert old.conn.execute("SELECT event FROM notifications").fetchall() == [("kit_stale",)]
    old.conn.execute("INSERT INTO user_roles (user_id, role) VALUES (1, 'alerting')")
    old.conn.execute(
        "INSERT INTO notifications (event, channel, user_id, recipient, subject, body, state, next_attempt_at, "
        "created_at) VALUES ('cap_proposed', 'email', 1, 'a@x', 's', 'b', 'pending', 'x', 'x')"
    )
    with pytest.raises(sqlite3.IntegrityError):
        old.conn.execute("INSERT INTO user_roles (user_id, role) VALUES (1, 'root')")
    old.conn.commit()
    old.close()
