"""Media through the HTTP API (issue 16, policy 2.2.4): uploads checked by content and stored
without EXIF, the accessibility rule at upload, drafting and approval, the platforms' limits at
drafting, who may use and see which medium, and the signed public links."""

from __future__ import annotations

import io
import os
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient
from werkzeug.datastructures import FileStorage
from werkzeug.test import encode_multipart

from lockdown.app import create_app
from lockdown.posting.media_links import MediaLinks
from lockdown.settings import Settings
from lockdown.store.context import Context
from tests.api.test_posts_api import later
from tests.conftest import SECRET, Login, count_rows
from tests.media_samples import SRT, VTT, has_gps, image_bytes, mp4_bytes


def upload(client: FlaskClient, login: Login, data: bytes, name: str = "photo.jpg", **fields: Any) -> Any:
    form: dict[str, Any] = {"file": FileStorage(io.BytesIO(data), name)}
    for key, value in fields.items():
        form[key] = FileStorage(io.BytesIO(value), f"{key}.txt") if isinstance(value, bytes) else value
    # Encoded in memory: the test client spools a body over 500 KB to a file it never closes.
    boundary, body = encode_multipart(form)
    return client.post(
        "/api/v1/media", data=body, headers=login.headers, content_type=f"multipart/form-data; boundary={boundary}"
    )


def photo(client: FlaskClient, login: Login, alt_text: str = "Students at the Victoria Building", **kw: Any) -> int:
    answer = upload(client, login, image_bytes(gps=True), alt_text=alt_text, **kw)
    assert answer.status_code == 201, answer.json
    return int(answer.json["id"])


def draft(client: FlaskClient, login: Login, account_id: int, media_ids: list[int], body: str = "Open day!") -> Any:
    return client.post(
        "/api/v1/posts",
        json={"account_id": account_id, "body": body, "scheduled_at": later(), "media_ids": media_ids},
        headers=login.headers,
    )


@pytest.fixture
def team(make_user: Callable[..., Login], register: Callable[..., dict[str, Any]]) -> dict[str, Any]:
    manager, editor, outsider = make_user("manager"), make_user("manager"), make_user("manager")
    return {
        "manager": manager,
        "editor": editor,
        "outsider": outsider,
        "x": register(manager, editors=[editor.email], platform="x"),
        "bluesky": register(manager, editors=[editor.email], platform="bluesky"),
        "instagram": register(manager, editors=[editor.email], platform="instagram"),
        "elsewhere": register(outsider, platform="mastodon"),
    }


def test_a_photo_is_stored_without_its_location_and_named_by_its_content(
    client: FlaskClient, team: dict[str, Any], settings: Settings
) -> None:
    answer = upload(client, team["editor"], image_bytes(gps=True), name="holiday.png", alt_text="A red square")
    assert answer.status_code == 201, answer.json
    medium = answer.json
    assert (medium["kind"], medium["mime"], medium["width"], medium["height"]) == ("image", "image/jpeg", 64, 48)
    stored = settings.media_folder / medium["sha256"][:2] / medium["sha256"][2:4] / f"{medium['sha256']}.jpg"
    data = stored.read_bytes()
    assert not has_gps(data), "the GPS position left with the photo"
    assert len(data) == medium["bytes"]
    content = client.get(f"/api/v1/media/{medium['id']}/content", headers=team["editor"].headers)
    assert content.status_code == 200
    assert content.mimetype == "image/jpeg"
    assert content.data == data
    assert content.headers["X-Content-Type-Options"] == "nosniff"
    content.close()


def test_an_image_without_alt_text_is_refused_and_nothing_is_kept(
    client: FlaskClient, team: dict[str, Any], ctx: Context, settings: Settings
) -> None:
    answer = upload(client, team["editor"], image_bytes())
    assert answer.status_code == 400
    assert answer.json["error"]["field"] == "alt_text"
    assert "2.2.4" in answer.json["error"]["message"]
    assert count_rows(ctx, "media") == 0
    assert not list(settings.media_folder.glob("??/??/*")), "a refused upload left its file"
    assert not list((settings.media_folder / ".incoming").glob("*")), "a refused upload left its spool file"


def test_a_file_that_is_not_an_image_or_video_is_refused_naming_the_field(
    client: FlaskClient, team: dict[str, Any]
) -> None:
    answer = upload(client, team["editor"], b"%PDF-1.7 not a photo", name="photo.jpg", alt_text="x")
    assert answer.status_code == 400
    assert answer.json["error"]["field"] == "file"


