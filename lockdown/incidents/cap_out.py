"""CAP 1.2 out: every approved incident message is also a CAP alert, and an incident that had
alerts ends with a ``Cancel`` when it is resolved. Built from the database on each request, so
nothing is stored twice; the internal reason is never read here."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote, urlsplit

from sqlite_utils import Database

from lockdown.incidents.config import IncidentConfig
from lockdown.incidents.playbooks import CapInfo
from lockdown.timeutil import parse_iso

CAP_NS = "urn:oasis:names:tc:emergency:cap:1.2"
ATOM_NS = "http://www.w3.org/2005/Atom"
CAP_MEDIA_TYPE = "application/cap+xml"
ATOM_MEDIA_TYPE = "application/atom+xml"
LANGUAGE = "en-GB"
FEED_PATH = "/cap/alerts.atom"
ALERT_PATH = "/cap/alerts/"
# A message that has been approved, whatever became of its deliveries; drafts never appear.
APPROVED = "m.approved_at IS NOT NULL"


@dataclass(frozen=True)
class CapAlert:
    """One alert as Lockdown publishes it."""

    identifier: str
    sender: str
    sent: datetime
    status: str  # Actual, or Exercise for an exercise incident
    msg_type: str  # Alert, Update or Cancel
    references: tuple[tuple[str, str, datetime], ...]  # (sender, identifier, sent) of earlier alerts
    info: CapInfo
    headline: str
    description: str
    web: str


def cap_sender(config: IncidentConfig) -> str:
    """LOCKDOWN_CAP_SENDER, or the public address's host (CAP: no spaces, commas, < or &)."""
    if config.cap_sender:
        return config.cap_sender
    address = urlsplit(config.public_url)  # the host (and port), never a user:password@ in it
    return f"{address.hostname}:{address.port}" if address.port else address.hostname or "lockdown"


def cap_time(moment: datetime) -> str:
    """CAP's form: seconds, an explicit offset, UTC written ``-00:00`` (CAP 1.2, 3.3.2)."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S") + "-00:00"


def _identifier(sender: str, kind: str, number: int) -> str:
    # CAP identifiers may contain no spaces, commas, < or &: the sender is checked for those.
    return f"urn:lockdown:{sender}:{kind}:{number}"


def _alerts_of(db: Database, config: IncidentConfig, incident_ids: list[int] | None = None) -> Iterator[CapAlert]:
    sender = cap_sender(config)
    web = config.public_url
    where = "" if incident_ids is None else f" AND i.id IN ({','.join('?' * len(incident_ids))})"
    rows = db.conn.execute(
        "SELECT m.id, m.body, m.approved_at, i.id, i.title, i.playbook, i.exercise, i.status, i.resolved_at "
        f"FROM incident_messages m JOIN incidents i ON i.id = m.incident_id WHERE {APPROVED}{where} "
        "ORDER BY i.id, m.approved_at, m.id",
        incident_ids or [],
    ).fetchall()
    earlier: dict[int, list[tuple[str, str, datetime]]] = {}
    resolved: dict[int, tuple[Any, ...]] = {}
    for message_id, body, approved_at, incident_id, title, playbook, exercise, status, resolved_at in rows:
        previous = earlier.setdefault(incident_id, [])
        alert = CapAlert(
            identifier=_identifier(sender, "message", message_id),
            sender=sender,
            sent=parse_iso(approved_at).replace(microsecond=0),
            status="Exercise" if exercise else "Actual",
            msg_type="Update" if previous else "Alert",
            references=tuple(previous),
            info=_info(config, playbook),
            headline=title,
            description=body,
            web=web,
        )
        previous.append((alert.sender, alert.identifier, alert.sent))
        yield alert
        if status == "resolved" and resolved_at:
            resolved[incident_id] = (title, playbook, exercise, resolved_at)
    for incident_id, (title, playbook, exercise, resolved_at) in resolved.items():
        yield CapAlert(
            identifier=_identifier(sender, "incident", incident_id) + ":resolved",
            sender=sender,
            sent=parse_iso(resolved_at).replace(microsecond=0),
            status="Exercise" if exercise else "Actual",
            msg_type="Cancel",
            references=tuple(earlier[incident_id]),
            info=_info(config, playbook),
            headline=f"Resolved: {title}",
            description=f"{title}: the incident is over; the earlier alerts are cancelled.",
            web=web,
        )


def _info(config: IncidentConfig, playbook: str) -> CapInfo:
    known = config.playbooks.get(playbook)
    return known.cap if known is not None else CapInfo(event=playbook)


def all_alerts(db: Database, config: IncidentConfig) -> list[CapAlert]:
    """Every published alert, newest first (within a second: a Cancel after its incident's
    messages, and messages in the order they were approved)."""
    ranked = sorted(
        enumerate(_alerts_of(db, config)), key=lambda pair: (pair[1].sent, pair[1].msg_type == "Cancel", pair[0])
    )
    return [alert for _, alert in reversed(ranked)]


def find_alert(db: Database, config: IncidentConfig, identifier: str) -> CapAlert | None:
    """The alert with this identifier, or None (an unknown one, a draft's, another sender's)."""
    prefix = f"urn:lockdown:{cap_sender(config)}:"
    if not identifier.startswith(prefix):
        return None
    parts = identifier[len(prefix) :].split(":")
    incident_id: int | None = None
    if len(parts) == 2 and parts[0] == "message" and parts[1].isdigit() and len(parts[1]) <= 18:
        row = db.conn.execute(
            f"SELECT m.incident_id FROM incident_messages m WHERE m.id = ? AND {APPROVED}", [int(parts[1])]
        ).fetchone()
        incident_id = row[0] if row else None
    elif len(parts) == 3 and parts[0] == "incident" and parts[1].isdigit() and len(parts[1]) <= 18:
        incident_id = int(parts[1]) if parts[2] == "resolved" else None
    if incident_id is None:
        return None
    return next((a for a in _alerts_of(db, config, [incident_id]) if a.identifier == identifier), None)


def _sub(parent: ET.Element, name: str, text: str) -> ET.Element:
    child = ET.SubElement(parent, f"{{{CAP_NS}}}{name}")
    child.text = text
    return child


def alert_xml(alert: CapAlert) -> bytes:
    """The alert as a CAP 1.2 document, in the schema's element order."""
    root = ET.Element(f"{{{CAP_NS}}}alert")
    _sub(root, "identifier", alert.identifier)
    _sub(root, "sender", alert.sender)
    _sub(root, "sent", cap_time(alert.sent))
    _sub(root, "status", alert.status)
    _sub(root, "msgType", alert.msg_type)
    _sub(root, "scope", "Public")
    if alert.status == "Exercise":
        _sub(root, "note", "An exercise: no real incident.")
    if alert.references:
        _sub(root, "references", " ".join(f"{s},{i},{cap_time(t)}" for s, i, t in alert.references))
    info = ET.SubElement(root, f"{{{CAP_NS}}}info")
    _sub(info, "language", LANGUAGE)
    _sub(info, "category", alert.info.category)
    _sub(info, "event", alert.info.event)
    _sub(info, "urgency", "Past" if alert.msg_type == "Cancel" else alert.info.urgency)
    _sub(info, "severity", alert.info.severity)
    _sub(info, "certainty", alert.info.certainty)
    _sub(info, "senderName", alert.sender)
    _sub(info, "headline", alert.headline)
    _sub(info, "description", alert.description)
    _sub(info, "web", alert.web)
    document: bytes = ET.tostring(root, encoding="utf-8", xml_declaration=True, default_namespace=CAP_NS)
    return document


