"""CAP 1.2 alerts from the campus alerting system (issue 19, CAP in): each alert becomes a
proposed declaration that a press officer confirms in one step (or dismisses), unless its
playbook says ``declare_from_cap``.

An alert is parsed and validated by xmlschema against the OASIS schema (``cap12.xsd``, shipped
beside this module), entities and DTDs refused (``defuse='always'``): XML is never read by hand.
One alert is one proposal, keyed by (sender, identifier): the same alert sent again is answered
with the same proposal. ``status`` Exercise proposes the exercise playbook; Test, Draft and System
are recorded and never proposed; a ``Cancel`` whose references name an alert that led to an
active incident proposes that incident's resolution, and one naming a proposal still waiting
withdraws it (``cancelled``).
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import cache
from pathlib import Path
from typing import Any, Final

import xmlschema
from sqlite_utils import Database
from xmlschema.exceptions import XMLResourceForbidden

from lockdown.errors import Conflict, InvalidInput, NotFound, RuleBroken
from lockdown.incidents.config import IncidentConfig
from lockdown.incidents.declare import declare_incident, declare_within, preview_held, resolve_incident
from lockdown.incidents.playbooks import Playbook
from lockdown.notify.outbox import Notice, queue
from lockdown.people.users import User, role_holders
from lockdown.store.busy import retry_when_busy
from lockdown.store.context import Changes, Context
from lockdown.timeutil import to_iso

SCHEMA_PATH: Final = Path(__file__).with_name("cap12.xsd")
EXERCISE_PLAYBOOK: Final = "exercise"
RECORDED_STATUSES: Final = ("Test", "Draft", "System")
STATES: Final = ("proposed", "declared", "resolved", "dismissed", "cancelled", "recorded")
KINDS: Final = ("declare", "resolve", "record")
MAX_REASON = 2000
MAX_TEXT = 8000
_COLUMNS = (
    "id, identifier, sender, sent, status, msg_type, kind, playbook, title, event, severity, headline, area, text, "
    "state, refers_to, incident_id, received_at, decided_at, dismiss_reason"
)


@cache
def cap_schema() -> xmlschema.XMLSchema:
    """The CAP 1.2 schema, built once."""
    return xmlschema.XMLSchema(str(SCHEMA_PATH))


def parse_alert(body: bytes) -> dict[str, Any]:
    """The alert as a dict, or a 400 naming ``alert`` with the parser's or the validator's
    message. Entities and DTDs are refused before anything is expanded."""
    if not body:
        raise InvalidInput("send a CAP 1.2 alert as the body (Content-Type: application/cap+xml)", field="alert")
    schema = cap_schema()
    try:
        resource = xmlschema.XMLResource(body, defuse="always")
        error = next(iter(schema.iter_errors(resource)), None)
        if error is not None:
            where = f" (at {error.path})" if error.path else ""
            raise InvalidInput(f"not a valid CAP 1.2 alert: {error.reason}{where}", field="alert")
        decoded = schema.to_dict(resource)
    except XMLResourceForbidden as exc:
        raise InvalidInput(f"the alert is refused: {exc} (no DTDs or entities)", field="alert") from None
    except (xmlschema.XMLSchemaException, ValueError) as exc:
        raise InvalidInput(f"not a valid CAP 1.2 alert: {exc}", field="alert") from None
    if not isinstance(decoded, dict):  # pragma: no cover - the schema's root is one element
        raise InvalidInput("not a valid CAP 1.2 alert", field="alert")
    return decoded


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def _text(value: Any) -> str:
    if isinstance(value, dict):  # an element with attributes decodes to {"$": text, ...}
        value = value.get("$")
    return str(value).strip() if value is not None else ""


def summary(alert: Mapping[str, Any]) -> dict[str, Any]:
    """What Lockdown keeps of an alert: its keys, the first info block's words, every area."""
    infos = [info for info in _as_list(alert.get("info")) if isinstance(info, dict)]
    first = infos[0] if infos else {}
    areas = [_text(area.get("areaDesc")) for info in infos for area in _as_list(info.get("area"))]
    event, headline = _text(first.get("event")), _text(first.get("headline"))
    words = [_text(first.get(part)) for part in ("description", "instruction")]
    identifier = _text(alert.get("identifier"))
    return {
        "identifier": identifier,
        "sender": _text(alert.get("sender")),
        "sent": _text(alert.get("sent")),
        "status": _text(alert.get("status")),
        "msg_type": _text(alert.get("msgType")),
        "references": _text(alert.get("references")),
        "event": event or None,
        "events": [_text(info.get("event")) for info in infos],
        "severity": _text(first.get("severity")) or None,
        "severities": [_text(info.get("severity")) for info in infos],
        "headline": headline or None,
        "area": "; ".join(dict.fromkeys(a for a in areas if a)) or None,
        "title": (headline or event or f"CAP alert {identifier}")[:200],
        "text": "\n\n".join(w for w in words if w)[:MAX_TEXT],
    }


