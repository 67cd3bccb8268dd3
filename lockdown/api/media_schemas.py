"""Shapes of the media endpoints. Rules live in the services, not here."""

from __future__ import annotations

from typing import Any

from apiflask import Schema, fields, validators

from lockdown.posting.media import MAX_ALT_TEXT, MAX_CONTACT, MAX_MEDIA_IDS


class MediaIn(Schema):
    file = fields.File(  # type: ignore[no-untyped-call]
        required=True,
        metadata={"description": "JPEG, PNG, WebP or GIF image, or MP4 video; judged by its content"},
    )
    alt_text = fields.String(
        validate=validators.Length(max=MAX_ALT_TEXT),
        metadata={"description": "what the image shows, for people who cannot see it (policy 2.2.4)"},
    )
    captions = fields.File(  # type: ignore[no-untyped-call]
        metadata={"description": "a video's subtitles, WebVTT or SubRip"}
    )
    captions_lang = fields.String(validate=validators.Length(max=35), metadata={"example": "en"})
    live = fields.String(
        validate=validators.OneOf(["true", "false"]),
        metadata={"description": "a live or immediate clip with no captions file: give transcript_contact"},
    )
    transcript_contact = fields.String(
        validate=validators.Length(max=MAX_CONTACT),
        metadata={"description": "where the full transcript of a live clip can be had on request"},
    )


class MediaOut(Schema):
    id = fields.Integer(required=True)
    kind = fields.String(required=True, metadata={"description": "image or video"})
    mime = fields.String(required=True)
    bytes = fields.Integer(required=True)
    sha256 = fields.String(required=True, metadata={"description": "of the stored file, after metadata was removed"})
    width = fields.Integer(required=True)
    height = fields.Integer(required=True)
    duration = fields.Float(allow_none=True, required=True, metadata={"description": "seconds, a video's"})
    frames = fields.Integer(required=True)
    alt_text = fields.String(required=True)
    captions = fields.Boolean(required=True, metadata={"description": "whether a captions file goes with it"})
    captions_lang = fields.String(allow_none=True, required=True)
    live = fields.Boolean(required=True)
    transcript_contact = fields.String(allow_none=True, required=True)
    created_at = fields.String(required=True)


def media_ids(description: str) -> fields.Field[Any]:
    """The media a post or message carries, in the order it shows them."""
    return fields.List(
        fields.Integer(strict=True, validate=validators.Range(min=1, max=2**63 - 1)),
        validate=validators.Length(max=MAX_MEDIA_IDS),
        metadata={"description": description},
    )


class MediaItem(MediaOut):
    """MediaOut under its own name where a post or message lists its media."""