def alert_url(config: IncidentConfig, alert: CapAlert) -> str:
    """Where the alert's own document is served."""
    return f"{config.public_url}{ALERT_PATH}{quote(alert.identifier, safe=':')}.xml"


def atom_time(moment: datetime) -> str:
    """RFC 3339, as Atom wants it."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def feed_xml(config: IncidentConfig, alerts: list[CapAlert], now: datetime) -> bytes:
    """An Atom 1.0 feed of the alerts, newest first, each entry linking to its CAP document."""

    def sub(parent: ET.Element, name: str, text: str | None = None, **attrs: str) -> ET.Element:
        child = ET.SubElement(parent, name, attrs)
        child.text = text
        return child

    # Unqualified names under a declared default namespace: ElementTree's default_namespace
    # option refuses the unqualified attributes (rel, href) Atom uses.
    feed = ET.Element("feed", xmlns=ATOM_NS)
    sub(feed, "id", f"{config.public_url}{FEED_PATH}")
    sub(feed, "title", f"Lockdown CAP alerts ({cap_sender(config)})")
    sub(feed, "updated", atom_time(alerts[0].sent if alerts else now))
    sub(feed, "link", rel="self", type=ATOM_MEDIA_TYPE, href=f"{config.public_url}{FEED_PATH}")
    author = sub(feed, "author")
    sub(author, "name", cap_sender(config))
    for alert in alerts:
        entry = sub(feed, "entry")
        sub(entry, "id", alert.identifier)
        prefix = "Exercise: " if alert.status == "Exercise" else ""
        sub(entry, "title", f"{prefix}{alert.msg_type}: {alert.headline}")
        sub(entry, "updated", atom_time(alert.sent))
        sub(entry, "published", atom_time(alert.sent))
        sub(entry, "link", rel="alternate", type=CAP_MEDIA_TYPE, href=alert_url(config, alert))
        sub(entry, "summary", alert.description)
        sub(entry, "category", term=alert.status)
    document: bytes = ET.tostring(feed, encoding="utf-8", xml_declaration=True)
    return document
