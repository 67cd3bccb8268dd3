"""UTC time: one clock type, one text form (ISO 8601, microseconds, ``Z``)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

Clock = Callable[[], datetime]


def utcnow() -> datetime:
    """The current time, aware and in UTC."""
    return datetime.now(UTC)


def to_iso(moment: datetime) -> str:
    """The stored and output form: UTC, always six fractional digits, ``Z``; sorts as text."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_iso(text: str) -> datetime:
    """Read an ISO 8601 time that states its zone; raise ValueError otherwise."""
    try:
        moment = datetime.fromisoformat(text.strip().replace("z", "Z"))
    except ValueError:
        raise ValueError(f"{text!r} is not an ISO 8601 time such as 2026-12-01T09:00:00Z") from None
    if moment.tzinfo is None:
        raise ValueError(f"{text!r} has no time zone; add 'Z' or an offset such as '+01:00'")
    return moment.astimezone(UTC)
