"""An access session's grounds (#12, finding 5) through the HTTP API: a drill is no grounds for
real credentials, and a session opened on an incident's grounds ends when that incident does."""

from __future__ import annotations

import sqlite3
from typing import Any

import pytest

from lockdown.store import audit
from tests.vault.test_reveal_races import race
from tests.vault.vault_kit import DAY, PASSWORD, Clock, at_once, deposit, open_session, reveal


def declare(w: dict[str, Any], playbook: str = "live-incident", who: str = "tom") -> int:
    """Declare an incident through the API and return its id."""
    response = w["client"].post(
        "/api/v1/incidents", json={"title": "T", "reason": "R", "playbook": playbook}, headers=w["h"][who]
    )
    assert response.status_code == 201, response.json
    incident_id: int = response.json["id"]
    return incident_id


def resolve(w: dict[str, Any], incident_id: int, client: Any = None) -> Any:
    """Resolve an incident through the API (a press officer other than the session's owner)."""
    return (client or w["client"]).post(f"/api/v1/incidents/{incident_id}/resolve", json={}, headers=w["h"]["tom"])


def session_row(w: dict[str, Any], session_id: int) -> tuple[str | None, str | None]:
    row: tuple[str | None, str | None] = (
        w["ctx"].db.conn.execute("SELECT closed_at, close_reason FROM access_sessions WHERE id = ?", [session_id])
    ).fetchone()
    return row


def test_a_drill_in_office_hours_opens_no_credentials(world: dict[str, Any], clock: Clock) -> None:
    clock.now = DAY
    deposit(world)
    drill = declare(world, "exercise")
    implicit = open_session(world)
    assert implicit.status_code == 403, implicit.json
    message = implicit.json["error"]["message"]
    assert f"incident {drill} is an exercise" in message
    assert "within office hours" in message
    named = open_session(world, incident_id=drill)
    assert named.status_code == 422, named.json
    assert named.json["error"]["field"] == "incident_id"
    assert named.json["error"]["code"] == "rule_broken"
    assert f"incident {drill} is an exercise" in named.json["error"]["message"]
    assert world["ctx"].db.conn.execute("SELECT COUNT(*) FROM access_sessions").fetchone()[0] == 0
    real = declare(world)
    opened = open_session(world)
    assert opened.status_code == 201, "a real incident beside the drill is grounds"
    assert opened.json["incident_id"] == real


def test_out_of_hours_a_drill_is_not_the_grounds_and_naming_it_is_refused(world: dict[str, Any]) -> None:
    drill = declare(world, "exercise")
    opened = open_session(world)
    assert opened.status_code == 201, opened.json
    assert (opened.json["grounds"], opened.json["incident_id"]) == ("out of hours", None)
    assert open_session(world, incident_id=drill).status_code == 422
    resolve(world, drill)
    assert session_row(world, opened.json["id"]) == (None, None), "ending the drill ends no out-of-hours session"


def test_resolving_an_incident_ends_the_sessions_opened_on_its_grounds(world: dict[str, Any], clock: Clock) -> None:
    clock.now = DAY.replace(hour=14)
    deposit(world)
    first, second = declare(world), declare(world)
    on_first = open_session(world, incident_id=first, minutes=240).json["id"]
    on_second = open_session(world, incident_id=second, minutes=240).json["id"]
    assert reveal(world, on_first).status_code == 200
    clock.now = DAY.replace(hour=17, minute=30)  # out of hours now, yet the grounds were the incident
    assert resolve(world, first).status_code == 200
    closed_at, reason = session_row(world, on_first)
    assert closed_at is not None
    assert reason == f"incident {first} resolved"
    refused = reveal(world, on_first)
    assert refused.status_code == 409
    assert f"incident {first} resolved" in refused.json["error"]["message"]
    assert PASSWORD not in refused.get_data(as_text=True)
    assert session_row(world, on_second) == (None, None), "another incident's session goes on"
    assert reveal(world, on_second).status_code == 200
    entries = (
        world["ctx"]
        .db.conn.execute(
            "SELECT seq, at, actor, action, subject FROM audit_log WHERE action IN ('access_session.ended', "
            "'incident.resolve') ORDER BY seq"
        )
        .fetchall()
    )
    assert [(e[2], e[3], e[4]) for e in entries] == [
        ("tom@livuni.ac.uk", "access_session.ended", f"access_session:{on_first}"),
        ("tom@livuni.ac.uk", "incident.resolve", f"incident:{first}"),
    ]
    assert entries[0][1] == entries[1][1] == closed_at, "one transaction, one time"
    kinds = [e["kind"] for e in world["client"].get(f"/api/v1/incidents/{first}", headers=world["h"]["tom"]).json[
        "timeline"]]  # fmt: skip
    assert "access_sessions_ended" in kinds
    assert audit.verify(world["ctx"].db, world["ctx"].audit_key).ok


