"""The drill, end to end against the reference Bluesky PDS (tests/pds): a held Bluesky account,
a post written straight to the PDS during the hold (as the app would, not through Lockdown) is
detected by the scheduler's watch job within two poll intervals, shown, told and deletable;
Lockdown's own post, published before the declaration, is never flagged."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from flask.testing import FlaskClient

from connectors.bluesky_session import SESSIONS
from lockdown.clock.scheduler import WATCH_EVERY_SECONDS, SideJobs
from lockdown.posting.dispatch import Dispatcher
from lockdown.settings import Settings
from lockdown.store import audit
from lockdown.store.context import Context
from tests.conftest import Login
from tests.connectors.test_watch_bluesky import write_past_the_connector
from tests.pds.server import Pds

INTERVAL = 60.0  # Bluesky's default


@pytest.fixture(autouse=True)
def fresh_sessions() -> Iterator[None]:
    SESSIONS.clear()
    yield
    SESSIONS.clear()


class Moved:
    """The scheduler's clock, started at the real time (the PDS dates posts by it) and moved."""

    def __init__(self) -> None:
        self.now = datetime.now(UTC)

    def __call__(self) -> datetime:
        return self.now


def test_a_post_written_straight_to_the_pds_during_the_hold_is_detected_shown_told_and_deleted(
    client: FlaskClient, ctx: Context, settings: Settings, pds: Pds, make_user: Callable[..., Login],
    register: Callable[..., dict[str, Any]],
) -> None:  # fmt: skip
    press, owner, editor = make_user("press"), make_user("manager"), make_user("manager")
    chem = pds.account("chem")
    account = register(
        owner, handle="@livuni_chem", platform="bluesky", editors=[editor.email],
        connector={"kind": "bluesky", "identifier": chem.handle, "service_url": pds.url},
    )  # fmt: skip
    deposited = client.put(
        f"/api/v1/accounts/{account['id']}/connector-secrets",
        json={"app_password": chem.app_password},
        headers=owner.headers,
    )
    assert deposited.status_code == 200, deposited.json
    clock = Moved()
    dispatcher = Dispatcher(settings, audit.audit_key(settings.require_secret_key()), clock=clock)
    jobs = SideJobs(settings, dispatcher)
    try:
        # Lockdown's own post, published through the connector just before the declaration.
        when = (clock.now + timedelta(seconds=1)).isoformat()
        made = client.post("/api/v1/posts", json={"account_id": account["id"], "body": "Open day on Saturday",
                                                  "scheduled_at": when}, headers=editor.headers)  # fmt: skip
        assert made.status_code == 201, made.json
        assert client.post(f"/api/v1/posts/{made.json['id']}/approve", headers=owner.headers).status_code == 200
        clock.now += timedelta(seconds=2)
        dispatcher.tick()
        ours = ctx.db.conn.execute("SELECT state, remote_id FROM posts WHERE id = ?", [made.json["id"]]).fetchone()
        assert ours[0] == "published", ours
        declared = client.post("/api/v1/incidents", json={"title": "Fire", "reason": "drill"}, headers=press.headers)
        assert declared.status_code == 201, declared.json
        incident_id = declared.json["id"]

        uri = write_past_the_connector(pds, chem, "Posting from the app anyway", datetime.now(UTC))
        posted = clock.now
        while not ctx.db.conn.execute("SELECT 1 FROM out_of_band_posts").fetchone():
            assert clock.now - posted <= timedelta(seconds=2 * INTERVAL), "not detected within two intervals"
            clock.now += timedelta(seconds=WATCH_EVERY_SECONDS)
            jobs.watch()
        # A hijacker's post dated an hour back (createdAt is the writer's to choose) is seen too.
        backdated = write_past_the_connector(pds, chem, "Nothing to see", datetime.now(UTC) - timedelta(hours=1))
        clock.now += timedelta(seconds=2 * INTERVAL)
        jobs.watch()
        assert ctx.db.conn.execute("SELECT 1 FROM out_of_band_posts WHERE remote_id = ?", [backdated]).fetchone()
    finally:
        dispatcher.close()

    watch = client.get(f"/api/v1/incidents/{incident_id}/watch", headers=owner.headers).json
    seen, _ = sorted(watch["out_of_band"], key=lambda p: p["id"])
    assert (seen["remote_id"], seen["text"]) == (uri, "Posting from the app anyway")
    assert ours[1] not in {p["remote_id"] for p in watch["out_of_band"]}  # Lockdown's own: never flagged
    (watched,) = watch["accounts"]
    assert watched["status"] == "ok"
    told = {
        row[0] for row in ctx.db.conn.execute("SELECT recipient FROM notifications WHERE event = 'out_of_band_post'")
    }
    assert {owner.email, press.email} <= told
    report = client.get(f"/api/v1/incidents/{incident_id}/report?format=md", headers=owner.headers).get_data(
        as_text=True
    )
    assert "Posting from the app anyway" in report

    deleted = client.post(f"/api/v1/incidents/{incident_id}/watch/{seen['id']}/delete", headers=owner.headers)
    assert deleted.status_code == 200, deleted.json
    assert deleted.json["deleted_at"] is not None
    remaining = {p["uri"] for p in pds.posts(chem.did)}
    assert uri not in remaining  # gone from the PDS
    assert ours[1] in remaining
