"""Posts and their review: /api/v1/posts."""

from __future__ import annotations

from typing import Any

from apiflask import APIBlueprint
from flask import request
from marshmallow import RAISE

from lockdown.api.auth import auth
from lockdown.api.post_schemas import (
    BatchOut,
    MarkPublishedIn,
    PostIn,
    PostOut,
    PostPage,
    PostPatch,
    PostQuery,
    RescheduleIn,
)
from lockdown.api.state import app_state, current_user, request_context
from lockdown.posting import csv_import as post_csv
from lockdown.posting import posts
from lockdown.posting.dispatch import connectors_for
from lockdown.posting.post_errors import errors_as_seen_by

POST = "/<int:post_id>"
bp = APIBlueprint("posts", __name__, url_prefix="/api/v1/posts", tag="Posts")


@bp.get("")
@bp.auth_required(auth)
@bp.input(PostQuery, location="query", arg_name="query", unknown=RAISE)
@bp.output(PostPage)
@bp.doc(responses=[400, 401])
def list_posts(query: dict[str, Any]) -> dict[str, Any]:
    """List posts (any role), filtered by account, state or batch."""
    ctx = request_context()
    found = posts.list_posts(ctx.db, **query)
    found["items"] = errors_as_seen_by(ctx.db, current_user(), found["items"])
    return found


@bp.post("")
@bp.auth_required(auth)
@bp.input(PostIn, arg_name="body")
@bp.output(PostOut, status_code=201)
@bp.doc(responses=[400, 401, 403])
def create_post(body: dict[str, Any]) -> dict[str, Any]:
    """Draft a post; it waits for a colleague's approval (pending_review)."""
    return posts.create_post(request_context(), current_user(), body, alt_text_rule=_alt_text_rule())


@bp.get(POST)
@bp.auth_required(auth)
@bp.output(PostOut)
@bp.doc(responses=[401, 404])
def get_post(post_id: int) -> dict[str, Any]:
    """One post with its state, times, remote id and last error (any role)."""
    return _as_seen(posts.get_post(request_context().db, post_id))


@bp.patch(POST)
@bp.auth_required(auth)
@bp.input(PostPatch, arg_name="body")
@bp.output(PostOut)
@bp.doc(responses=[400, 401, 403, 404, 409])
def update_post(post_id: int, body: dict[str, Any]) -> dict[str, Any]:
    """Change the body or time; the post goes back to review."""
    return _as_seen(posts.update_post(request_context(), current_user(), post_id, body, alt_text_rule=_alt_text_rule()))


@bp.post(f"{POST}/approve")
@bp.auth_required(auth)
@bp.output(PostOut)
@bp.doc(responses=[401, 403, 404, 409])
def approve_post(post_id: int) -> dict[str, Any]:
    """Approve a colleague's post (never your own): it is scheduled."""
    return _as_seen(posts.approve_post(request_context(), current_user(), post_id, alt_text_rule=_alt_text_rule()))


@bp.post(f"{POST}/cancel")
@bp.auth_required(auth)
@bp.output(PostOut)
@bp.doc(responses=[401, 403, 404, 409])
def cancel_post(post_id: int) -> dict[str, Any]:
    """Cancel a post that has not gone out."""
    return _as_seen(posts.cancel_post(request_context(), current_user(), post_id))


@bp.post(f"{POST}/reschedule")
@bp.auth_required(auth)
@bp.input(RescheduleIn, arg_name="body")
@bp.output(PostOut)
@bp.doc(responses=[400, 401, 403, 404, 409])
def reschedule_post(post_id: int, body: dict[str, Any]) -> dict[str, Any]:
    """Give a missed, failed or unknown post a new time; it is scheduled again."""
    return _as_seen(posts.reschedule_post(request_context(), current_user(), post_id, body))


@bp.post(f"{POST}/mark-published")
@bp.auth_required(auth)
@bp.input(MarkPublishedIn, arg_name="body")
@bp.output(PostOut)
@bp.doc(responses=[400, 401, 403, 404, 409])
def mark_published(post_id: int, body: dict[str, Any]) -> dict[str, Any]:
    """Record that an unknown post did go out, with the platform's id."""
    return _as_seen(posts.mark_published(request_context(), current_user(), post_id, body))


@bp.post(f"{POST}/delete-remote")
@bp.auth_required(auth)
@bp.output(PostOut)
@bp.doc(responses=[401, 403, 404, 409])
def delete_remote(post_id: int) -> dict[str, Any]:
    """Delete a published post from its platform (press, ERMC, its account's manager)."""
    state = app_state()
    return _as_seen(
        posts.delete_remote(request_context(), state.vault, current_user(), post_id, connectors_for(state.settings))
    )


@bp.post("/import")
@bp.auth_required(auth)
@bp.output(BatchOut, status_code=201)
@bp.doc(responses=[400, 401, 413])
def import_posts() -> dict[str, Any]:
    """Create a batch of posts from a CSV body (text/csv); all rows or none."""
    return post_csv.import_posts(request_context(), current_user(), request.get_data())


@bp.post("/batches/<string(length=32):batch_id>/approve")
@bp.auth_required(auth)
@bp.output(BatchOut)
@bp.doc(responses=[401, 403, 404, 409])
def approve_batch(batch_id: str) -> dict[str, Any]:
    """Approve every post of a batch still awaiting review (never by its uploader)."""
    return posts.approve_batch(request_context(), current_user(), batch_id, alt_text_rule=_alt_text_rule())


def _as_seen(post: dict[str, Any]) -> dict[str, Any]:
    """The post as the caller may see it: a platform's own error words only for ERMC and the manager."""
    return errors_as_seen_by(request_context().db, current_user(), [post])[0]


def _alt_text_rule() -> str:
    """Whether an image without alt text is refused or only warned of (LOCKDOWN_ALT_TEXT)."""
    return app_state().settings.alt_text_rule
