"""An approved incident message reaches each of its central accounts exactly once, though its
deliveries run side by side and several press officers press Approve at the same moment: real
threads, each on its own connection to a real SQLite file, racing through the HTTP API."""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable
from typing import Any, ClassVar

import pytest
from flask.testing import FlaskClient

from connectors.base import Connector, OutgoingPost, Published, Ready
from connectors.registry import CONNECTORS
from lockdown.store import audit
from lockdown.store.context import Context
from tests.conftest import Login

ROUNDS = 12
APPROVERS = 4
MESSAGES_AT_ONCE = 2
PLATFORMS = ("x", "facebook", "instagram", "linkedin", "youtube", "mastodon", "bluesky")


class CountingConnector(Connector):
    """A platform that takes a little while (so deliveries overlap) and counts every publish."""

    kind = "counting"
    lock: ClassVar[threading.Lock] = threading.Lock()
    calls: ClassVar[Counter[tuple[int, int]]] = Counter()

    def publish(self, post: OutgoingPost) -> Published:
        time.sleep(0.02)
        with self.lock:
            self.calls[(post.post_id, post.account_id)] += 1
        return Published(remote_id=f"c-{post.post_id}-{post.account_id}")

    def delete(self, remote_id: str) -> None:
        """Nothing to delete on this platform."""

    def check(self) -> Ready:
        return Ready(account="fake")


@pytest.fixture
def counting(monkeypatch: pytest.MonkeyPatch) -> type[CountingConnector]:
    monkeypatch.setitem(CONNECTORS, "counting", f"{__name__}.CountingConnector")
    monkeypatch.setattr(CountingConnector, "calls", Counter())
    return CountingConnector


def test_racing_approvals_deliver_each_message_once_to_each_central_account(
    app: Any,
    client: FlaskClient,
    ctx: Context,
    make_user: Callable[..., Login],
    register: Callable[..., dict[str, Any]],
    counting: type[CountingConnector],
) -> None:
    author, manager = make_user("press"), make_user("manager")
    approvers = [make_user("press") for _ in range(APPROVERS)]
    central = [register(manager, handle="@livuni", platform=p, central=True)["id"] for p in PLATFORMS]
    ctx.db.conn.execute('UPDATE accounts SET connector = \'{"kind": "counting"}\'')
    ctx.db.conn.commit()
    incident = client.post(
        "/api/v1/incidents", json={"title": "Fire", "reason": "Security called"}, headers=author.headers
    ).json["id"]

    answers: list[int] = []
    messages: list[int] = []
    for round_ in range(ROUNDS):
        batch = [
            client.post(
                f"/api/v1/incidents/{incident}/messages",
                json={"body": f"Update {round_}.{n}: stay away from the library."},
                headers=author.headers,
            ).json["id"]
            for n in range(MESSAGES_AT_ONCE)
        ]
        messages += batch
        start = threading.Barrier(APPROVERS * MESSAGES_AT_ONCE)

        def approve(message_id: int, approver: Login, start: threading.Barrier = start) -> None:
            start.wait()
            # Each request runs on its own thread with its own connection (Flask's per-request g).
            response = app.test_client().post(
                f"/api/v1/incidents/{incident}/messages/{message_id}/approve", headers=approver.headers
            )
            answers.append(response.status_code)

        threads = [
            threading.Thread(target=approve, args=(message_id, approver))
            for message_id in batch
            for approver in approvers
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()

    # One approval per message won; every other was told someone else had approved it.
    assert Counter(answers) == {200: ROUNDS * MESSAGES_AT_ONCE, 409: ROUNDS * MESSAGES_AT_ONCE * (APPROVERS - 1)}
    expected = {(message_id, account): 1 for message_id in messages for account in central}
    assert dict(counting.calls) == expected, "a message reached an account twice, or never"
    rows = ctx.db.conn.execute("SELECT state, COUNT(*) FROM message_deliveries GROUP BY state").fetchall()
    assert rows == [("delivered", len(expected))]
    marks = ",".join("?" * len(messages))
    states = ctx.db.conn.execute(f"SELECT DISTINCT state FROM incident_messages WHERE id IN ({marks})", messages)
    assert states.fetchall() == [("delivered",)]
    assert audit.verify(ctx.db, ctx.audit_key).ok
