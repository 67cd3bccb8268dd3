"""What every service call needs: a connection, the audit key and the clock."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlite_utils import Database

from lockdown.store import audit
from lockdown.store.db import write_transaction
from lockdown.timeutil import Clock, utcnow


@dataclass
class Context:
    """A service call's connection, audit key and clock (injected so tests can move time)."""

    db: Database
    audit_key: bytes
    clock: Clock = field(default=utcnow)

    def now(self) -> datetime:
        """The current time by this context's clock."""
        return self.clock()

    _open: Changes | None = field(default=None, init=False, repr=False)

    @contextmanager
    def change(self, *, allow_empty: bool = False) -> Iterator[Changes]:
        """A write transaction whose audit entries commit with it, or nothing does.

        A change opened inside another joins it, so services compose into one transaction.
        ``allow_empty`` is for sweeps that may find nothing to change (and then record nothing).
        """
        if self._open is not None:
            yield self._open
            return
        with write_transaction(self.db):
            changes = self._open = Changes(self, self.now())
            try:
                yield changes
            finally:
                self._open = None
            if not changes.entries and not allow_empty:
                raise RuntimeError("a change must record at least one audit entry")
            audit.record_many(self.db, self.audit_key, changes.entries, changes.at)


@dataclass
class Changes:
    """The audit entries gathered during one change, written just before it commits."""

    context: Context
    at: datetime
    entries: list[audit.Entry] = field(default_factory=list)

    def audit(self, actor: str, action: str, subject: str, **details: Any) -> None:
        """Record that ``actor`` did ``action`` to ``subject``."""
        self.entries.append(audit.Entry(actor, action, subject, details))