def test_a_video_without_captions_is_refused(client: FlaskClient, team: dict[str, Any], ctx: Context) -> None:
    answer = upload(client, team["editor"], mp4_bytes(), name="clip.mp4", alt_text="Open day")
    assert answer.status_code == 400
    assert answer.json["error"]["field"] == "captions"
    assert "subtitles" in answer.json["error"]["message"]
    assert count_rows(ctx, "media") == 0


@pytest.mark.parametrize("captions", [VTT, SRT], ids=["webvtt", "subrip"])
def test_a_subtitled_video_keeps_its_cues_in_both_forms(
    client: FlaskClient, team: dict[str, Any], ctx: Context, captions: str
) -> None:
    answer = upload(client, team["editor"], mp4_bytes(2.0), name="clip.mp4", captions=captions.encode())
    assert answer.status_code == 201, answer.json
    assert (answer.json["kind"], answer.json["captions"], answer.json["duration"]) == ("video", True, 2.0)
    vtt, srt = ctx.db.conn.execute(
        "SELECT captions_vtt, captions_srt FROM media WHERE id = ?", [answer.json["id"]]
    ).fetchone()
    assert vtt.startswith("WEBVTT")
    assert "Welcome to open day." in vtt
    assert "00:00:01,500 --> 00:00:02,000" in srt


def test_a_live_clip_needs_where_its_transcript_can_be_had(client: FlaskClient, team: dict[str, Any]) -> None:
    bare = upload(client, team["editor"], mp4_bytes(), name="clip.mp4", live="true")
    assert (bare.status_code, bare.json["error"]["field"]) == (400, "transcript_contact")
    live = upload(
        client, team["editor"], mp4_bytes(), name="clip.mp4", live="true", transcript_contact="press@liverpool.ac.uk"
    )
    assert live.status_code == 201, live.json
    assert (live.json["live"], live.json["transcript_contact"]) == (True, "press@liverpool.ac.uk")


def test_captions_that_do_not_parse_are_refused(client: FlaskClient, team: dict[str, Any]) -> None:
    answer = upload(client, team["editor"], mp4_bytes(), name="clip.mp4", captions=b"this is not a subtitle file")
    assert (answer.status_code, answer.json["error"]["field"]) == (400, "captions")


def test_someone_who_drafts_nowhere_may_not_upload(client: FlaskClient, make_user: Callable[..., Login]) -> None:
    nobody = make_user("manager")
    answer = upload(client, nobody, image_bytes(), alt_text="x")
    assert answer.status_code == 403


def test_an_upload_sent_as_json_is_told_to_send_a_form(client: FlaskClient, team: dict[str, Any]) -> None:
    answer = client.post("/api/v1/media", json={"file": "x"}, headers=team["editor"].headers)
    assert answer.status_code == 415
    assert "multipart/form-data" in answer.json["error"]["message"]


def test_a_post_carries_its_media_in_order(client: FlaskClient, team: dict[str, Any]) -> None:
    first, second = photo(client, team["editor"], "First"), photo(client, team["editor"], "Second")
    created = draft(client, team["editor"], team["x"]["id"], [second, first])
    assert created.status_code == 201, created.json
    assert [m["id"] for m in created.json["media"]] == [second, first]
    assert [m["alt_text"] for m in created.json["media"]] == ["Second", "First"]
    listed = client.get(f"/api/v1/posts?account_id={team['x']['id']}", headers=team["manager"].headers).json
    assert [m["id"] for m in listed["items"][0]["media"]] == [second, first]


def test_the_platform_limits_are_checked_at_drafting_naming_the_field(
    client: FlaskClient, team: dict[str, Any], ctx: Context
) -> None:
    five = [photo(client, team["editor"], f"Photo {n}") for n in range(5)]
    too_many = draft(client, team["editor"], team["x"]["id"], five)
    assert too_many.status_code == 400
    assert too_many.json["error"]["field"] == "media_ids"
    assert "X takes at most 4 images" in too_many.json["error"]["message"]
    png = upload(client, team["editor"], image_bytes("PNG"), alt_text="A chart")
    not_jpeg = draft(client, team["editor"], team["instagram"]["id"], [png.json["id"]])
    assert not_jpeg.status_code == 400
    assert "Instagram takes JPEG only" in not_jpeg.json["error"]["message"]
    video = upload(client, team["editor"], mp4_bytes(), name="clip.mp4", captions=VTT.encode()).json["id"]
    mixed = draft(client, team["editor"], team["bluesky"]["id"], [five[0], video])
    assert "not both" in mixed.json["error"]["message"]
    assert count_rows(ctx, "posts") == 0


