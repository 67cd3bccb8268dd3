"""Media: /api/v1/media (upload, read, preview) and the signed public links platforms fetch
(/media/public/...)."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from apiflask import APIBlueprint
from flask import Response
from werkzeug.datastructures import FileStorage

from lockdown.api.auth import auth
from lockdown.api.media_schemas import MediaIn, MediaOut
from lockdown.api.state import app_state, current_user, request_context
from lockdown.errors import InvalidInput, NotFound
from lockdown.people.users import User
from lockdown.posting import media
from lockdown.posting.media_links import PATH

# A captions file is text: a feature film's subtitles are a few hundred kilobytes.
MAX_CAPTIONS_BYTES = 1024 * 1024
bp = APIBlueprint("media", __name__, url_prefix="/api/v1/media", tag="Media")
public = APIBlueprint("public_media", __name__, tag="Media")


@bp.post("")
@bp.auth_required(auth)
@bp.input(MediaIn, location="form_and_files", arg_name="form")
@bp.output(MediaOut, status_code=201)
@bp.doc(responses=[400, 401, 403, 413])
def upload(form: dict[str, Any]) -> dict[str, Any]:
    """Upload an image or a video for a post or an incident message (anyone who may draft one).
    Images need alt text; a video needs captions, or `live` with `transcript_contact`."""
    file: FileStorage = form.pop("file")
    captions: FileStorage | None = form.pop("captions", None)
    return keep_upload(file, captions, media.read_form(form), current_user()).public()


def keep_upload(file: FileStorage, captions: FileStorage | None, fields: media.UploadForm, user: User) -> media.Medium:
    """Stream an uploaded file into the store's spool and have the service check and keep it
    (the API's and the console's uploads alike)."""
    config = app_state().incidents.media
    assert config is not None  # create_app always builds it
    if captions is not None and captions.filename:
        fields = dataclasses.replace(fields, captions=read_captions(captions))
    upload_path = config.store.new_upload()
    try:
        file.save(upload_path)
    except BaseException:
        upload_path.unlink(missing_ok=True)
        raise
    finally:
        file.close()  # werkzeug spools a large upload to a temporary file
    return media.upload_media(
        request_context(), config.store, user, upload_path, fields, alt_text_rule=config.alt_text_rule
    )


def read_captions(captions: FileStorage) -> bytes:
    """The captions file's bytes, at most MAX_CAPTIONS_BYTES: 400 naming ``captions`` otherwise."""
    try:
        data = captions.stream.read(MAX_CAPTIONS_BYTES + 1)
    finally:
        captions.close()
    if len(data) > MAX_CAPTIONS_BYTES:
        raise InvalidInput(f"captions must be at most {MAX_CAPTIONS_BYTES // 1024} KB", field="captions")
    return data


@bp.get("/<int:media_id>")
@bp.auth_required(auth)
@bp.output(MediaOut)
@bp.doc(responses=[401, 404])
def get_media(media_id: int) -> dict[str, Any]:
    """One medium: its uploader, ERMC, press, and the people of accounts whose posts carry it."""
    return _visible(media_id).public()


@bp.get("/<int:media_id>/content")
@bp.auth_required(auth)
@bp.output({}, content_type="application/octet-stream", description="the stored file")
@bp.doc(responses=[401, 404])
def media_content(media_id: int) -> Response:
    """The stored file (metadata removed), to preview it."""
    medium = _visible(media_id)
    config = app_state().incidents.media
    assert config is not None
    path = config.store.path_for(medium.sha256, medium.extension)
    if not path.is_file():
        raise NotFound(f"media {media_id}'s file is missing from the store", field="id")
    answer = stored_file(path, medium.mime)
    answer.headers["Cache-Control"] = "private, no-cache"
    answer.headers["X-Content-Type-Options"] = "nosniff"
    return answer


def _visible(media_id: int) -> media.Medium:
    """The medium if the caller may see it; 404 otherwise (no hint that it exists)."""
    ctx = request_context()
    medium = media.get_medium(ctx.db, media_id)
    if not media.may_see(ctx.db, current_user(), medium):
        raise NotFound(f"no media {media_id}", field="id")
    return medium


@public.get(f"{PATH}<string:token>")
@public.output({}, content_type="application/octet-stream", description="the file the link names")
@public.doc(responses=[403, 404])
def public_file(token: str) -> Response:
    """A file at a signed, expiring address, for a platform that fetches media itself
    (Instagram). No sign-in: the signature is the permission; 403 once it has expired."""
    state = app_state()
    config = state.incidents.media
    if config is None or config.links is None:
        raise NotFound("this installation gives no public media links", field="token")
    target = config.links.target(token, state.clock())
    ctx = request_context()
    row = ctx.db.conn.execute(
        "SELECT mime FROM media WHERE sha256 = ? AND extension = ? LIMIT 1", [target.sha256, target.extension]
    ).fetchone()
    path = config.store.path_for(target.sha256, target.extension)
    if row is None or not path.is_file():
        raise NotFound("the file this link named has been removed", field="token")
    answer = stored_file(path, row[0])
    answer.headers["X-Content-Type-Options"] = "nosniff"
    answer.headers["Cache-Control"] = "no-store"
    return answer


CHUNK = 256 * 1024


def stored_file(path: Path, mime: str) -> Response:
    """A stored file as the answer, read in chunks as it is sent. The file is opened only when
    the first chunk is wanted and closed by the end of the answer, even one a client leaves
    unread (a platform fetching a link, a script), so no handle outlives its request."""

    def chunks() -> Iterator[bytes]:
        with path.open("rb") as handle:
            while chunk := handle.read(CHUNK):
                yield chunk

    return Response(chunks(), mimetype=mime, headers={"Content-Length": str(path.stat().st_size)})
