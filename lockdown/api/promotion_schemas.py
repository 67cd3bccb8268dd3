"""Shapes of the promotion confirmation. Rules live in the services, not here."""

from __future__ import annotations

from apiflask import Schema, fields, validators


class ConfirmIn(Schema):
    checked = fields.String(
        required=True,
        validate=validators.Length(max=2000),
        metadata={
            "description": "What the press officer checked before lifting the promotion hold (required, not blank): "
            "e.g. the incidents on the old primary's last notices, the platforms' recent posts.",
            "example": "Compared the active incidents with the last declaration notices; checked @livuni on X.",
        },
    )
    resume_policy = fields.String(
        validate=validators.OneOf(("review", "skip", "resume")),
        metadata={"description": "What happens to posts that fell due during the hold; default review."},
    )


class ConfirmedOut(Schema):
    promotion = fields.String(required=True)
    promoted_at = fields.String(required=True)
    replica_point = fields.String(allow_none=True, required=True)
    incident_id = fields.Integer(required=True)
    confirmed_at = fields.String(required=True)
    confirmed_by = fields.String(required=True)
    checked = fields.String(required=True)
    resume_policy = fields.String(required=True)
    released_accounts = fields.Integer(required=True)
    missed_posts = fields.Integer(required=True)
