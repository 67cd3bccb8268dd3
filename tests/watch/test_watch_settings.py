"""The watch's settings and budget: intervals per platform over the defaults, bounds that name
the variable, the idle watch off by default, and intervals stretched where a limit is shared."""

from __future__ import annotations

from datetime import timedelta

import pytest

from lockdown.settings import WATCH_INTERVALS, Settings, SettingsError
from lockdown.watch.budget import BUDGETS, SHARE, interval_for


def test_the_defaults_are_per_platform_and_the_idle_watch_is_off() -> None:
    settings = Settings.from_env({})

    assert dict(settings.watch_intervals) == dict(WATCH_INTERVALS)
    assert settings.watch_idle_seconds is None


def test_an_interval_can_be_set_per_platform_over_the_defaults() -> None:
    settings = Settings.from_env(
        {"LOCKDOWN_WATCH_INTERVAL_SECONDS": "mastodon=120, X=900", "LOCKDOWN_WATCH_IDLE_SECONDS": "900"}
    )

    assert settings.watch_intervals["mastodon"] == 120.0
    assert settings.watch_intervals["x"] == 900.0
    assert settings.watch_intervals["bluesky"] == WATCH_INTERVALS["bluesky"]
    assert settings.watch_idle_seconds == 900.0


@pytest.mark.parametrize(
    ("env", "raw"),
    [("LOCKDOWN_WATCH_INTERVAL_SECONDS", "mastodon"), ("LOCKDOWN_WATCH_INTERVAL_SECONDS", "mastodon=5"),
     ("LOCKDOWN_WATCH_INTERVAL_SECONDS", "x=often"), ("LOCKDOWN_WATCH_IDLE_SECONDS", "60"),
     ("LOCKDOWN_WATCH_IDLE_SECONDS", "soon")],
)  # fmt: skip
def test_a_bad_watch_setting_stops_the_start_naming_the_variable(env: str, raw: str) -> None:
    with pytest.raises(SettingsError, match=env):
        Settings.from_env({env: raw})


def test_every_default_is_within_a_tenth_of_each_per_account_limit() -> None:
    for platform, seconds in WATCH_INTERVALS.items():
        budget = BUDGETS[platform]
        per_hour = budget.per_listing * 3600.0 / seconds
        for limit in budget.limits:
            if not limit.shared:
                assert per_hour <= SHARE * limit.per_hour, (platform, limit.what)


def test_a_shared_limit_stretches_the_interval_as_more_accounts_are_watched() -> None:
    assert interval_for("bluesky", 60, 10) == timedelta(seconds=60)
    # 1,000 accounts on one PDS: 3,600 requests an hour is a tenth of 3,000 per 5 minutes.
    assert interval_for("bluesky", 60, 1000) == timedelta(seconds=1000)
    assert interval_for("mastodon", 60, 1000) == timedelta(seconds=60)  # its limit is per account