def mapped_playbook(config: IncidentConfig, alert: Mapping[str, Any]) -> str:
    """The playbook LOCKDOWN_CAP_PLAYBOOKS maps the alert to: the first rule matching any of its
    info blocks (events without case), else the default. An exercise proposes the exercise playbook."""
    if alert["status"] == "Exercise":
        return EXERCISE_PLAYBOOK
    events = {event.casefold() for event in alert["events"]}
    for field, value, playbook in config.cap_rules:
        if (field == "event" and value.casefold() in events) or (field == "severity" and value in alert["severities"]):
            return playbook
    return config.cap_default_playbook


def _referenced(db: Database, references: str) -> list[dict[str, Any]]:
    """Earlier proposals named by a CAP ``references`` value (``sender,identifier,sent`` triples)."""
    found = []
    for triple in references.split():
        parts = triple.split(",")
        if len(parts) >= 2:
            row = _row_where(db, "sender = ? AND identifier = ?", [parts[0], parts[1]])
            if row is not None:
                found.append(row)
    return found


def _row_where(db: Database, where: str, params: list[Any]) -> dict[str, Any] | None:
    cursor = db.conn.execute(f"SELECT {_COLUMNS} FROM cap_proposals WHERE {where}", params)
    row = cursor.fetchone()
    return dict(zip([c[0] for c in cursor.description], row, strict=True)) if row is not None else None


def receive_alert(ctx: Context, config: IncidentConfig, actor: User, body: bytes) -> tuple[dict[str, Any], bool]:
    """Take a CAP alert (the ``alerting`` role): validate it, record it and propose what it asks,
    telling the press team. Returns the proposal and whether it is new (False: the same alert
    was received before, and nothing changed)."""
    actor.require("alerting")
    alert = summary(parse_alert(body))
    existing = _row_where(ctx.db, "sender = ? AND identifier = ?", [alert["sender"], alert["identifier"]])
    if existing is not None:
        return _answer(existing), False
    playbook_name = mapped_playbook(config, alert)
    if alert["status"] not in RECORDED_STATUSES and alert["msg_type"] != "Cancel":
        playbook = config.playbooks.get(playbook_name)
        if playbook is None:
            raise RuleBroken(f"there is no {playbook_name} playbook to propose (LOCKDOWN_CAP_PLAYBOOKS)", field="alert")

    def record() -> tuple[dict[str, Any], bool]:
        with ctx.change() as change:
            again = _row_where(ctx.db, "sender = ? AND identifier = ?", [alert["sender"], alert["identifier"]])
            if again is not None:  # received meanwhile: the same proposal
                change.audit(actor.email, "cap.repeat", f"cap_proposal:{again['id']}", identifier=alert["identifier"])
                return _answer(again), False
            proposal_id = _record(change, config, actor, alert, playbook_name)
        row = _row_where(ctx.db, "id = ?", [proposal_id])
        assert row is not None
        return _answer(row), True

    return retry_when_busy(ctx.db, record, retry_seconds=config.busy_retry_seconds)


