"""Declaring while twenty clients read and write: does every declaration get through?

    .venv/bin/python bench/bench_contention.py [ACCOUNTS] [SECONDS] [THREADS]
                                               (default 70000 accounts, 30 s per run, 20 threads)

Seeds ACCOUNTS accounts (one post each) once, then runs `lockdown serve` (waitress, 8 threads,
the scheduler inside) twice on copies of that file, on 127.0.0.1 only:
  - naive: declaring and resolving do not retry on a busy database
    (LOCKDOWN_INCIDENT_BUSY_RETRY=0): they give up after the busy timeout, as any other write does;
  - lockdown: the default retry budget.
Each run drives THREADS client threads for SECONDS of mixed requests, each thread drawing from
its own seeded random sequence: reads (hold status, an account, a post, the active
incidents), post drafts and a colleague's approvals, account edits, and declarations each followed
by its resolution. It reports every status code, declarations' and resolutions' success rate, and
declaration latency p50/p99 (over every attempt, failed ones included). LOCKDOWN_* variables in
the environment apply to both servers: LOCKDOWN_BUSY_TIMEOUT=0.5 makes the lock bite at this size.
"""

from __future__ import annotations

import random
import sqlite3
import statistics
import sys
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import requests
from common import SECRET, VAULT_KEY, Served, Table, ratio, seed

from lockdown.people.users import add_user, issue_token
from lockdown.timeutil import to_iso

RUNS = (("naive: no retry", {"LOCKDOWN_INCIDENT_BUSY_RETRY": "0"}), ("lockdown: bounded retry", {}))
# Relative weights of what a client does next; a declaration is followed by its resolution.
MIX = (("read", 50), ("draft", 15), ("approve", 10), ("edit", 15), ("declare", 10))
TIMEOUT = 120


@dataclass(frozen=True)
class Actors:
    """Who the clients act as: managers with their accounts, an ERMC approver, press officers."""

    accounts: int
    managers: list[tuple[str, list[int]]]
    ermc: str
    press: str
    press2: str


@dataclass(frozen=True)
class Outcome:
    kind: str
    status: int
    seconds: float


