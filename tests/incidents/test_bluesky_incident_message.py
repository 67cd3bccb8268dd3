"""An incident message goes out through a central Bluesky account, end to end: the API, the
vault, the outbound policy and the connector, to the reference PDS (tests/pds), where it is
read back."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask.testing import FlaskClient

from tests.conftest import Login
from tests.pds.server import Pds, PdsAccount


def central_on_pds(
    client: FlaskClient,
    pds: Pds,
    make_user: Callable[..., Login],
    register: Callable[..., dict[str, Any]],
    name: str,
) -> tuple[PdsAccount, dict[str, Any]]:
    """A central @livuni account on Bluesky, publishing to a new account on the reference PDS
    with its app password deposited by its manager."""
    owner = make_user("manager")
    account = pds.account(name)
    central = register(
        owner,
        handle="@livuni",
        platform="bluesky",
        central=True,
        connector={"kind": "bluesky", "identifier": account.handle, "service_url": pds.url},
    )
    deposited = client.put(
        f"/api/v1/accounts/{central['id']}/connector-secrets",
        json={"app_password": account.app_password},
        headers=owner.headers,
    )
    assert deposited.status_code == 200, deposited.json
    return account, central


def test_an_approved_incident_message_is_posted_on_the_central_bluesky_account(
    client: FlaskClient,
    pds: Pds,
    make_user: Callable[..., Login],
    register: Callable[..., dict[str, Any]],
    ermc: Login,
) -> None:
    press, press2 = make_user("press"), make_user("press")
    livuni, central = central_on_pds(client, pds, make_user, register, "livuni")

    incident = client.post(
        "/api/v1/incidents", json={"title": "Campus closed", "reason": "Storm"}, headers=press.headers
    ).json
    body = "Campus is closed today. Updates here and on https://liv.ac.uk/news #LivUni"
    drafted = client.post(
        f"/api/v1/incidents/{incident['id']}/messages",
        json={"body": body, "account_ids": [central["id"]]},
        headers=press.headers,
    )
    assert drafted.status_code == 201, drafted.json
    approved = client.post(
        f"/api/v1/incidents/{incident['id']}/messages/{drafted.json['id']}/approve", headers=press2.headers
    ).json

    (delivery,) = approved["deliveries"]
    assert delivery["state"] == "delivered", delivery
    (stored,) = pds.posts(livuni.did)
    assert stored["uri"] == delivery["remote_id"]
    assert stored["value"]["text"] == body
    assert [f["features"][0]["$type"] for f in stored["value"]["facets"]] == [
        "app.bsky.richtext.facet#link",
        "app.bsky.richtext.facet#tag",
    ]


def test_an_incident_message_with_a_photo_reaches_bluesky_with_its_alt_text_and_no_location(
    client: FlaskClient,
    pds: Pds,
    make_user: Callable[..., Login],
    register: Callable[..., dict[str, Any]],
) -> None:
    """Issue 16 end to end: the upload API (checked, EXIF removed), a message naming it, a second
    officer's approval, the connector's uploadBlob, and the record on the reference PDS, valid
    against the lexicon, whose blob is the stored file."""
    import io
    from hashlib import sha256

    from tests.media_samples import has_gps, image_bytes
    from tests.pds.lexicon import validate

    press, press2 = make_user("press"), make_user("press")
    livuni, central = central_on_pds(client, pds, make_user, register, "livphoto")
    uploaded = client.post(
        "/api/v1/media",
        data={"file": (io.BytesIO(image_bytes(size=(800, 600), gps=True)), "gate.jpg"), "alt_text": "The closed gate"},
        headers=press.headers,
        content_type="multipart/form-data",
    )
    assert uploaded.status_code == 201, uploaded.json
    incident = client.post("/api/v1/incidents", json={"title": "Closed", "reason": "Storm"}, headers=press.headers).json
    drafted = client.post(
        f"/api/v1/incidents/{incident['id']}/messages",
        json={"body": "Campus closed today.", "account_ids": [central["id"]], "media_ids": [uploaded.json["id"]]},
        headers=press.headers,
    )
    assert drafted.status_code == 201, drafted.json
    assert [m["id"] for m in drafted.json["media"]] == [uploaded.json["id"]]
    approved = client.post(
        f"/api/v1/incidents/{incident['id']}/messages/{drafted.json['id']}/approve", headers=press2.headers
    ).json
    (delivery,) = approved["deliveries"]
    assert delivery["state"] == "delivered", delivery

    (stored,) = pds.posts(livuni.did)
    embed = stored["value"]["embed"]
    assert embed["$type"] == "app.bsky.embed.images"
    (image,) = embed["images"]
    assert image["alt"] == "The closed gate"
    assert (image["aspectRatio"]["width"], image["aspectRatio"]["height"]) == (800, 600)
    blob = pds.blob(livuni.did, image["image"]["ref"]["$link"])
    assert sha256(blob).hexdigest() == uploaded.json["sha256"]
    assert not has_gps(blob)
    assert validate([("record", "app.bsky.feed.post", stored["value"])]) == [None]
