"""Out of hours: office-hours edges, England bank holidays and clock changes, all given as UTC moments."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from lockdown.hours import WeeklyHours, parse_weekly_hours
from lockdown.vault.office_hours import bank_holiday, explain, next_out_of_hours, out_of_hours

LONDON = "Europe/London"
NEW_YORK = "America/New_York"
WEEKDAYS = parse_weekly_hours("Mon-Fri 09:00-17:00")
ALWAYS = parse_weekly_hours("24/7")


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


@pytest.mark.parametrize(
    ("moment", "expected"),
    [
        # Tuesday 24 November 2026, GMT (UTC+0).
        ("2026-11-24T08:59:59", True),
        ("2026-11-24T09:00:00", False),
        ("2026-11-24T16:59:59", False),
        ("2026-11-24T17:00:00", True),
        # Tuesday 16 June 2026, BST (UTC+1): 09:00 local is 08:00 UTC.
        ("2026-06-16T07:59:59", True),
        ("2026-06-16T08:00:00", False),
        ("2026-06-16T15:59:59", False),
        ("2026-06-16T16:00:00", True),
        # Weekend: Saturday 28 and Sunday 29 November 2026 at midday.
        ("2026-11-28T12:00:00", True),
        ("2026-11-29T12:00:00", True),
        # Spring change, Sunday 29 March 2026: 01:00 UTC becomes 02:00 BST.
        ("2026-03-29T00:30:00", True),
        ("2026-03-29T01:30:00", True),
        # Friday 27 March (GMT) then Monday 30 March (BST) either side of 09:00 local.
        ("2026-03-27T08:59:59", True),
        ("2026-03-27T09:00:00", False),
        ("2026-03-30T07:59:59", True),
        ("2026-03-30T08:00:00", False),
        # Autumn change, Sunday 25 October 2026: 01:30 local happens twice.
        ("2026-10-25T00:30:00", True),  # 01:30 BST
        ("2026-10-25T01:30:00", True),  # 01:30 GMT
        # Friday 23 October (BST) around 17:00 local, Monday 26 October (GMT) around 09:00 local.
        ("2026-10-23T15:59:59", False),
        ("2026-10-23T16:00:00", True),
        ("2026-10-26T08:59:59", True),
        ("2026-10-26T09:00:00", False),
    ],
)
def test_london_weekday_edges(moment: str, expected: bool) -> None:
    assert out_of_hours(utc(moment), WEEKDAYS, LONDON) is expected


@pytest.mark.parametrize(
    ("moment", "name"),
    [
        ("2026-04-03T11:00:00", "Good Friday"),
        ("2026-04-06T11:00:00", "Easter Monday"),
        ("2026-12-25T12:00:00", "Christmas Day"),
        ("2026-12-28T12:00:00", "Boxing Day (observed)"),
    ],
)
def test_england_bank_holidays_are_out_of_hours(moment: str, name: str) -> None:
    assert out_of_hours(utc(moment), WEEKDAYS, LONDON) is True
    assert explain(utc(moment), WEEKDAYS, LONDON).endswith(f", a bank holiday ({name})")


@pytest.mark.parametrize(
    "moment",
    [
        "2026-01-02T12:00:00",  # Scotland's 2 January holiday is not one in England
        "2026-12-29T12:00:00",  # the working Tuesday after Boxing Day (observed)
        "2026-04-07T11:00:00",  # the Tuesday after Easter Monday
    ],
)
def test_working_days_around_holidays_are_within_hours(moment: str) -> None:
    assert out_of_hours(utc(moment), WEEKDAYS, LONDON) is False


def test_a_scottish_only_holiday_is_not_an_england_bank_holiday() -> None:
    assert bank_holiday(utc("2026-01-02T12:00:00").date()) is None
    assert bank_holiday(utc("2026-01-01T12:00:00").date()) == "New Year's Day"


@pytest.mark.parametrize(
    ("moment", "expected"),
    [
        ("2026-04-02T22:59:00", False),  # 23:59 BST on Thursday 2 April
        ("2026-04-02T23:00:00", True),  # 00:00 BST on Good Friday, though still 2 April in UTC
        ("2026-04-06T22:59:00", True),  # 23:59 BST on Easter Monday
        ("2026-04-06T23:00:00", False),  # 00:00 BST on Tuesday 7 April
    ],
)
def test_the_holiday_date_is_the_local_date(moment: str, expected: bool) -> None:
    assert out_of_hours(utc(moment), ALWAYS, LONDON) is expected


@pytest.mark.parametrize(
    ("moment", "expected"),
    [
        # Spring: 00:59:59 GMT is followed by 02:00 BST, so the 01:00 local hour never happens.
        ("2026-03-29T00:59:59", True),
        ("2026-03-29T01:00:00", True),
        ("2026-10-25T00:00:00", False),  # 01:00 BST
        ("2026-10-25T00:30:00", False),  # 01:30 BST
        ("2026-10-25T01:30:00", False),  # 01:30 GMT, the same wall-clock time again
        ("2026-10-25T02:00:00", True),  # 02:00 GMT
    ],
)
def test_an_hour_that_clock_changes_touch(moment: str, expected: bool) -> None:
    night = parse_weekly_hours("Sun 01:00-02:00")
    assert out_of_hours(utc(moment), night, LONDON) is expected


@pytest.mark.parametrize(
    "moment",
    ["2026-11-24T10:15:00", "2026-06-16T12:00:00", "2026-10-25T00:30:00", "2026-12-28T12:00:00"],
)
def test_no_office_hours_means_always_out(moment: str) -> None:
    assert out_of_hours(utc(moment), None, LONDON) is True
    assert next_out_of_hours(utc(moment), None, LONDON) == utc(moment)
    assert "no office hours are set" in explain(utc(moment), None, LONDON)


@pytest.mark.parametrize(
    ("moment", "expected"),
    [
        # Tuesday 24 November 2026, EST (UTC-5).
        ("2026-11-24T13:59:59", True),
        ("2026-11-24T14:00:00", False),
        ("2026-11-24T21:59:59", False),
        ("2026-11-24T22:00:00", True),
        # Tuesday 16 June 2026, EDT (UTC-4).
        ("2026-06-16T12:59:59", True),
        ("2026-06-16T13:00:00", False),
        # Monday 16 March 2026: New York is on EDT, London still on GMT.
        ("2026-03-16T12:59:59", True),
        ("2026-03-16T13:00:00", False),
        ("2026-03-16T20:59:59", False),
        ("2026-03-16T21:00:00", True),
    ],
)
def test_another_time_zone(moment: str, expected: bool) -> None:
    assert out_of_hours(utc(moment), WEEKDAYS, NEW_YORK) is expected


def test_a_moment_in_any_zone_is_compared_as_the_same_instant() -> None:
    paris = timezone(timedelta(hours=1))
    assert out_of_hours(datetime(2026, 11, 24, 9, 59, 59, tzinfo=paris), WEEKDAYS, LONDON) is True
    assert out_of_hours(datetime(2026, 11, 24, 10, 0, tzinfo=paris), WEEKDAYS, LONDON) is False


def test_a_naive_moment_is_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        out_of_hours(datetime(2026, 11, 24, 10, 15), WEEKDAYS, LONDON)


@pytest.mark.parametrize(
    ("moment", "zone", "expected"),
    [
        (
            "2026-11-24T10:15:00",
            LONDON,
            "it is 10:15 on Tuesday 24 November 2026 in Europe/London, within office hours (Mon-Fri 09:00-17:00)",
        ),
        (
            "2026-11-24T17:00:00",
            LONDON,
            "it is 17:00 on Tuesday 24 November 2026 in Europe/London, outside office hours (Mon-Fri 09:00-17:00)",
        ),
        (
            "2026-06-16T08:00:00",
            LONDON,
            "it is 09:00 on Tuesday 16 June 2026 in Europe/London, within office hours (Mon-Fri 09:00-17:00)",
        ),
        (
            "2026-10-25T00:30:00",
            LONDON,
            "it is 01:30 on Sunday 25 October 2026 in Europe/London, outside office hours (Mon-Fri 09:00-17:00)",
        ),
        (
            "2026-10-25T01:30:00",
            LONDON,
            "it is 01:30 on Sunday 25 October 2026 in Europe/London, outside office hours (Mon-Fri 09:00-17:00)",
        ),
        (
            "2026-12-28T12:00:00",
            LONDON,
            "it is 12:00 on Monday 28 December 2026 in Europe/London, a bank holiday (Boxing Day (observed))",
        ),
        (
            "2026-11-24T14:00:00",
            NEW_YORK,
            "it is 09:00 on Tuesday 24 November 2026 in America/New_York, within office hours (Mon-Fri 09:00-17:00)",
        ),
        (
            "2026-11-24T13:59:00",
            NEW_YORK,
            "it is 08:59 on Tuesday 24 November 2026 in America/New_York, outside office hours (Mon-Fri 09:00-17:00)",
        ),
    ],
)
def test_explain_says_why(moment: str, zone: str, expected: str) -> None:
    assert explain(utc(moment), WEEKDAYS, zone) == expected


@pytest.mark.parametrize(
    ("moment", "hours", "expected"),
    [
        ("2026-11-24T10:15:00", WEEKDAYS, "2026-11-24T17:00:00"),
        ("2026-11-24T16:59:30", WEEKDAYS, "2026-11-24T17:00:00"),
        ("2026-06-16T10:00:00", WEEKDAYS, "2026-06-16T16:00:00"),  # 17:00 BST
        ("2026-10-23T15:00:00", WEEKDAYS, "2026-10-23T16:00:00"),  # Friday before the autumn change
        ("2026-11-24T17:00:00", WEEKDAYS, "2026-11-24T17:00:00"),  # already out
        ("2026-11-24T20:12:34", WEEKDAYS, "2026-11-24T20:12:34"),  # already out: the moment itself
        ("2026-12-24T12:00:00", ALWAYS, "2026-12-25T00:00:00"),  # Christmas Day begins
        ("2026-04-02T12:00:00", ALWAYS, "2026-04-02T23:00:00"),  # Good Friday begins at 00:00 BST
        ("2026-11-10T12:00:00", ALWAYS, None),  # no bank holiday in the next 8 days
    ],
)
def test_next_out_of_hours(moment: str, hours: WeeklyHours, expected: str | None) -> None:
    found = next_out_of_hours(utc(moment), hours, LONDON)
    assert found == (utc(expected) if expected else None)
    if found is not None:
        assert found.utcoffset() == timedelta(0)
        assert out_of_hours(found, hours, LONDON)
        assert found == utc(moment) or not out_of_hours(found - timedelta(seconds=1), hours, LONDON)
