"""Several dispatchers in two processes claim 10,000 due posts from one SQLite file: each post
is sent exactly once, and the audit chain holds."""

from __future__ import annotations

import multiprocessing
import threading
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from connectors.base import Connector, OutgoingPost, Published, Ready
from lockdown.posting.dispatch import Dispatcher
from lockdown.settings import Settings
from lockdown.store import audit
from lockdown.store.context import Context
from lockdown.store.db import connect
from lockdown.timeutil import to_iso
from tests.conftest import SECRET, Login

POSTS = 10_000
DUE = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


class Recorder(Connector):
    """Records each publish in this process; the parent checks the union."""

    kind = "recorder"
    sent: list[int] = []
    lock = threading.Lock()

    def publish(self, post: OutgoingPost) -> Published:
        with Recorder.lock:
            Recorder.sent.append(post.post_id)
        return Published(remote_id=str(post.post_id))

    def delete(self, remote_id: str) -> None:
        pass

    def check(self) -> Ready:
        return Ready(account="fake")


def recorder(kind: str, settings: dict[str, Any], secrets: dict[str, str]) -> Connector:
    return Recorder(settings, secrets)


def run_process(db_path: str, out_path: str, start: Any, dispatchers: int) -> None:
    """In a child process: several dispatchers, each in its own thread, tick until done."""
    settings = Settings.from_env({"LOCKDOWN_DB": db_path, "LOCKDOWN_SECRET_KEY": SECRET, "LOCKDOWN_BUSY_TIMEOUT": "60"})
    key = audit.audit_key(settings.require_secret_key())
    clock: Callable[[], datetime] = lambda: DUE + timedelta(minutes=1)  # noqa: E731
    workers = [
        Dispatcher(settings, key, clock=clock, connector_factory=recorder, batch_size=100, pool_size=4)
        for _ in range(dispatchers)
    ]

    def drain(worker: Dispatcher) -> None:
        start.wait()
        while worker.tick().claimed:
            pass

    threads = [threading.Thread(target=drain, args=(worker,)) for worker in workers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for worker in workers:
        worker.close()
    Path(out_path).write_text("\n".join(map(str, Recorder.sent)))


def seed(ctx: Context, account_id: int, author_id: int) -> None:
    stamp = to_iso(DUE - timedelta(days=1))
    with ctx.change() as change:
        ctx.db.conn.executemany(
            "INSERT INTO posts (account_id, body, scheduled_at, due_at, state, author_id, "
            "idempotency_key, created_at, updated_at) VALUES (?, ?, ?, ?, 'scheduled', ?, ?, ?, ?)",
            [
                (
                    account_id,
                    f"post {n}",
                    to_iso(DUE),
                    to_iso(DUE),
                    author_id,
                    uuid.uuid4().hex,
                    stamp,
                    stamp,
                )
                for n in range(POSTS)
            ],
        )
        change.audit("test", "test.seed", "posts", count=POSTS)


def test_ten_thousand_due_posts_are_each_sent_exactly_once(
    settings: Settings,
    app: Any,
    ctx: Context,
    tmp_path: Path,
    make_user: Callable[..., Login],
    register: Callable[..., dict[str, Any]],
) -> None:
    manager = make_user("manager")
    account = register(manager)
    seed(ctx, account["id"], manager.user.id)
    spawn = multiprocessing.get_context("spawn")
    start = spawn.Event()
    outputs = [tmp_path / f"sent-{n}.txt" for n in range(2)]
    processes = [spawn.Process(target=run_process, args=(str(settings.db_path), str(out), start, 2)) for out in outputs]
    for process in processes:
        process.start()
    start.set()
    for process in processes:
        process.join(timeout=300)
        assert process.exitcode == 0
    per_process = [[int(n) for n in out.read_text().split()] for out in outputs]
    sent = per_process[0] + per_process[1]
    assert all(per_process), "both processes took part"
    assert len(sent) == POSTS, f"{len(sent) - len(set(sent))} duplicates"
    assert len(set(sent)) == POSTS
    db = connect(settings.db_path)
    states = dict(db.conn.execute("SELECT state, COUNT(*) FROM posts GROUP BY state").fetchall())
    assert states == {"published": POSTS}
    assert audit.verify(db, audit.audit_key(settings.require_secret_key())).ok
    db.close()
