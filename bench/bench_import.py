"""How long 10,000 accounts take to register: one CSV import beside one POST per account.

    .venv/bin/python bench/bench_import.py [ROWS]

Prints seconds and rows per second for each, and the ratio. Runs on a temporary database file
through the Flask test client, so it measures the service, not the network.
"""

from __future__ import annotations

import csv
import io
import sys
import tempfile
import time
from pathlib import Path

from common import Table, ratio

from lockdown.app import create_app
from lockdown.people.users import add_user
from lockdown.settings import Settings
from lockdown.store import audit
from lockdown.store.context import Context
from lockdown.store.db import connect

HEADER = ["handle", "platform", "unit", "purpose", "monitored_hours", "manager"]


def fresh(folder: Path, name: str) -> tuple[object, dict[str, str], str]:
    settings = Settings.from_env(
        {"LOCKDOWN_DB": str(folder / f"{name}.db"), "LOCKDOWN_SECRET_KEY": "bench-" + "k" * 40}
    )
    app = create_app(settings)
    ctx = Context(connect(settings.db_path), audit.audit_key(settings.require_secret_key()))
    _, token = add_user(ctx, "bench", name="ERMC", email="ermc@livuni.ac.uk", roles=["ermc"])
    add_user(ctx, "bench", name="Manager", email="manager@livuni.ac.uk", roles=["manager"])
    ctx.db.close()
    return app.test_client(), {"Authorization": f"Bearer {token}"}, "manager@livuni.ac.uk"  # type: ignore[attr-defined]


def rows(count: int, manager: str) -> list[list[str]]:
    return [
        [
            f"@livuni_unit{n}",
            ("x", "facebook", "instagram")[n % 3],
            f"Unit {n % 40}",
            "News",
            "Mon-Fri 09:00-17:00",
            manager,
        ]
        for n in range(count)
    ]


def measure(count: int = 10_000) -> Table:
    with tempfile.TemporaryDirectory() as folder:
        client, headers, manager = fresh(Path(folder), "csv")
        out = io.StringIO()
        writer = csv.writer(out)
        writer.writerow(HEADER)
        writer.writerows(rows(count, manager))
        start = time.perf_counter()
        response = client.post("/api/v1/accounts/import", data=out.getvalue(), content_type="text/csv", headers=headers)  # type: ignore[attr-defined]
        csv_seconds = time.perf_counter() - start
        assert response.status_code == 201, response.json

        client, headers, manager = fresh(Path(folder), "posts")
        start = time.perf_counter()
        for row in rows(count, manager):
            answer = client.post("/api/v1/accounts", json=dict(zip(HEADER, row, strict=True)), headers=headers)  # type: ignore[attr-defined]
            assert answer.status_code == 201, answer.json
        post_seconds = time.perf_counter() - start
    return Table(
        "Registering accounts in bulk",
        f"bench/bench_import.py {count}",
        ("method", "accounts", "seconds", "accounts/s", "naive / ours"),
        [
            ("CSV import, one request", count, csv_seconds, count / csv_seconds, ratio(post_seconds, csv_seconds)),
            ("naive: one POST per account", count, post_seconds, count / post_seconds, "1x"),
        ],
        ["Through the Flask test client, so it measures the service, not the network."],
    )


def main() -> None:
    print(measure(int(sys.argv[1]) if len(sys.argv) > 1 else 10_000).markdown())


if __name__ == "__main__":
    main()
