"""Weekly hours such as ``Mon-Fri 09:00-17:00``: office hours and accounts' monitored hours."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_SEGMENT = re.compile(
    r"^(?P<days>[A-Za-z]{3}(?:-[A-Za-z]{3})?(?:,[A-Za-z]{3}(?:-[A-Za-z]{3})?)*)\s+"
    r"(?P<start>\d{2}:\d{2})-(?P<end>\d{2}:\d{2})$"
)
FORMAT_HINT = "'Mon-Fri 09:00-17:00', several joined with ';' (e.g. 'Mon-Fri 08:00-18:00; Sat 10:00-14:00'), or '24/7'"


class HoursError(ValueError):
    """Raised when a weekly-hours text cannot be read."""


@dataclass(frozen=True)
class Window:
    """One span of minutes, the same on each of its weekdays (0 = Monday)."""

    weekdays: frozenset[int]
    start_minute: int
    end_minute: int


@dataclass(frozen=True)
class WeeklyHours:
    """A set of weekly windows; ``contains`` answers for a local wall-clock time."""

    text: str
    windows: tuple[Window, ...]

    def contains(self, local: datetime) -> bool:
        """Whether the local wall-clock time falls inside one of the windows."""
        minute = local.hour * 60 + local.minute
        return any(local.weekday() in w.weekdays and w.start_minute <= minute < w.end_minute for w in self.windows)


def _minute(text: str, whole: str) -> int:
    hours, minutes = int(text[:2]), int(text[3:])
    if minutes > 59 or hours > 24 or (hours == 24 and minutes):
        raise HoursError(f"{text!r} in {whole!r} is not a time of day (00:00 to 24:00)")
    return hours * 60 + minutes


def _weekdays(spec: str, whole: str) -> frozenset[int]:
    chosen: set[int] = set()
    for part in spec.lower().split(","):
        ends = part.split("-")
        try:
            first, last = DAYS.index(ends[0]), DAYS.index(ends[-1])
        except ValueError:
            raise HoursError(f"{part!r} in {whole!r} is not a day (Mon ... Sun)") from None
        if last < first:
            raise HoursError(f"{part!r} in {whole!r} runs backwards; write e.g. 'Sat-Sun'")
        chosen.update(range(first, last + 1))
    return frozenset(chosen)


def parse_weekly_hours(text: str) -> WeeklyHours:
    """Read weekly hours, raising HoursError with what is wrong and the expected form."""
    whole = text.strip()
    if not whole:
        raise HoursError(f"is empty; write {FORMAT_HINT}")
    if whole.lower() == "24/7":
        return WeeklyHours(whole, (Window(frozenset(range(7)), 0, 24 * 60),))
    windows = []
    for segment in whole.split(";"):
        match = _SEGMENT.match(segment.strip())
        if not match:
            raise HoursError(f"{segment.strip()!r} is not of the form {FORMAT_HINT}")
        start = _minute(match["start"], whole)
        end = _minute(match["end"], whole)
        if end <= start:
            raise HoursError(f"{segment.strip()!r} ends before it starts; split a span past midnight in two")
        windows.append(Window(_weekdays(match["days"], whole), start, end))
    return WeeklyHours(whole, tuple(windows))
