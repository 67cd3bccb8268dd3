"""The tamper-evident audit trail: one HMAC-chained row per action, written in the action's own
transaction, verifiable end to end, with a head hash that can be kept off the machine."""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlite_utils import Database

from lockdown.timeutil import to_iso

GENESIS = "0" * 64


def audit_key(secret_key: bytes) -> bytes:
    """The chain's HMAC key, derived from the installation's secret so it never sits in the DB."""
    return hmac.new(secret_key, b"lockdown audit chain v1", hashlib.sha256).digest()


@dataclass(frozen=True)
class Entry:
    """One action to record: who did what to which subject."""

    actor: str
    action: str
    subject: str
    details: dict[str, Any]


def _entry_hash(key: bytes, seq: int, at: str, row: tuple[str, str, str, str], prev: str) -> str:
    actor, action, subject, details = row
    canonical = json.dumps([seq, at, actor, action, subject, details, prev], ensure_ascii=False, separators=(",", ":"))
    return hmac.new(key, canonical.encode(), hashlib.sha256).hexdigest()


def _canonical_details(details: dict[str, Any]) -> str:
    return json.dumps(details, sort_keys=True, ensure_ascii=False, separators=(",", ":"))


def record_many(db: Database, key: bytes, entries: Iterable[Entry], at: datetime) -> int:
    """Append entries inside the caller's write transaction; return the last seq written."""
    if not db.conn.in_transaction:
        raise RuntimeError("audit entries are written only inside the change's transaction")
    last = db.conn.execute("SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1").fetchone()
    seq, prev = (last[0], last[1]) if last else (0, GENESIS)
    stamp = to_iso(at)
    rows = []
    for entry in entries:
        seq += 1
        fields = (entry.actor, entry.action, entry.subject, _canonical_details(entry.details))
        digest = _entry_hash(key, seq, stamp, fields, prev)
        rows.append((seq, stamp, *fields, prev, digest))
        prev = digest
    db.conn.executemany(
        "INSERT INTO audit_log (seq, at, actor, action, subject, details, prev_hash, hash) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        rows,
    )
    return seq


def record(db: Database, key: bytes, entry: Entry, at: datetime) -> int:
    """Append one entry inside the caller's write transaction; return its seq."""
    return record_many(db, key, [entry], at)


@dataclass(frozen=True)
class Verification:
    """The result of walking the chain."""

    ok: bool
    entries: int
    head: str
    first_bad: int | None
    reason: str | None


def _rows(db: Database) -> Iterator[tuple[Any, ...]]:
    return iter(
        db.conn.execute("SELECT seq, at, actor, action, subject, details, prev_hash, hash FROM audit_log ORDER BY seq")
    )


def verify(db: Database, key: bytes, expect_head: str | None = None) -> Verification:
    """Check every entry's sequence, link and HMAC; with ``expect_head``, also a cut tail."""
    expected_seq, prev, count, seen_expected = 1, GENESIS, 0, expect_head is None
    for seq, at, actor, action, subject, details, prev_hash, digest in _rows(db):
        count += 1
        if seq > expected_seq:
            return Verification(False, count, prev, expected_seq, f"entry {expected_seq} is missing")
        if seq < expected_seq:
            return Verification(False, count, prev, seq, f"entry {seq} is out of place")
        if prev_hash != prev:
            return Verification(False, count, prev, seq, f"entry {seq} does not follow entry {seq - 1}")
        if not hmac.compare_digest(_entry_hash(key, seq, at, (actor, action, subject, details), prev_hash), digest):
            return Verification(False, count, prev, seq, f"entry {seq} does not match its hash")
        prev, expected_seq = digest, seq + 1
        seen_expected = seen_expected or digest == expect_head
    if not seen_expected:
        return Verification(
            False,
            count,
            prev,
            expected_seq,
            f"the kept head {expect_head} is not in the chain: entries from {expected_seq} "
            "on were removed, or the chain was rewritten",
        )
    return Verification(True, count, prev, None, None)


def head(db: Database) -> tuple[int, str]:
    """The last entry's seq and hash (0 and the genesis hash for an empty trail)."""
    last = db.conn.execute("SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1").fetchone()
    return (last[0], last[1]) if last else (0, GENESIS)


def list_entries(db: Database, *, after: int = 0, limit: int = 100, subject: str | None = None) -> list[dict[str, Any]]:
    """Entries oldest first, after a seq, optionally for one subject."""
    where, params = "seq > ?", [cast(Any, after)]
    if subject:
        where += " AND subject = ?"
        params.append(subject)
    rows = db.conn.execute(
        f"SELECT seq, at, actor, action, subject, details, prev_hash, hash FROM audit_log "
        f"WHERE {where} ORDER BY seq LIMIT ?",
        [*params, limit],
    ).fetchall()
    keys = ("seq", "at", "actor", "action", "subject", "details", "prev_hash", "hash")
    entries = [dict(zip(keys, row, strict=True)) for row in rows]
    for entry in entries:
        entry["details"] = json.loads(entry["details"])
    return entries
