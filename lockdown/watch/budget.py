"""What one listing costs on each platform and the published limits it spends, and the interval
that keeps the watch within a tenth of every one of them.

A limit per account (per token) is met by the configured interval alone. A limit shared by every
account (per app, or per IP for accounts on one server) shrinks each account's share as more are
watched, so the interval is stretched to ``watched x cost / (SHARE x limit)`` when that is longer.
The figures and their sources are in the README ("Watching the platforms"); ``bench/bench_watch.py``
measures what the job spends against them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import timedelta

# The part of any platform limit the watch may spend: the rest is the accounts' own posting,
# readiness checks, incident messages and people using the platform's app.
SHARE = 0.10


@dataclass(frozen=True)
class Limit:
    """``requests`` per ``seconds``, for one account's token or shared by all (``shared``), of
    which each listing spends ``spent``."""

    requests: int
    seconds: float
    shared: bool
    what: str
    spent: int = 1

    @property
    def per_hour(self) -> float:
        """The limit as requests per hour."""
        return self.requests * 3600.0 / self.seconds


@dataclass(frozen=True)
class Budget:
    """One listing's requests (first page; each further page one more) and the limits they spend."""

    per_listing: int
    limits: tuple[Limit, ...]


BUDGETS: dict[str, Budget] = {
    # verify_credentials for the account id (a connector is built per listing), then statuses.
    "mastodon": Budget(2, (Limit(300, 300, False, "300 per 5 min per account", spent=2),)),
    # listRecords on the account's PDS with its kept session; bsky.social counts by IP.
    "bluesky": Budget(1, (Limit(3000, 300, True, "3,000 per 5 min per IP at the PDS"),)),
    # users/me for the user id, then users/:id/tweets (Basic tier).
    "x": Budget(
        2,
        (
            Limit(75, 900, False, "users/me: 75 per 15 min per user"),
            Limit(900, 900, False, "users/:id/tweets: 900 per 15 min per user"),
            Limit(1500, 900, True, "users/:id/tweets: 1,500 per 15 min per app"),
        ),
    ),
    # The Pages business use case: 4,800 x engaged users a day per Page, at its least (one user).
    "facebook": Budget(1, (Limit(4800, 86400, False, "4,800 x engaged users per 24 h per Page (1 user)"),)),
    # The Graph platform limit: 200 x users an hour per app, each watched account one user.
    "instagram": Budget(1, (Limit(200, 3600, False, "200 per hour per app user"),)),
    # LinkedIn publishes no numbers: each app's daily limits are shown in its Developer Portal.
    "linkedin": Budget(1, ()),
}


def interval_for(platform: str, configured: float, watched: int) -> timedelta:
    """The interval between two listings of one of ``watched`` accounts on ``platform``: the
    configured one, stretched where a shared limit would otherwise give the watch more than SHARE."""
    budget = BUDGETS.get(platform)
    seconds = configured
    if budget is not None:
        for limit in budget.limits:
            if limit.shared:
                seconds = max(seconds, math.ceil(watched * limit.spent * 3600.0 / (SHARE * limit.per_hour)))
    return timedelta(seconds=seconds)
