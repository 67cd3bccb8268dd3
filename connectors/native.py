"""Posts scheduled natively on a platform (not through Lockdown), which an incident withdraws
and afterwards restores.

A connector that can do this has three methods (``SupportsNativeSchedules``):
``list_native_scheduled()`` lists them, ``withdraw_native(item)`` stops one going out and
returns what ``restore_native(item)`` needs to put it back, and ``restore_native`` returns the
remote id it then has (the same one, or a new one where the platform had to recreate it).
Every failure is a ``ConnectorError``; the caller retries the transient ones.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol, runtime_checkable

from connectors.base import ConnectorError


@dataclass(frozen=True)
class NativeScheduled:
    """One natively scheduled post: its id on the platform, when it is due (ISO 8601 UTC, as
    the platform gave it), and what is needed to recreate it (e.g. Mastodon's ``params``;
    Facebook's ``message`` and ``link``). JSON-safe, so the caller can store it as it is."""

    remote_id: str
    scheduled_at: str
    content: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> str:
        """This item as a JSON object text; ``from_json`` reads it back."""
        return json.dumps(
            {
                "remote_id": self.remote_id,
                "scheduled_at": self.scheduled_at,
                "content": self.content,
            },
            sort_keys=True,
            ensure_ascii=False,
        )

    @classmethod
    def from_json(cls, data: str | bytes | Mapping[str, Any]) -> NativeScheduled:
        """Read what ``to_json`` wrote (the text, or the object already parsed); ValueError if
        it is not such an object."""
        value: Any = json.loads(data) if isinstance(data, str | bytes) else data
        if not isinstance(value, Mapping):
            raise ValueError("a native scheduled post is a JSON object")
        remote_id, scheduled_at = value.get("remote_id"), value.get("scheduled_at")
        content = value.get("content", {})
        if not isinstance(remote_id, str) or not remote_id:
            raise ValueError("a native scheduled post needs its remote_id as a string")
        if not isinstance(scheduled_at, str) or not scheduled_at:
            raise ValueError("a native scheduled post needs its scheduled_at as a string")
        if not isinstance(content, Mapping):
            raise ValueError("a native scheduled post's content is a JSON object")
        return cls(remote_id=remote_id, scheduled_at=scheduled_at, content=dict(content))


@runtime_checkable
class SupportsNativeSchedules(Protocol):
    """A connector that can list, withdraw and restore its platform's native schedules."""

    def list_native_scheduled(self) -> list[NativeScheduled]: ...

    def withdraw_native(self, item: NativeScheduled) -> NativeScheduled: ...

    def restore_native(self, item: NativeScheduled) -> str: ...


_METHODS = ("list_native_scheduled", "withdraw_native", "restore_native")


def supports_native_schedules(connector: object) -> bool:
    """Whether a connector (an instance, or its class from the registry) has the three native
    schedule methods. To narrow the type for mypy, use ``isinstance(connector,
    SupportsNativeSchedules)`` on an instance."""
    return all(callable(getattr(connector, name, None)) for name in _METHODS)


def utc_now() -> datetime:
    """The current time (one place, so tests can fix it)."""
    return datetime.now(UTC)


def parse_utc(value: str) -> datetime:
    """An ISO 8601 time as an aware UTC datetime (a time without offset is taken as UTC);
    a permanent ConnectorError if it is not one."""
    try:
        parsed = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except (AttributeError, ValueError):
        raise ConnectorError(f"not an ISO 8601 time: {value!r}", permanent=True) from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def iso_utc(moment: datetime) -> str:
    """A time as ISO 8601 UTC to the second, e.g. ``2030-05-01T09:00:00Z``."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def restore_time(original: datetime, *, now: datetime, at_least: timedelta, otherwise: timedelta) -> datetime:
    """When to put a withdrawn post back: its original time, unless that is past or less
    than ``at_least`` ahead of ``now`` (the platform would refuse it), then ``now +
    otherwise``."""
    if original - now < at_least:
        return now + otherwise
    return original
