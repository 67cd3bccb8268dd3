"""Reveals racing the end of their session (#12, finding 9), as real concurrent requests: threads,
each with its own test client and so its own connection, against the app on one SQLite file.

The audit trail is written inside each change's transaction, so its sequence is the order in
which the changes committed: a reveal whose entry comes after the close (or the offboarding)
was committed after the session had ended.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from lockdown.people.users import add_user
from tests.vault.vault_kit import at_once, deposit, open_session

REVEALERS = 3


def race(w: dict[str, Any], reveal_as: dict[str, str], session_id: int, end: Callable[[Any], Any]) -> list[int]:
    """Start REVEALERS reveals and one ending call at the same moment; the reveals' statuses."""

    def reveal(client: Any) -> int:
        url = f"/api/v1/access-sessions/{session_id}/reveal"
        status: int = client.post(url, json={"account_id": w["chem"]}, headers=reveal_as).status_code
        return status

    *statuses, ending = at_once(w, *[reveal] * REVEALERS, end)
    assert ending.status_code == 200, ending.json
    return statuses


def reveals_after(w: dict[str, Any], session_id: int, action: str, subject: str) -> tuple[int, int]:
    """How many of the session's reveals committed before and after the ending change."""
    conn = w["ctx"].db.conn
    (ended,) = conn.execute("SELECT seq FROM audit_log WHERE action = ? AND subject = ?", [action, subject]).fetchone()
    seqs = [
        seq
        for seq, details in conn.execute("SELECT seq, details FROM audit_log WHERE action = 'credential.reveal'")
        if json.loads(details)["session_id"] == session_id
    ]
    return sum(seq < ended for seq in seqs), sum(seq > ended for seq in seqs)


def test_no_reveal_commits_after_its_session_was_closed(world: dict[str, Any]) -> None:
    deposit(world)
    late, seen = [], set()
    for trial in range(30):
        session_id = open_session(world).json["id"]
        statuses = race(
            world,
            world["h"]["priya"],
            session_id,
            lambda client, s=session_id: client.post(f"/api/v1/access-sessions/{s}/close", headers=world["h"]["priya"]),
        )
        before, after = reveals_after(world, session_id, "access_session.close", f"access_session:{session_id}")
        if after:
            late.append(trial)
        assert statuses.count(200) == before + after, "every reveal shown was recorded"
        assert set(statuses) <= {200, 409}
        seen.update(statuses)
    assert late == [], f"{len(late)} of 30 sessions revealed a password after they were closed"
    assert seen == {200, 409}, "the race was run: some reveals came before the close, some after"


def test_no_reveal_commits_after_its_owner_was_offboarded(world: dict[str, Any]) -> None:
    deposit(world)
    late, seen = [], set()
    for trial in range(30):
        email = f"leaver{trial}@livuni.ac.uk"
        user, token = add_user(world["ctx"], "t", name=f"Leaver {trial}", email=email, roles=["press"])
        leaver = {"Authorization": f"Bearer {token}"}
        session_id = (
            world["client"]
            .post(
                "/api/v1/access-sessions",
                json={"account_ids": [world["chem"]], "justification": "Spam at 02:00"},
                headers=leaver,
            )
            .json["id"]
        )
        statuses = race(
            world,
            leaver,
            session_id,
            lambda client, e=email: client.post(
                "/api/v1/users/offboard", json={"email": e}, headers=world["h"]["ruth"]
            ),
        )
        before, after = reveals_after(world, session_id, "user.offboard", f"user:{user.id}")
        if after:
            late.append(trial)
        # A reveal that lost the race is refused: 409 if it got past the token check, 401 if not.
        assert statuses.count(200) == before + after, "every reveal shown was recorded"
        assert set(statuses) <= {200, 401, 409}
        seen.update(statuses)
    assert late == [], f"{len(late)} of 30 offboarded officers' sessions revealed a password afterwards"
    assert 200 in seen, "the race was run: some reveals came before the offboarding"
    assert seen - {200}, "the race was run: some reveals came after the offboarding"
