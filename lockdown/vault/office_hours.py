"""Whether a moment is out of office hours: the press team's out-of-hours credential sessions depend on it."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

import holidays

from lockdown.hours import WeeklyHours

# The scan in next_out_of_hours covers a long bank-holiday weekend with room to spare.
SCAN_LIMIT = timedelta(days=8)
# Fixed English names so the 403 message does not depend on the server's locale.
_WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
_MONTHS = (
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
)


@lru_cache(maxsize=16)
def _bank_holidays(year: int) -> holidays.HolidayBase:
    """England and Wales bank holidays for one year, built once per year."""
    return holidays.country_holidays("GB", subdiv="ENG", years=year)


def bank_holiday(day: date) -> str | None:
    """The name of the England and Wales bank holiday on ``day``, or None."""
    name = _bank_holidays(day.year).get(day)
    return str(name) if name else None


def _local(moment: datetime, zone: ZoneInfo) -> datetime:
    """The wall-clock time in ``zone``; a naive moment is refused, since guessing its zone could open a session."""
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"moment must be timezone-aware, got naive {moment.isoformat()}")
    # astimezone sets fold for the repeated autumn hour, so wall-clock fields are always the true local ones.
    return moment.astimezone(zone)


def _out_of_hours_local(local: datetime, office_hours: WeeklyHours | None) -> bool:
    """The out-of-hours rule applied to a local wall-clock time."""
    if office_hours is None:
        return True
    if bank_holiday(local.date()) is not None:
        return True
    return not office_hours.contains(local)


def out_of_hours(moment: datetime, office_hours: WeeklyHours | None, timezone: str) -> bool:
    """Whether the aware ``moment`` is outside office hours (or on a bank holiday) in ``timezone``."""
    return _out_of_hours_local(_local(moment, ZoneInfo(timezone)), office_hours)


def explain(moment: datetime, office_hours: WeeklyHours | None, timezone: str) -> str:
    """A one-line reason, for a refusal message, why ``moment`` is or is not out of hours."""
    local = _local(moment, ZoneInfo(timezone))
    when = (
        f"it is {local:%H:%M} on {_WEEKDAYS[local.weekday()]} {local.day} {_MONTHS[local.month - 1]} {local.year}"
        f" in {timezone}"
    )
    if office_hours is None:
        return f"{when}, and no office hours are set, so every hour is out of hours"
    holiday = bank_holiday(local.date())
    if holiday is not None:
        return f"{when}, a bank holiday ({holiday})"
    if office_hours.contains(local):
        return f"{when}, within office hours ({office_hours.text})"
    return f"{when}, outside office hours ({office_hours.text})"


def next_out_of_hours(moment: datetime, office_hours: WeeklyHours | None, timezone: str) -> datetime | None:
    """When (UTC) out of hours next begins: ``moment`` itself if already, else a minute boundary within 8 days."""
    zone = ZoneInfo(timezone)
    if _out_of_hours_local(_local(moment, zone), office_hours):
        return moment.astimezone(UTC)
    # Stepping in UTC, not local time, visits every real minute once: none skipped in spring, none doubled in autumn.
    start = moment.astimezone(UTC).replace(second=0, microsecond=0) + timedelta(minutes=1)
    for step in range(int(SCAN_LIMIT / timedelta(minutes=1)) + 1):
        candidate = start + timedelta(minutes=step)
        if _out_of_hours_local(candidate.astimezone(zone), office_hours):
            return candidate
    return None


def access_window(moment: datetime, office_hours: WeeklyHours | None, timezone: str) -> tuple[bool, str]:
    """Whether out-of-hours access is open at ``moment``, and the refusal to give if not: where the
    time falls and when access next opens. The API and the console both ask here."""
    why_not = explain(moment, office_hours, timezone)
    opens = next_out_of_hours(moment, office_hours, timezone)
    if opens is not None and opens > moment:
        local = opens.astimezone(ZoneInfo(timezone))
        why_not += f"; out-of-hours sessions open at {local:%H:%M} on {local:%A}"
    return out_of_hours(moment, office_hours, timezone), why_not
