"""Photos and video in the console: upload one (with its alt text, or a video's captions), see it
previewed among the uploads waiting for the next post, and send them with the draft.

The uploads waiting for a post are kept in the signed session (ids only), so a person can add
several, one form at a time, on a phone without scripts; the draft form lists them with a tick
box each, and drafting attaches the ticked ones (the service checks each is theirs)."""

from __future__ import annotations

from flask import Response, flash, redirect, request, send_file, session
from werkzeug.wrappers import Response as BaseResponse

from lockdown.api.media import keep_upload
from lockdown.api.state import app_state, request_context
from lockdown.console.auth import login_required
from lockdown.console.blueprint import bp
from lockdown.console.draft_media import MAX_WAITING, WAITING
from lockdown.console.post_pages import back_page, me
from lockdown.errors import InvalidInput, LockdownError, NotFound
from lockdown.posting import media


@bp.post("/uploads")
@login_required
def upload_media() -> BaseResponse:
    """Upload a photo or video for the next post; it is previewed on the draft form."""
    file = request.files.get("file")
    try:
        if file is None or not file.filename:
            raise InvalidInput("choose a photo or a video to upload", field="file")
        fields = media.read_form(
            {
                "alt_text": request.form.get("alt_text", ""),
                "live": "true" if request.form.get("live") else "false",
                "transcript_contact": request.form.get("transcript_contact", ""),
                "captions_lang": request.form.get("captions_lang") or "en",
            }
        )
        medium = keep_upload(file, request.files.get("captions"), fields, me())
    except LockdownError as exc:
        flash(exc.message, "error")
        return redirect(back_page())
    waiting = [i for i in session.get(WAITING, []) if i != medium.id][-(MAX_WAITING - 1) :]
    session[WAITING] = [*waiting, medium.id]
    flash(f"The {medium.kind} is uploaded; it goes with the next post you send for review.", "ok")
    # Straight to the draft form, where the upload is previewed: writing the post is what is next.
    back = back_page()
    return redirect(back if "#" in back else f"{back}#draft-heading")


@bp.get("/uploads/<int:media_id>")
@login_required
def media_file(media_id: int) -> Response:
    """The stored file (metadata removed), for a preview: to those who may see it."""
    ctx = request_context()
    medium = media.get_medium(ctx.db, media_id)
    if not media.may_see(ctx.db, me(), medium):
        raise NotFound(f"no media {media_id}", field="id")
    config = app_state().incidents.media
    assert config is not None
    answer = send_file(
        config.store.path_for(medium.sha256, medium.extension), mimetype=medium.mime, conditional=True, max_age=0
    )
    answer.headers["Cache-Control"] = "private, no-cache"
    answer.headers["X-Content-Type-Options"] = "nosniff"
    return answer


@bp.get("/uploads/<int:media_id>/captions.vtt")
@login_required
def media_captions(media_id: int) -> Response:
    """A video's captions as WebVTT, for the preview's <track>."""
    ctx = request_context()
    medium = media.get_medium(ctx.db, media_id)
    if not media.may_see(ctx.db, me(), medium) or medium.captions_vtt is None:
        raise NotFound(f"media {media_id} has no captions", field="id")
    return Response(medium.captions_vtt, mimetype="text/vtt", headers={"Cache-Control": "private, no-cache"})
