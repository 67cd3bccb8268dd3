"""The media sweep: uploads no post names go after the grace period, files shared by another
upload stay, stray files and spool leftovers go; metrics report the store; backups carry it."""

from __future__ import annotations

import io
import os
import sqlite3
import time
from collections.abc import Callable
from contextlib import closing
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient

from lockdown.ops.metrics import render_metrics
from lockdown.posting.media_backup import copy_media, media_folder_of
from lockdown.posting.media_store import MediaStore
from lockdown.posting.media_sweep import sweep_media
from lockdown.settings import Settings
from lockdown.store.context import Context
from tests.api.test_posts_api import later
from tests.conftest import Login, count_rows
from tests.media_samples import image_bytes

GRACE = timedelta(hours=24)


@pytest.fixture
def editor(make_user: Callable[..., Login], register: Callable[..., dict[str, Any]]) -> dict[str, Any]:
    manager = make_user("manager")
    return {"login": manager, "account": register(manager, platform="mastodon")}


def upload(client: FlaskClient, login: Login, data: bytes) -> dict[str, Any]:
    answer = client.post(
        "/api/v1/media",
        data={"file": (io.BytesIO(data), "photo.jpg"), "alt_text": "A photo"},
        headers=login.headers,
        content_type="multipart/form-data",
    )
    assert answer.status_code == 201, answer.json
    body: dict[str, Any] = answer.json
    return body


def stored(settings: Settings, medium: dict[str, Any]) -> Path:
    return MediaStore(settings.media_folder).path_for(medium["sha256"], "jpg")


def test_an_unused_upload_goes_after_the_grace_period_and_a_used_one_stays(
    client: FlaskClient, editor: dict[str, Any], ctx: Context, settings: Settings
) -> None:
    used = upload(client, editor["login"], image_bytes(size=(64, 48)))
    unused = upload(client, editor["login"], image_bytes(size=(32, 32)))
    drafted = client.post(
        "/api/v1/posts",
        json={"account_id": editor["account"]["id"], "body": "Hi", "scheduled_at": later(), "media_ids": [used["id"]]},
        headers=editor["login"].headers,
    )
    assert drafted.status_code == 201, drafted.json
    store = MediaStore(settings.media_folder)
    assert sweep_media(ctx, store, GRACE).media == 0, "within the grace period nothing goes"
    ctx.clock = _later(GRACE)
    swept = sweep_media(ctx, store, GRACE)
    assert (swept.media, swept.files) == (1, 1)
    assert not stored(settings, unused).exists()
    assert stored(settings, used).exists()
    assert count_rows(ctx, "media") == 1
    audit = ctx.db.conn.execute("SELECT actor FROM audit_log WHERE action = 'media.remove'").fetchall()
    assert audit == [("scheduler",)]


def _later(delta: timedelta) -> Callable[[], datetime]:
    moment = datetime.now(UTC) + delta + timedelta(minutes=1)
    return lambda: moment


def test_a_file_two_uploads_share_stays_while_one_of_them_is_used(
    client: FlaskClient, editor: dict[str, Any], ctx: Context, settings: Settings
) -> None:
    data = image_bytes()
    first, second = upload(client, editor["login"], data), upload(client, editor["login"], data)
    assert first["sha256"] == second["sha256"], "one content, one file"
    client.post(
        "/api/v1/posts",
        json={"account_id": editor["account"]["id"], "body": "Hi", "scheduled_at": later(), "media_ids": [first["id"]]},
        headers=editor["login"].headers,
    )
    ctx.clock = _later(GRACE)
    swept = sweep_media(ctx, MediaStore(settings.media_folder), GRACE)
    assert (swept.media, swept.files) == (1, 0)
    assert stored(settings, first).exists()


def test_stray_files_and_spool_leftovers_go_once_old(ctx: Context, settings: Settings, app: Any) -> None:
    store = MediaStore(settings.media_folder)
    stray = store.path_for("a" * 64, "jpg")
    stray.parent.mkdir(parents=True)
    stray.write_bytes(b"left by an upload whose row was never written")
    leftover = store.new_upload()
    fresh = store.path_for("b" * 64, "png")
    fresh.parent.mkdir(parents=True)
    fresh.write_bytes(b"just written")
    old = time.time() - GRACE.total_seconds() - 60
    for path in (stray, leftover):
        os.utime(path, (old, old))
    assert sweep_media(ctx, store, GRACE).strays == 2
    assert not stray.exists()
    assert not leftover.exists()
    assert fresh.exists(), "a young stray may be an upload in progress"


def test_metrics_report_the_store(client: FlaskClient, editor: dict[str, Any], ctx: Context) -> None:
    medium = upload(client, editor["login"], image_bytes())
    text = render_metrics(ctx.db, ctx.now()).decode()
    assert f"lockdown_media_store_bytes {float(medium['bytes'])}" in text
    assert "lockdown_media_files 1.0" in text
    assert "lockdown_media_unused 1.0" in text


def test_a_backup_carries_the_media_its_database_names(
    client: FlaskClient, editor: dict[str, Any], settings: Settings, tmp_path: Path
) -> None:
    medium = upload(client, editor["login"], image_bytes())
    target = tmp_path / "backups" / "lockdown.db"
    target.parent.mkdir()
    with closing(sqlite3.connect(settings.db_path)) as live, closing(sqlite3.connect(target)) as copy_to:
        live.backup(copy_to)  # as `lockdown backup` copies it
    copy = copy_media(target, MediaStore(settings.media_folder), MediaStore(media_folder_of(target)))
    assert (copy.copied, copy.present, copy.missing) == (1, 0, [])
    kept = MediaStore(media_folder_of(target)).path_for(medium["sha256"], "jpg")
    assert kept.read_bytes() == stored(settings, medium).read_bytes()
    again = copy_media(target, MediaStore(settings.media_folder), MediaStore(media_folder_of(target)))
    assert (again.copied, again.present) == (0, 1), "content-addressed: a kept file is not copied again"
    stored(settings, medium).unlink()
    back = copy_media(target, MediaStore(media_folder_of(target)), MediaStore(settings.media_folder))
    assert back.copied == 1
    assert stored(settings, medium).exists(), "a restore brings the file back"