def prepare(path: Path, accounts: int, threads: int) -> Actors:
    """Seed the register and give one manager per client thread, and an approver, an API token."""
    seeded = seed(path, accounts, accounts)
    ctx, managers = seeded.ctx, max(1, accounts // 50)
    _, ermc = add_user(ctx, "bench", name="ERMC", email="ermc@livuni.ac.uk", roles=["ermc"])
    chosen = []
    for n in range(min(threads, managers)):
        token = issue_token(ctx, "bench", f"m{n}@livuni.ac.uk")
        owned = [row[0] for row in ctx.db.conn.execute("SELECT id FROM accounts WHERE manager_id = ?", [1000 + n])]
        chosen.append((token, owned))
    ctx.db.close()
    return Actors(accounts, chosen, ermc, seeded.press_token, seeded.press2_token)


def copy_database(source: Path, target: Path) -> None:
    """A fresh copy of the seeded file for each run, so both start from the same register."""
    with sqlite3.connect(source) as src, sqlite3.connect(target) as dst:
        src.backup(dst)


class Client:
    """One client thread: its own session, random sequence and manager."""

    def __init__(self, url: str, actors: Actors, number: int) -> None:
        self.url, self.actors = url, actors
        self.rng = random.Random(number)
        self.session = requests.Session()
        self.manager, self.owned = actors.managers[number % len(actors.managers)]
        self.drafts: list[int] = []
        self.posts = list(range(1, actors.accounts + 1))  # the seed wrote one post per account
        self.outcomes: list[Outcome] = []

    def call(self, kind: str, method: str, path: str, token: str, body: object = None) -> requests.Response | None:
        start = time.perf_counter()
        try:
            response = self.session.request(
                method, self.url + path, json=body, headers={"Authorization": f"Bearer {token}"}, timeout=TIMEOUT
            )
        except requests.RequestException:
            self.outcomes.append(Outcome(kind, 0, time.perf_counter() - start))
            return None
        self.outcomes.append(Outcome(kind, response.status_code, time.perf_counter() - start))
        return response

    def step(self) -> None:
        kind = self.rng.choices([k for k, _ in MIX], [w for _, w in MIX])[0]
        if kind == "approve" and not self.drafts:
            kind = "draft"
        getattr(self, kind)()

    def read(self) -> None:
        account = self.rng.randint(1, self.actors.accounts)
        path = self.rng.choice(
            [
                f"/api/v1/accounts/{account}/hold",
                f"/api/v1/accounts/{account}",
                f"/api/v1/posts/{self.rng.choice(self.posts)}",
                "/api/v1/incidents?status=active&limit=5",
            ]
        )
        self.call("read", "GET", path, self.actors.press)

    def draft(self) -> None:
        when = to_iso(datetime.now(UTC) + timedelta(days=1, seconds=self.rng.randint(0, 86_400)))
        body = {"account_id": self.rng.choice(self.owned), "body": "Open day", "scheduled_at": when}
        response = self.call("draft", "POST", "/api/v1/posts", self.manager, body)
        if response is not None and response.status_code == 201:
            self.drafts.append(response.json()["id"])

    def approve(self) -> None:
        self.call("approve", "POST", f"/api/v1/posts/{self.drafts.pop()}/approve", self.actors.ermc)

    def edit(self) -> None:
        body = {"purpose": f"News, revision {self.rng.randint(1, 10**6)}"}
        self.call("edit", "PATCH", f"/api/v1/accounts/{self.rng.choice(self.owned)}", self.manager, body)

    def declare(self) -> None:
        body = {"title": "Bench", "reason": "contention bench"}
        response = self.call("declare", "POST", "/api/v1/incidents", self.actors.press, body)
        if response is not None and response.status_code == 201:
            path = f"/api/v1/incidents/{response.json()['id']}/resolve"
            self.call("resolve", "POST", path, self.actors.press2, {"resume_policy": "skip"})


def drive(url: str, actors: Actors, threads: int, seconds: float) -> list[Outcome]:
    """THREADS clients for SECONDS; every request's kind, status and time."""
    clients = [Client(url, actors, number) for number in range(threads)]
    deadline = time.monotonic() + seconds

    def loop(client: Client) -> None:
        while time.monotonic() < deadline:
            client.step()

    workers = [threading.Thread(target=loop, args=(client,)) for client in clients]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    return [outcome for client in clients for outcome in client.outcomes]


def _quantile(values: list[float], q: float) -> float:
    if len(values) < 2:
        return values[0] if values else 0.0
    return statistics.quantiles(values, n=100, method="inclusive")[round(q * 100) - 1]


@dataclass(frozen=True)
class Summary:
    """One run's figures."""

    requests: int
    declared: int
    declares: int
    resolved: int
    resolves: int
    p50_ms: float
    p99_ms: float
    statuses: Counter[int]
    failed: Counter[str]

    @classmethod
    def of(cls, outcomes: list[Outcome]) -> Summary:
        declares = [o for o in outcomes if o.kind == "declare"]
        resolves = [o for o in outcomes if o.kind == "resolve"]
        latency = [o.seconds * 1000 for o in declares]
        return cls(
            requests=len(outcomes),
            declared=sum(o.status == 201 for o in declares),
            declares=len(declares),
            resolved=sum(o.status == 200 for o in resolves),
            resolves=len(resolves),
            p50_ms=_quantile(latency, 0.50),
            p99_ms=_quantile(latency, 0.99),
            statuses=Counter(o.status for o in outcomes),
            failed=Counter(f"{o.kind} {o.status or 'no answer'}" for o in outcomes if o.status >= 500 or o.status == 0),
        )


def _counts(counts: Counter[int] | Counter[str]) -> str:
    return ", ".join(f"{key}: {value:,}" for key, value in sorted(counts.items())) or "none"


def _rate(ok: int, total: int) -> str:
    return f"{ok}/{total} ({ok / total:.1%})" if total else "-"


def measure(accounts: int = 70_000, seconds: int = 30, threads: int = 20) -> Table:
    table = Table(
        "Declaring under a mixed load of readers and writers",
        f"bench/bench_contention.py {accounts} {seconds} {threads}",
        ("run", "requests", "declared", "declare p50 ms", "declare p99 ms", "resolved", "status codes"),
    )
    results: dict[str, Summary] = {}
    with tempfile.TemporaryDirectory() as name:
        folder = Path(name)
        actors = prepare(folder / "seed.db", accounts, threads)
        for number, (label, extra) in enumerate(RUNS):
            path = folder / f"run{number}.db"
            copy_database(folder / "seed.db", path)
            env = {"LOCKDOWN_DB": str(path), "LOCKDOWN_SECRET_KEY": SECRET, "LOCKDOWN_VAULT_KEY": VAULT_KEY, **extra}
            server = Served(env, folder / f"serve{number}.log")
            try:
                results[label] = Summary.of(drive(server.url, actors, threads, seconds))
            finally:
                server.stop()
    for label, found in results.items():
        table.rows.append(
            (
                label,
                found.requests,
                _rate(found.declared, found.declares),
                found.p50_ms,
                found.p99_ms,
                _rate(found.resolved, found.resolves),
                _counts(found.statuses),
            )
        )
    naive, ours = results[RUNS[0][0]], results[RUNS[1][0]]
    table.notes += [
        f"{accounts:,} accounts (50 per manager, one post each); {threads} client threads for {seconds} s per run, "
        f"mix {', '.join(f'{k} {w}' for k, w in MIX)} (a declaration is followed by its resolution); "
        "reads are hold status, an account, a post and the active incidents.",
        f"Failed requests (5xx or no answer): naive {_counts(naive.failed)}; lockdown {_counts(ours.failed)}.",
        f"Declaration latency, naive / lockdown: p50 {ratio(naive.p50_ms, ours.p50_ms)}, "
        f"p99 {ratio(naive.p99_ms, ours.p99_ms)}. It is over every declaration attempt, failed ones included; "
        "the clients share this machine's cores with the server, so read the comparison, not the absolute figures.",
    ]
    return table


def main() -> None:
    args = [int(a) for a in sys.argv[1:]]
    print(measure(*args).markdown())


if __name__ == "__main__":
    main()
