"""An incident message never reaches a central account once that account's compromise has been
declared (#12 finding 2): the check runs in the approval's write transaction and again, as a send
mark, right before each connector call. Raced through the HTTP API, as the review found it."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable
from typing import Any, ClassVar

import pytest
from flask.testing import FlaskClient

from connectors.base import Connector, OutgoingPost, Published, Ready
from connectors.registry import CONNECTORS
from lockdown.settings import Settings
from tests.conftest import Login

ROUNDS = 40


class RecordingConnector(Connector):
    """A platform that notes, when it is called, whether the account had already been declared
    compromised before this delivery's send mark was committed: a call whose mark came first was
    already on its way (in flight, as a post can be); one whose mark came after, or that has no
    mark, is what the hold must prevent. Both transactions take their time under SQLite's one
    write lock, so their times order them."""

    kind = "recorder"
    database: ClassVar[str] = ""
    calls: ClassVar[list[tuple[int, bool]]] = []

    def publish(self, post: OutgoingPost) -> Published:
        with sqlite3.connect(self.database, timeout=30) as conn:
            declared = conn.execute(
                "SELECT MIN(declared_at) FROM incidents WHERE status = 'active' AND named_account_id = ?",
                [post.account_id],
            ).fetchone()[0]
            try:
                mark = conn.execute(
                    "SELECT sending_at FROM message_deliveries WHERE message_id = ? AND account_id = ?",
                    [post.post_id, post.account_id],
                ).fetchone()[0]
            except sqlite3.OperationalError:  # a schema without send marks
                mark = None
        late = declared is not None and (mark is None or mark > declared)
        RecordingConnector.calls.append((post.account_id, late))
        return Published(remote_id=f"rec-{post.post_id}-{post.account_id}")

    def delete(self, remote_id: str) -> None:
        """Nothing to delete on this platform."""

    def check(self) -> Ready:
        return Ready(account="fake")


@pytest.fixture
def recorder(monkeypatch: pytest.MonkeyPatch, settings: Settings) -> type[RecordingConnector]:
    monkeypatch.setitem(CONNECTORS, "recorder", f"{__name__}.RecordingConnector")
    monkeypatch.setattr(RecordingConnector, "database", str(settings.db_path))
    monkeypatch.setattr(RecordingConnector, "calls", [])
    return RecordingConnector


def post_json(app: Any, url: str, login: Login, body: dict[str, Any] | None = None) -> Any:
    return app.test_client().post(url, json=body or {}, headers=login.headers)


def test_a_message_approved_as_its_account_is_declared_compromised_never_reaches_it(
    app: Any,
    client: FlaskClient,
    ctx: Any,
    make_user: Callable[..., Login],
    register: Callable[..., dict[str, Any]],
    recorder: type[RecordingConnector],
) -> None:
    press, press2, manager = make_user("press"), make_user("press"), make_user("manager")
    central = [register(manager, handle="@livuni", platform=p, central=True)["id"] for p in ("x", "mastodon")]
    ctx.db.conn.execute('UPDATE accounts SET connector = \'{"kind": "recorder"}\'')
    ctx.db.conn.commit()
    live = post_json(app, "/api/v1/incidents", press, {"title": "Fire", "reason": "Security called"}).json["id"]
    target = central[1]

    for round_ in range(ROUNDS):
        message = post_json(
            app, f"/api/v1/incidents/{live}/messages", press, {"body": f"Update {round_}", "account_ids": central}
        ).json
        start = threading.Barrier(2)
        answers: dict[str, Any] = {}

        def approve(
            message_id: int = message["id"], start: threading.Barrier = start, answers: dict[str, Any] = answers
        ) -> None:
            start.wait()
            answers["approve"] = post_json(app, f"/api/v1/incidents/{live}/messages/{message_id}/approve", press2)

        def compromise(start: threading.Barrier = start, answers: dict[str, Any] = answers) -> None:
            start.wait()
            answers["declare"] = post_json(
                app,
                "/api/v1/incidents",
                press,
                {"title": "Hacked", "reason": "Odd posts", "playbook": "compromised-account", "account_id": target},
            )

        threads = [threading.Thread(target=approve), threading.Thread(target=compromise)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert answers["declare"].status_code == 201, answers["declare"].json
        assert answers["approve"].status_code in (200, 423), answers["approve"].json
        post_json(app, f"/api/v1/incidents/{answers['declare'].json['id']}/resolve", press)

    reached_after = [call for call in recorder.calls if call == (target, True)]
    assert reached_after == [], f"{len(reached_after)} of {ROUNDS} messages reached the compromised account"