def _record(change: Changes, config: IncidentConfig, actor: User, alert: dict[str, Any], playbook_name: str) -> int:
    """The alert's row and what follows from it, inside the receiving transaction."""
    db = change.context.db
    kind, state, incident_id, refers_to = "declare", "proposed", None, None
    playbook: str | None = playbook_name
    note = ""
    if alert["status"] in RECORDED_STATUSES:
        kind, state, playbook = "record", "recorded", None
        note = f"a {alert['status']} alert is recorded, never proposed"
    elif alert["msg_type"] == "Cancel":
        kind, state, playbook = "record", "recorded", None
        note = "a Cancel for no alert Lockdown acted on"
        for earlier in _referenced(db, alert["references"]):
            refers_to = earlier["id"]
            active = (
                earlier["incident_id"] is not None
                and db.conn.execute("SELECT status FROM incidents WHERE id = ?", [earlier["incident_id"]]).fetchone()[0]
                == "active"
            )
            if active:
                kind, state, incident_id = "resolve", "proposed", earlier["incident_id"]
                playbook, note = earlier["playbook"], f"proposes resolving incident {incident_id}"
                break
            if earlier["state"] == "proposed":
                db.conn.execute(
                    "UPDATE cap_proposals SET state = 'cancelled', decided_at = ? WHERE id = ? AND state = 'proposed'",
                    [to_iso(change.at), earlier["id"]],
                )
                change.audit(actor.email, "cap.cancelled", f"cap_proposal:{earlier['id']}", by=alert["identifier"])
                note = f"withdrew proposal {earlier['id']}"
    proposal_id = int(
        db.conn.execute(
            "INSERT INTO cap_proposals (identifier, sender, sent, status, msg_type, kind, playbook, title, event, "
            "severity, headline, area, text, state, refers_to, incident_id, received_by, received_at) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [alert["identifier"], alert["sender"], alert["sent"], alert["status"], alert["msg_type"], kind, playbook,
             alert["title"], alert["event"], alert["severity"], alert["headline"], alert["area"], alert["text"],
             state, refers_to, incident_id, actor.id, to_iso(change.at)],
        ).lastrowid
        or 0
    )  # fmt: skip
    change.audit(
        actor.email, "cap.receive", f"cap_proposal:{proposal_id}",
        identifier=alert["identifier"], sender=alert["sender"], status=alert["status"], msg_type=alert["msg_type"],
        kind=kind, playbook=playbook, state=state, incident_id=incident_id, note=note,
    )  # fmt: skip
    if state != "proposed":
        return proposal_id
    chosen = config.playbooks[playbook] if kind == "declare" and playbook is not None else None
    if chosen is not None and chosen.declare_from_cap:
        _declare_at_once(change, config, actor, proposal_id, chosen, alert)
        return proposal_id
    _tell_press(change, config, proposal_id, kind, playbook, alert["title"], incident_id)
    return proposal_id


def _reason(alert: Mapping[str, Any], proposal_id: int) -> str:
    what = ", ".join(x for x in (alert.get("event"), alert.get("severity")) if x)
    return (f"Proposed by CAP alert {alert['identifier']} from {alert['sender']}"
            f"{f' ({what})' if what else ''}, proposal {proposal_id}.")[:2000]  # fmt: skip


def _declare_at_once(
    change: Changes, config: IncidentConfig, actor: User, proposal_id: int, playbook: Playbook, alert: dict[str, Any]
) -> None:
    """The playbook says ``declare_from_cap``: the incident is declared in the receiving transaction."""
    incident = declare_within(change.context, config, actor, playbook, alert["title"], _reason(alert, proposal_id))
    change.context.db.conn.execute(
        "UPDATE cap_proposals SET state = 'declared', incident_id = ?, decided_at = ? WHERE id = ?",
        [incident["id"], to_iso(change.at), proposal_id],
    )
    change.audit(
        actor.email, "cap.declare", f"cap_proposal:{proposal_id}",
        incident_id=incident["id"], playbook=playbook.name, declared_from_cap=True,
    )  # fmt: skip
    _tell_press(change, config, proposal_id, "declared", playbook.name, alert["title"], incident["id"])


