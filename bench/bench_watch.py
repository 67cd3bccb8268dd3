"""What the watch spends on each platform during an incident, beside each platform's published
limit, and beside the naive way.

    .venv/bin/python bench/bench_watch.py [ACCOUNTS ...]    (default 250 1000)

For each size and platform: a register of ACCOUNTS held accounts all on that platform (the worst
case for a limit shared by every account), an incident declared, and the scheduler's watch job
(``run_watch``, as ``SideJobs.watch`` calls it every 15 s, at most 100 listings a look) run for a
simulated hour on a moved clock against counting fake connectors. Each listing is charged what
the real connector spends (``lockdown.watch.budget``: Mastodon and X 2 requests, the others 1;
no post is found, so no further page). Reported per platform: requests in the hour, the mean
interval each account was listed at, and requests per hour against each published limit as a
share of it (per account: one account's share of its own limit; shared: all accounts' share of
the app's or IP's). Target: at most 10% of any limit. The naive way lists every account every
10 s; it is computed (ACCOUNTS x 360 listings an hour), not run, as it would take the job longer
than the hour it simulates.
"""

from __future__ import annotations

import sys
import tempfile
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from common import Table, seed

from connectors.base import Connector, OutgoingPost, Published, Ready, RemotePost
from lockdown.clock.scheduler import WATCH_BATCH, WATCH_EVERY_SECONDS
from lockdown.crypto import Vault
from lockdown.incidents.config import incident_config
from lockdown.incidents.declare import declare_incident
from lockdown.people.users import user_by_email
from lockdown.settings import WATCH_INTERVALS
from lockdown.store.context import Context
from lockdown.watch.budget import BUDGETS, SHARE
from lockdown.watch.checks import WatchRunner, run_watch

SIZES = [250, 1000]
PLATFORMS = ("mastodon", "bluesky", "facebook", "instagram", "linkedin", "x")
NAIVE_SECONDS = 10.0
HOUR = 3600.0


def counting_factory(platform: str, spent: Counter[str]) -> Any:
    """Connectors that list nothing and charge each listing what the platform's connector spends."""
    cost = BUDGETS[platform].per_listing

    class Counting(Connector):
        kind = "counting"

        def publish(self, post: OutgoingPost) -> Published:
            raise AssertionError("the watch publishes nothing")

        def delete(self, remote_id: str) -> None:
            raise AssertionError("nothing to delete")

        def check(self) -> Ready:
            return Ready(account="@bench")

        def recent_posts(self, since: datetime) -> list[RemotePost]:
            spent["requests"] += cost
            spent["listings"] += 1
            return []

    return lambda kind, settings, secrets: Counting(settings, secrets)


def simulate(accounts: int, platform: str) -> tuple[int, int, float]:
    """(requests, listings, seconds of wall time) of one simulated hour's watch."""
    with tempfile.TemporaryDirectory() as folder:
        seeded = seed(Path(folder) / "watch.db", accounts + 3, 0)  # 3 central accounts are not held
        db = seeded.ctx.db
        db.conn.execute("UPDATE accounts SET platform = ?", [platform])
        db.conn.commit()
        now = [datetime(2026, 11, 29, 2, 10, tzinfo=UTC)]
        ctx = Context(db, seeded.ctx.audit_key, lambda: now[0])
        press = user_by_email(db, "press@livuni.ac.uk")
        declare_incident(ctx, incident_config(seeded.settings), press, {"title": "Bench", "reason": "bench"})
        spent: Counter[str] = Counter()
        runner = WatchRunner(Vault(seeded.settings.vault_keys), counting_factory(platform, spent), WATCH_INTERVALS)
        started = datetime.now(UTC)
        end = now[0] + timedelta(seconds=HOUR)
        while now[0] < end:
            run_watch(ctx, runner, limit=WATCH_BATCH)
            now[0] += timedelta(seconds=WATCH_EVERY_SECONDS)
        wall = (datetime.now(UTC) - started).total_seconds()
        db.close()
        return spent["requests"], spent["listings"], wall


def measure(sizes: list[int]) -> Table:
    """The table: per size and platform, requests an hour and their share of each limit."""
    table = Table(
        "Watching held accounts: requests an hour per platform against its published limits",
        f"bench/bench_watch.py {' '.join(str(s) for s in sizes)}",
        ("accounts", "platform", "interval s (set / reached)", "requests/h", f"naive every {NAIVE_SECONDS:.0f} s",
         "limit", "limit/h", "ours % of limit", "naive % of limit", "within 10%"),
    )  # fmt: skip
    for accounts in sizes:
        for platform in PLATFORMS:
            requests, listings, wall = simulate(accounts, platform)
            reached = HOUR * accounts / listings if listings else float("inf")
            budget = BUDGETS[platform]
            naive = accounts * (HOUR / NAIVE_SECONDS) * budget.per_listing
            interval = f"{WATCH_INTERVALS[platform]:.0f} / {reached:.0f}"
            if not budget.limits:
                table.rows.append(
                    (accounts, platform, interval, requests, int(naive), "not published", "-", "-", "-", "-")
                )
            for limit in budget.limits:
                # A per-account limit is spent by one account's listings; a shared one by all.
                spent = listings * limit.spent
                naive_spent = accounts * (HOUR / NAIVE_SECONDS) * limit.spent
                ours = spent if limit.shared else spent / accounts
                theirs = naive_spent if limit.shared else naive_spent / accounts
                share = 100.0 * ours / limit.per_hour
                table.rows.append((
                    accounts, platform, interval, requests, int(naive), limit.what, limit.per_hour,
                    f"{share:.1f}%", f"{100.0 * theirs / limit.per_hour:,.0f}%",
                    "yes" if share <= 100 * SHARE + 1e-9 else "NO",
                ))  # fmt: skip
            print(f"  {accounts} {platform}: {listings} listings in {wall:.1f} s", file=sys.stderr)
    table.notes += [
        "Requests are counted, in a simulated hour on a moved clock, by running the scheduler's watch job "
        "(every 15 s, at most 100 listings a look) against fake connectors that charge what the real ones spend "
        "(Mastodon: verify_credentials + statuses; X: users/me + users/:id/tweets; the others one listing).",
        "A limit shared by every account (Bluesky's 3,000 per 5 minutes per IP at bsky.social, X's per-app "
        "1,500 per 15 minutes) stretches the interval: 'reached' is the interval each account was actually "
        "listed at. 1,000 Mastodon accounts at 60 s would need 1,000 listings a minute: the job's 100 a look "
        "(400 a minute) caps it, so the interval reached is longer than the one set.",
        "Facebook's limit is 4,800 x the Page's engaged users a day: the row takes one engaged user, the least.",
        "LinkedIn publishes no figures (each app's daily limits are in its Developer Portal).",
        f"The naive way lists every account every {NAIVE_SECONDS:.0f} s with the same connectors: computed, not run.",
    ]
    return table


if __name__ == "__main__":
    print(measure([int(a) for a in sys.argv[1:]] or SIZES).markdown())