def test_a_session_opened_on_a_drill_before_the_rule_reveals_nothing_and_is_closed(
    world: dict[str, Any], clock: Clock
) -> None:
    """A database written by an older release may hold a session whose grounds are a drill."""
    clock.now = DAY
    deposit(world)
    real, drill = declare(world), declare(world, "exercise")
    session_id = open_session(world, incident_id=real).json["id"]
    conn = world["ctx"].db.conn
    conn.execute("UPDATE access_sessions SET incident_id = ? WHERE id = ?", [drill, session_id])
    conn.commit()
    refused = reveal(world, session_id)
    assert refused.status_code == 409
    assert f"closed (incident {drill} is an exercise)" in refused.json["error"]["message"]
    assert session_row(world, session_id)[1] == f"incident {drill} is an exercise"
    assert conn.execute("SELECT COUNT(*) FROM reveals").fetchone()[0] == 0
    ended = conn.execute("SELECT details FROM audit_log WHERE action = 'access_session.ended'").fetchone()[0]
    assert f"incident {drill} is an exercise" in ended


def test_a_resolution_that_fails_leaves_its_sessions_open(
    world: dict[str, Any], clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    clock.now = DAY
    incident = declare(world)
    session_id = open_session(world, incident_id=incident).json["id"]

    def broken(*args: Any, **kwargs: Any) -> int:
        raise sqlite3.OperationalError("disk full")

    monkeypatch.setattr(audit, "record_many", broken)
    assert resolve(world, incident).status_code == 500
    monkeypatch.undo()
    assert session_row(world, session_id) == (None, None), "the session ends with the resolution or not at all"
    status = world["ctx"].db.conn.execute("SELECT status FROM incidents WHERE id = ?", [incident]).fetchone()[0]
    assert status == "active"


def test_no_reveal_commits_after_the_incident_it_stood_on_was_resolved(world: dict[str, Any], clock: Clock) -> None:
    clock.now = DAY
    deposit(world)
    late = []
    for trial in range(10):
        incident = declare(world)
        session_id = open_session(world, incident_id=incident).json["id"]
        statuses = race(world, world["h"]["priya"], session_id, lambda client, i=incident: resolve(world, i, client))
        conn = world["ctx"].db.conn
        (resolved,) = conn.execute(
            "SELECT seq FROM audit_log WHERE action = 'incident.resolve' AND subject = ?", [f"incident:{incident}"]
        ).fetchone()
        after = conn.execute(
            "SELECT COUNT(*) FROM audit_log WHERE action = 'credential.reveal' AND seq > ? "
            "AND json_extract(details, '$.session_id') = ?",
            [resolved, session_id],
        ).fetchone()[0]
        if after:
            late.append(trial)
        assert set(statuses) <= {200, 409}
    assert late == [], f"{len(late)} of 10 sessions revealed a password after their incident was resolved"


def test_no_session_opens_on_an_incident_being_resolved(world: dict[str, Any], clock: Clock) -> None:
    """Opening a session reads its grounds in the transaction that records it."""
    clock.now = DAY
    stranded, seen = [], set()
    for trial in range(40):
        incident = declare(world)
        body = {"account_ids": [world["chem"]], "justification": "J", "incident_id": incident}
        opened, resolved = at_once(
            world,
            lambda client, b=body: client.post("/api/v1/access-sessions", json=b, headers=world["h"]["priya"]),
            lambda client, i=incident: resolve(world, i, client),
        )
        assert resolved.status_code == 200
        assert opened.status_code in (201, 400), opened.json
        seen.add(opened.status_code)
        if opened.status_code == 201 and session_row(world, opened.json["id"])[0] is None:
            stranded.append(trial)
    assert stranded == [], f"{len(stranded)} of 40 sessions stayed open on a resolved incident"
    assert seen == {201, 400}, "the race was run: some sessions opened before the resolution, some after"
