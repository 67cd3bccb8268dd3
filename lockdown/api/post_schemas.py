"""Shapes of the posts endpoints.
Rules live in the services, not here."""

from __future__ import annotations

from apiflask import Schema, fields, validators

from lockdown.api.media_schemas import MediaItem, media_ids
from lockdown.api.schemas import PageQuery, query_bool
from lockdown.posting.posts import STATES as POST_STATES


class PostIn(Schema):
    account_id = fields.Integer(strict=True, required=True, validate=validators.Range(min=1, max=2**63 - 1))
    body = fields.String(required=True, validate=validators.Length(max=100_000))
    scheduled_at = fields.String(
        required=True,
        validate=validators.Length(max=64),
        metadata={"example": "2026-12-01T09:00:00Z"},
    )
    media_ids = media_ids("images or a video you uploaded (POST /api/v1/media), in the order they are shown")


class PostPatch(Schema):
    body = fields.String(validate=validators.Length(max=100_000))
    scheduled_at = fields.String(validate=validators.Length(max=64))
    media_ids = media_ids("the post's media from now on ([] for none); the post goes back to review")


class RescheduleIn(Schema):
    scheduled_at = fields.String(required=True, validate=validators.Length(max=64))


class MarkPublishedIn(Schema):
    remote_id = fields.String(required=True, validate=validators.Length(min=1, max=500))


class PostOut(Schema):
    id = fields.Integer(required=True)
    account_id = fields.Integer(required=True)
    body = fields.String(required=True)
    state = fields.String(required=True)
    scheduled_at = fields.String(required=True)
    due_at = fields.String(required=True, metadata={"description": "when the next attempt is due"})
    author = fields.String(required=True)
    approved_by = fields.String(allow_none=True, required=True)
    approved_at = fields.String(allow_none=True, required=True)
    batch_id = fields.String(allow_none=True, required=True)
    attempts = fields.Integer(required=True)
    dispatched_at = fields.String(allow_none=True, required=True)
    published_at = fields.String(allow_none=True, required=True)
    remote_id = fields.String(allow_none=True, required=True)
    error = fields.String(
        allow_none=True,
        required=True,
        metadata={"description": "the last failure; a platform's own words only for ERMC and the account's manager"},
    )
    error_code = fields.String(
        allow_none=True,
        metadata={"description": "a failed platform call: permanent, transient or ambiguous"},
    )
    error_status = fields.Integer(allow_none=True, metadata={"description": "its HTTP status, if any"})
    created_at = fields.String(required=True)
    updated_at = fields.String(required=True)
    held = fields.Boolean(required=True, metadata={"description": "scheduled, on a held account"})
    remote_deleted_at = fields.String(allow_none=True, required=True)
    last_changed_by = fields.String(
        required=True,
        metadata={"description": "who last wrote its body or time: like its author, they may not approve it"},
    )
    media = fields.List(fields.Nested(MediaItem), required=True)
    warnings = fields.List(
        fields.String(),
        required=True,
        metadata={
            "description": "what policy 2.2.4 warns of where the installation lets it through (LOCKDOWN_ALT_TEXT=warn)"
        },
    )


class PostItem(PostOut):
    """PostOut under its own name for list items (see AccountItem)."""


class PostPage(Schema):
    items = fields.List(fields.Nested(PostItem), required=True)
    next = fields.String(allow_none=True, required=True)


class PostQuery(PageQuery):
    account_id = fields.Integer(load_default=None, validate=validators.Range(min=1, max=2**63 - 1))
    state = fields.String(load_default=None, validate=validators.OneOf(POST_STATES))
    batch_id = fields.String(load_default=None, validate=validators.Regexp(r"^[0-9a-f]{32}$"))
    held = query_bool(load_default=None)


class BatchOut(Schema):
    batch_id = fields.String(required=True)
    created = fields.Integer()
    approved = fields.Integer()
