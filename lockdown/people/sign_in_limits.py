"""How many console sign-ins may be tried, counted so that parallel attempts cannot slip past.

An attempt is written down as failed, in the write transaction that checks the limits, before its
password is looked at; only a success turns it into one. So however many arrive together, at most
the limit are ever checked. The limits stop a guesser without letting a stranger lock anyone out:

- five failures for one email from one address stop that address for that email (15 minutes);
- twenty failures from one address stop that address (15 minutes);
- beyond five failures for one email from anywhere, each next attempt on it waits a little longer
  (1, 2, 4, ... seconds, at most a minute): a delay, never a lock, and an address the person
  signed in from lately is not delayed by other addresses' failures at all.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlite_utils import Database

from lockdown.errors import TooManyAttempts
from lockdown.store.context import Changes, Context
from lockdown.timeutil import parse_iso, to_iso

WINDOW = timedelta(minutes=15)
MAX_FAILURES_PER_EMAIL_AND_ADDRESS = 5
MAX_FAILURES_PER_ADDRESS = 20
UNDELAYED_FAILURES_PER_EMAIL = 5
MAX_DELAY = timedelta(minutes=1)
KNOWN_ADDRESS = timedelta(days=30)


@dataclass(frozen=True)
class Attempt:
    """One sign-in attempt, counted as failed until it succeeds."""

    id: int
    email: str
    address: str


def begin_attempt(ctx: Context, email: str, address: str) -> Attempt:
    """Count an attempt for this (normalised) email from this address, or refuse it with 429."""
    # No audit entry here: the attempt's outcome is audited with it, once the password is checked.
    with ctx.change(allow_empty=True) as change:
        _refuse_past_limits(ctx.db, email, address, change.at)
        attempt_id = ctx.db.conn.execute(
            "INSERT INTO sign_in_attempts (email, address, at, ok) VALUES (?, ?, ?, 0)",
            [email, address, to_iso(change.at)],
        ).lastrowid
    return Attempt(int(attempt_id or 0), email, address)


def attempt_succeeded(change: Changes, attempt: Attempt) -> None:
    """Record, inside the change that signs the person in, that the attempt was not a failure."""
    change.context.db.conn.execute("UPDATE sign_in_attempts SET ok = 1 WHERE id = ?", [attempt.id])


def forget_attempt(change: Changes, attempt: Attempt) -> None:
    """Take back an attempt that guessed nothing (the password was right, the code left blank)."""
    change.context.db.conn.execute("DELETE FROM sign_in_attempts WHERE id = ? AND ok = 0", [attempt.id])


def _refuse_past_limits(db: Database, email: str, address: str, now: datetime) -> None:
    since = now - WINDOW
    for where, params, limit, whom in (
        ("email = ? AND address = ?", [email, address], MAX_FAILURES_PER_EMAIL_AND_ADDRESS, "for this email from here"),
        ("address = ?", [address], MAX_FAILURES_PER_ADDRESS, "from this address"),
    ):
        recent = _failures(db, where, params, since, limit)
        if len(recent) == limit:
            # The wait ends when the oldest of them leaves the window.
            _refuse(f"too many failed sign-ins {whom}", recent[-1] + WINDOW - now)
    count, last = db.conn.execute(
        "SELECT COUNT(*), MAX(at) FROM sign_in_attempts WHERE email = ? AND ok = 0 AND at > ?", [email, to_iso(since)]
    ).fetchone()
    if count < UNDELAYED_FAILURES_PER_EMAIL or _known_address(db, email, address, now):
        return
    # The exponent is capped before timedelta sees it: 2 ** 47 seconds overflows (a 500).
    delay = min(timedelta(seconds=2 ** min(count - UNDELAYED_FAILURES_PER_EMAIL, 16)), MAX_DELAY)
    _refuse("too many failed sign-ins for this email", parse_iso(last) + delay - now)


def _failures(db: Database, where: str, params: list[str], since: datetime, limit: int) -> list[datetime]:
    rows = db.conn.execute(
        f"SELECT at FROM sign_in_attempts WHERE {where} AND ok = 0 AND at > ? ORDER BY at DESC LIMIT ?",
        [*params, to_iso(since), limit],
    )
    return [parse_iso(row[0]) for row in rows]


def _known_address(db: Database, email: str, address: str, now: datetime) -> bool:
    """Whether the person signed in from this address lately (a stranger elsewhere cannot slow them)."""
    row = db.conn.execute(
        "SELECT 1 FROM sign_in_attempts WHERE email = ? AND address = ? AND ok = 1 AND at > ? LIMIT 1",
        [email, address, to_iso(now - KNOWN_ADDRESS)],
    ).fetchone()
    return row is not None


def _refuse(reason: str, wait: timedelta) -> None:
    if wait <= timedelta(0):
        return
    seconds = math.ceil(wait.total_seconds())
    after = f"{seconds} seconds" if seconds <= 90 else f"{math.ceil(seconds / 60)} minutes"
    raise TooManyAttempts(f"{reason}; try again in {after}", retry_after=seconds)
