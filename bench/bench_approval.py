"""From a press officer's approval to "delivered" on every central account, beside the naive way.

    .venv/bin/python bench/bench_approval.py [RUNS] [ACCOUNTS]    (default 30 runs, 7 central accounts)

Each central account publishes through a webhook connector to its own fake platform: a real HTTP
server on loopback (reached under LOCKDOWN_OUTBOUND_ALLOW=127.0.0.0/8) that answers each post
after a random 0.3 to 0.8 s. An incident is declared once; then, RUNS times, one press officer
drafts a message and a second approves it, and the time approve_message() takes is measured: it
returns once every delivery is recorded, so it is the approval-to-delivered time. Two ways, in
turns within the same run so that they share the machine's noise:
  - ours: the deliveries run side by side (one thread and connection each, each send mark
    committed in its own transaction just before its platform call);
  - naive: the same code with one thread, one delivery after another (what a loop would do).
Prints p50, p99 and max of each, and the ratio naive / ours at p99. Target: under 2 s at p99 for
seven central accounts.
"""

from __future__ import annotations

import json
import math
import random
import statistics
import sys
import tempfile
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from common import SECRET, VAULT_KEY, Table, ratio

from lockdown.crypto import Vault
from lockdown.incidents.config import incident_config
from lockdown.incidents.declare import declare_incident
from lockdown.incidents.messages import approve_message, draft_message
from lockdown.people.users import add_user
from lockdown.posting.dispatch import connectors_for
from lockdown.register.accounts import register_account
from lockdown.settings import Settings
from lockdown.store import audit
from lockdown.store.context import Context
from lockdown.store.db import connect
from lockdown.store.migrations import migrate

PLATFORMS = ("x", "facebook", "instagram", "linkedin", "youtube", "mastodon", "bluesky")
SLOWEST, FASTEST = 0.8, 0.3
TARGET_P99_SECONDS = 2.0


class FakePlatform:
    """A loopback HTTP server that answers every post after 0.3-0.8 s, with an id."""

    def __init__(self, rng: random.Random, lock: threading.Lock) -> None:
        self.posts = 0

        platform = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("Content-Length", 0)))
                with lock:
                    delay = rng.uniform(FASTEST, SLOWEST)
                    platform.posts += 1
                time.sleep(delay)
                answer = json.dumps({"id": uuid.uuid4().hex}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/post"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def percentile(values: list[float], share: float) -> float:
    """The nearest-rank percentile (with 30 runs, p99 is the slowest run)."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(share * len(ordered)) - 1)]


def measure(runs: int = 30, accounts: int = 7) -> Table:
    """Approval-to-delivered times, concurrent and sequential, over ``runs`` messages each."""
    rng, lock = random.Random(14), threading.Lock()
    platforms = [FakePlatform(rng, lock) for _ in range(accounts)]
    with tempfile.TemporaryDirectory() as folder:
        env = {
            "LOCKDOWN_DB": str(Path(folder) / "approval.db"),
            "LOCKDOWN_SECRET_KEY": SECRET,
            "LOCKDOWN_VAULT_KEY": VAULT_KEY,
            "LOCKDOWN_OUTBOUND_ALLOW": "127.0.0.0/8",
        }
        settings = Settings.from_env(env)
        db = connect(settings.db_path)
        migrate(db)
        ctx = Context(db, audit.audit_key(SECRET.encode()))
        vault = Vault(settings.vault_keys)
        config = incident_config(settings)
        ermc, _ = add_user(ctx, "bench", name="ERMC", email="ermc@livuni.ac.uk", roles=["ermc", "manager"])
        press, _ = add_user(ctx, "bench", name="Press", email="press@livuni.ac.uk", roles=["press"])
        press2, _ = add_user(ctx, "bench", name="Press 2", email="press2@livuni.ac.uk", roles=["press"])
        for number, platform in enumerate(platforms):
            register_account(
                ctx,
                ermc,
                {
                    "handle": f"@livuni{number}" if number >= len(PLATFORMS) else "@livuni",
                    "platform": PLATFORMS[number % len(PLATFORMS)],
                    "unit": "ERMC",
                    "purpose": "Official",
                    "monitored_hours": "24/7",
                    "manager": ermc.email,
                    "central": True,
                    "connector": {"kind": "webhook", "url": platform.url},
                },
                vault,
            )
        incident = declare_incident(ctx, config, press, {"title": "Bench", "reason": "bench"})
        factory = connectors_for(settings)
        times: dict[str, list[float]] = {"ours": [], "naive": []}
        try:
            for run in range(runs):
                # Alternate which goes first, so neither always meets a warmer machine.
                order = ("ours", "naive") if run % 2 == 0 else ("naive", "ours")
                for way in order:
                    message = draft_message(
                        ctx,
                        config,
                        press,
                        incident["id"],
                        {"body": f"Update {run} ({way}): stay away from the library."},
                    )
                    start = time.perf_counter()
                    done = approve_message(
                        ctx, vault, press2, incident["id"], message["id"], factory,
                        threads=8 if way == "ours" else 1,
                    )  # fmt: skip
                    times[way].append(time.perf_counter() - start)
                    states = [delivery["state"] for delivery in done["deliveries"]]
                    if states != ["delivered"] * accounts:
                        raise SystemExit(f"run {run} ({way}): deliveries {states}: {done['deliveries']}")
        finally:
            db.close()
            for platform in platforms:
                platform.stop()
    table = Table(
        f"From approval to delivered on {accounts} central accounts",
        f"bench/bench_approval.py {runs} {accounts}",
        ("delivery", "central accounts", "runs", "p50 s", "p99 s", "max s", "naive / ours (p99)"),
    )
    ours99, naive99 = percentile(times["ours"], 0.99), percentile(times["naive"], 0.99)
    for way, label in (("ours", "lockdown (side by side)"), ("naive", "naive (one after another)")):
        values = times[way]
        table.rows.append(
            (
                label,
                accounts,
                len(values),
                statistics.median(values),
                percentile(values, 0.99),
                max(values),
                ratio(naive99, ours99) if way == "ours" else "1x",
            )
        )
    table.notes += [
        f"Each central account's fake platform (a loopback HTTP server behind the webhook connector) answers "
        f"after a random {FASTEST}-{SLOWEST} s. Measured in process around approve_message(), which returns "
        "once every delivery is recorded. The two ways take turns within the run.",
        f"Target: under {TARGET_P99_SECONDS:g} s at p99 for seven central accounts: "
        + ("met" if ours99 < TARGET_P99_SECONDS else "NOT met")
        + f" ({ours99:.2f} s). Side by side, the time is the slowest platform's answer plus the send marks "
        "and the record; one after another, it is the sum of the answers.",
        f"p99 is the nearest rank: over {runs} runs, the slowest.",
    ]
    return table


if __name__ == "__main__":
    arguments = [int(argument) for argument in sys.argv[1:]]
    print(measure(*arguments).markdown())