def _tell_press(
    change: Changes, config: IncidentConfig, proposal_id: int, kind: str, playbook: str | None, title: str,
    incident_id: int | None,
) -> int:  # fmt: skip
    """One email per enabled press officer, with the link that confirms it."""
    link = f"{config.public_url.rstrip('/')}/cap/proposals/{proposal_id}"
    if kind == "resolve":
        subject = f"Lockdown: CAP cancel - resolve incident {incident_id}? ({title})"
        what = f"The campus alerting system cancelled the alert behind incident {incident_id}: resolve it?"
    elif kind == "declared":
        subject = f"Lockdown: incident {incident_id} declared from a CAP alert: {title}"
        what = f"The {playbook} playbook declares CAP alerts at once: incident {incident_id} is declared."
    else:
        subject = f"Lockdown: CAP alert - declare {playbook}? ({title})"
        what = f"The campus alerting system raised an alert. Nothing is held until you confirm the {playbook} playbook."
    return queue(
        change,
        (
            Notice(
                "cap_proposed",
                email,
                subject[:300],
                f"Dear {name},\n\n{what}\n\n{title}\n\nOpen it (one confirmation): {link}\n",
                user_id,
                incident_id=incident_id,
            )
            for user_id, name, email in role_holders(change.context.db, "press")
        ),
    )


def _answer(row: Mapping[str, Any]) -> dict[str, Any]:
    proposed = row["state"] == "proposed"
    notes = {
        "recorded": "recorded only: Test, Draft and System alerts and a Cancel of nothing acted on are not proposed",
        "declared": "declared at once: the playbook says declare_from_cap",
    }
    return {
        "proposal_id": row["id"],
        "playbook": row["playbook"],
        "kind": row["kind"],
        "state": row["state"],
        "incident_id": row["incident_id"],
        "message": "waiting for a press officer to confirm" if proposed else notes.get(row["state"], row["state"]),
    }


def proposal_row(db: Database, proposal_id: int) -> dict[str, Any]:
    """The stored proposal; 404 when there is none."""
    row = _row_where(db, "id = ?", [proposal_id])
    if row is None:
        raise NotFound(f"no CAP proposal {proposal_id}", field="id")
    return row


def get_proposal(db: Database, config: IncidentConfig, viewer: User, proposal_id: int) -> dict[str, Any]:
    """One proposal with how many accounts confirming it would hold (or release) now (press and ERMC)."""
    viewer.require("press", "ermc")
    row = proposal_row(db, proposal_id)
    held = None
    if row["kind"] == "declare" and row["state"] == "proposed":
        playbook = config.playbooks.get(row["playbook"])
        held = preview_held(db, playbook, viewer) if playbook is not None else None
    elif row["kind"] == "resolve" and row["incident_id"] is not None:
        held = int(db.conn.execute("SELECT COUNT(*) FROM account_holds WHERE incident_id = ?",
                                   [row["incident_id"]]).fetchone()[0])  # fmt: skip
    return {**row, "accounts": held}


def list_proposals(db: Database, viewer: User, *, state: str | None = None, limit: int = 50) -> dict[str, Any]:
    """Proposals waiting first (oldest first), then the rest, newest first (press and ERMC)."""
    viewer.require("press", "ermc")
    where, params = "", []
    if state is not None:
        if state not in STATES:
            raise InvalidInput(f"state must be one of {', '.join(STATES)}", field="state")
        where, params = "WHERE state = ?", [state]
    cursor = db.conn.execute(
        f"SELECT {_COLUMNS} FROM cap_proposals {where} "
        "ORDER BY state <> 'proposed', CASE WHEN state = 'proposed' THEN id ELSE -id END LIMIT ?",
        [*params, max(1, min(limit, 200))],
    )
    names = [c[0] for c in cursor.description]
    return {"items": [dict(zip(names, row, strict=True)) for row in cursor]}