def test_a_photo_over_blueskys_blob_limit_is_refused_at_drafting(client: FlaskClient, team: dict[str, Any]) -> None:
    noisy = io.BytesIO()
    from PIL import Image

    Image.frombytes("RGB", (700, 600), os.urandom(700 * 600 * 3)).save(noisy, "PNG")
    big = upload(client, team["editor"], noisy.getvalue(), name="big.png", alt_text="Noise")
    assert big.status_code == 201, big.json
    assert big.json["bytes"] > 1_000_000
    refused = draft(client, team["editor"], team["bluesky"]["id"], [big.json["id"]])
    assert refused.status_code == 400
    assert "Bluesky takes" in refused.json["error"]["message"]


def test_another_persons_upload_cannot_be_attached(client: FlaskClient, team: dict[str, Any]) -> None:
    theirs = photo(client, team["outsider"])
    answer = draft(client, team["editor"], team["x"]["id"], [theirs])
    assert answer.status_code == 400
    assert answer.json["error"]["field"] == "media_ids"
    assert "someone else" in answer.json["error"]["message"]


def test_a_colleague_editing_a_post_keeps_its_media_and_may_reorder_them(
    client: FlaskClient, team: dict[str, Any]
) -> None:
    first, second = photo(client, team["editor"], "First"), photo(client, team["editor"], "Second")
    post = draft(client, team["editor"], team["x"]["id"], [first, second]).json
    reordered = client.patch(
        f"/api/v1/posts/{post['id']}", json={"media_ids": [second, first]}, headers=team["manager"].headers
    )
    assert reordered.status_code == 200, reordered.json
    assert [m["id"] for m in reordered.json["media"]] == [second, first]
    assert reordered.json["last_changed_by"] == team["manager"].email
    emptied = client.patch(f"/api/v1/posts/{post['id']}", json={"media_ids": []}, headers=team["manager"].headers)
    assert emptied.json["media"] == []


def test_media_are_seen_by_the_people_of_the_post_and_nobody_else(client: FlaskClient, team: dict[str, Any]) -> None:
    mine = photo(client, team["editor"])
    assert client.get(f"/api/v1/media/{mine}", headers=team["manager"].headers).status_code == 404
    draft(client, team["editor"], team["x"]["id"], [mine])
    assert client.get(f"/api/v1/media/{mine}", headers=team["manager"].headers).status_code == 200
    assert client.get(f"/api/v1/media/{mine}", headers=team["outsider"].headers).status_code == 404
    assert client.get(f"/api/v1/media/{mine}/content", headers=team["outsider"].headers).status_code == 404


def test_instagram_refuses_a_post_without_media(client: FlaskClient, team: dict[str, Any], ermc: Login) -> None:
    account = team["instagram"]["id"]
    moved = client.patch(
        f"/api/v1/accounts/{account}",
        json={"connector": {"kind": "instagram", "ig_user_id": "17841400000000000"}},
        headers=ermc.headers,
    )
    assert moved.status_code == 200, moved.json
    answer = draft(client, team["editor"], account, [])
    assert answer.status_code == 400
    assert answer.json["error"]["field"] == "media_ids"
    assert "Instagram" in answer.json["error"]["message"]


def test_the_alt_text_rule_relaxed_to_a_warning_is_checked_again_at_approval(
    settings: Settings, team: dict[str, Any], client: FlaskClient
) -> None:
    import dataclasses

    relaxed = create_app(dataclasses.replace(settings, alt_text_rule="warn")).test_client()
    bare = upload(relaxed, team["editor"], image_bytes())
    assert bare.status_code == 201, bare.json
    post = draft(relaxed, team["editor"], team["x"]["id"], [bare.json["id"]])
    assert post.status_code == 201, post.json
    assert post.json["warnings"] == [f"image 1 (media {bare.json['id']}) has no alt text (policy 2.2.4)"]
    # The installation tightens the rule before a colleague approves: the approval is refused.
    refused = client.post(f"/api/v1/posts/{post.json['id']}/approve", headers=team["manager"].headers)
    assert refused.status_code == 400
    assert refused.json["error"]["field"] == "media_ids"
    allowed = relaxed.post(f"/api/v1/posts/{post.json['id']}/approve", headers=team["manager"].headers)
    assert allowed.status_code == 200, allowed.json