def waiting(db: Database) -> list[dict[str, Any]]:
    """The proposals waiting for press, oldest first (the dashboard's first lines)."""
    cursor = db.conn.execute(f"SELECT {_COLUMNS} FROM cap_proposals WHERE state = 'proposed' ORDER BY id LIMIT 50")
    names = [c[0] for c in cursor.description]
    return [dict(zip(names, row, strict=True)) for row in cursor]


def confirm_proposal(ctx: Context, config: IncidentConfig, actor: User, proposal_id: int) -> dict[str, Any]:
    """Press confirms: declare with the proposal's playbook (or resolve its incident). The
    proposal is claimed in the same transaction as the declaration, so it is acted on once."""
    actor.require("press")
    row = proposal_row(ctx.db, proposal_id)
    if row["state"] != "proposed":
        raise Conflict(f"CAP proposal {proposal_id} is {row['state']} already", field="state")

    def act() -> dict[str, Any]:
        with ctx.change() as change:
            claimed = ctx.db.conn.execute(
                "UPDATE cap_proposals SET state = ?, decided_by = ?, decided_at = ? "
                "WHERE id = ? AND state = 'proposed'",
                ["declared" if row["kind"] == "declare" else "resolved", actor.id, to_iso(change.at), proposal_id],
            ).rowcount
            if not claimed:
                raise Conflict(f"CAP proposal {proposal_id} was decided meanwhile", field="state")
            if row["kind"] == "declare":
                data = {"playbook": row["playbook"], "title": row["title"], "reason": _reason(row, proposal_id)}
                result = declare_incident(ctx, config, actor, data)
                ctx.db.conn.execute(
                    "UPDATE cap_proposals SET incident_id = ? WHERE id = ?", [result["id"], proposal_id]
                )
                incident_id = result["id"]
            else:
                result = resolve_incident(ctx, config, actor, row["incident_id"], {})
                incident_id = row["incident_id"]
            change.audit(
                actor.email, f"cap.{'declare' if row['kind'] == 'declare' else 'resolve'}",
                f"cap_proposal:{proposal_id}", incident_id=incident_id, playbook=row["playbook"],
                identifier=row["identifier"],
            )  # fmt: skip
        return {"proposal_id": proposal_id, "kind": row["kind"], "incident_id": incident_id, "result": result}

    return retry_when_busy(ctx.db, act, retry_seconds=config.busy_retry_seconds)


def dismiss_proposal(ctx: Context, actor: User, proposal_id: int, data: Mapping[str, Any]) -> dict[str, Any]:
    """Press dismisses a waiting proposal, saying why."""
    actor.require("press")
    reason = data.get("reason")
    if not isinstance(reason, str) or not reason.strip():
        raise InvalidInput("reason is required: say why the alert needs no declaration", field="reason")
    if len(reason) > MAX_REASON:
        raise InvalidInput(f"reason is longer than {MAX_REASON} characters", field="reason")
    proposal_row(ctx.db, proposal_id)
    with ctx.change() as change:
        done = ctx.db.conn.execute(
            "UPDATE cap_proposals SET state = 'dismissed', dismiss_reason = ?, decided_by = ?, decided_at = ? "
            "WHERE id = ? AND state = 'proposed'",
            [reason.strip(), actor.id, to_iso(change.at), proposal_id],
        ).rowcount
        if not done:
            raise Conflict(f"CAP proposal {proposal_id} is not waiting", field="state")
        change.audit(actor.email, "cap.dismiss", f"cap_proposal:{proposal_id}", reason=reason.strip())
    return {"proposal_id": proposal_id, "state": "dismissed", "decided_at": to_iso(change.at)}