def test_the_public_link_serves_the_file_until_it_expires(settings: Settings, team: dict[str, Any]) -> None:
    import dataclasses

    now = [datetime(2026, 12, 1, 9, 0, tzinfo=UTC)]
    public = dataclasses.replace(settings, public_url="https://lockdown.liverpool.ac.uk", public_url_given=True)
    api = create_app(public, clock=lambda: now[0]).test_client()
    medium = upload(api, team["editor"], image_bytes(), alt_text="A red square").json
    links = MediaLinks(SECRET.encode(), "https://lockdown.liverpool.ac.uk")
    link = links.link(medium["sha256"], "jpg", now[0])
    path = link.removeprefix("https://lockdown.liverpool.ac.uk")
    served = api.get(path)
    assert served.status_code == 200
    assert served.mimetype == "image/jpeg"
    assert len(served.data) == medium["bytes"]
    served.close()
    token = path.removesuffix(".jpg")
    forged = token[:-1] + ("A" if token[-1] != "A" else "B") + ".jpg"
    assert api.get(forged).status_code == 404, "a link whose signature was changed served a file"
    assert api.get(token + ".png").status_code == 404
    now[0] += timedelta(hours=1, seconds=1)
    expired = api.get(path)
    assert expired.status_code == 403
    assert "expired" in expired.json["error"]["message"]


def test_the_upload_is_in_the_audit_trail(client: FlaskClient, team: dict[str, Any], ctx: Context) -> None:
    media_id = photo(client, team["editor"])
    action, actor = ctx.db.conn.execute(
        "SELECT action, actor FROM audit_log WHERE subject = ?", [f"media:{media_id}"]
    ).fetchone()
    assert (action, actor) == ("media.upload", team["editor"].email)


def test_media_folder_is_beside_the_database_unless_set(tmp_path: Path) -> None:
    assert Settings.from_env({"LOCKDOWN_DB": str(tmp_path / "x.db")}).media_folder == tmp_path / "media"
    chosen = Settings.from_env({"LOCKDOWN_DB": str(tmp_path / "x.db"), "LOCKDOWN_MEDIA_DIR": str(tmp_path / "m")})
    assert chosen.media_folder == tmp_path / "m"


def test_a_send_gives_the_connector_a_fresh_public_link_the_service_serves(
    settings: Settings, make_user: Callable[..., Login], register: Callable[..., dict[str, Any]]
) -> None:
    """The Instagram chain inside Lockdown: with LOCKDOWN_PUBLIC_URL, each send mints a signed
    link to each medium, and the link is what the service serves at that address."""
    import dataclasses
    import random

    from lockdown.posting.dispatch import Dispatcher
    from lockdown.store import audit
    from tests.posting.test_dispatch import Clock, FakePlatform

    base = "https://lockdown.liverpool.ac.uk"
    clock = Clock(datetime(2026, 12, 1, 9, 0, tzinfo=UTC))
    public = dataclasses.replace(settings, public_url=base, public_url_given=True)
    api = create_app(public, clock=clock).test_client()
    manager, editor = make_user("manager"), make_user("manager")
    account = register(manager, editors=[editor.email], platform="mastodon")
    medium = upload(api, editor, image_bytes(), alt_text="A red square").json
    when = (clock.now + timedelta(minutes=5)).isoformat()
    post = api.post(
        "/api/v1/posts",
        json={"account_id": account["id"], "body": "Hi", "scheduled_at": when, "media_ids": [medium["id"]]},
        headers=editor.headers,
    ).json
    assert api.post(f"/api/v1/posts/{post['id']}/approve", headers=manager.headers).status_code == 200
    platform = FakePlatform()
    worker = Dispatcher(
        public, audit.audit_key(public.require_secret_key()), clock=clock, connector_factory=platform,
        rng=random.Random(1),
    )  # fmt: skip
    try:
        clock.advance(minutes=5)
        worker.tick()
    finally:
        worker.close()
    (sent,) = platform.sent
    link = sent.media[0].public_url
    assert link is not None
    assert link.startswith(f"{base}/media/public/")
    served = api.get(link.removeprefix(base))
    assert served.status_code == 200
    assert served.data == Path(sent.media[0].path).read_bytes()
    served.close()
    clock.advance(hours=1, seconds=1)
    assert api.get(link.removeprefix(base)).status_code == 403, "a link outlives its hour"
