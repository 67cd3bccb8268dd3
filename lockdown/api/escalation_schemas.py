"""Shapes of the escalation endpoints. Rules (exactly one of account and address, the address's
form, who may read) live in ``lockdown.escalations``."""

from __future__ import annotations

from apiflask import Schema, fields, validators

from lockdown.api.schemas import PageQuery, query_bool
from lockdown.escalations.actions import MAX_REASON
from lockdown.escalations.reports import KINDS, MAX_DETAILS, MAX_URL, STATES


class EscalationIn(Schema):
    kind = fields.String(required=True, validate=validators.OneOf(KINDS))
    account_id = fields.Integer(
        strict=True,
        validate=validators.Range(min=1, max=2**63 - 1),
        metadata={"description": "a registered account; give this or url, not both"},
    )
    url = fields.String(
        validate=validators.Length(min=1, max=MAX_URL),
        metadata={
            "description": "content elsewhere (http or https); give this or account_id. Lockdown never fetches it",
            "example": "https://social.example/@someone/123",
        },
    )
    details = fields.String(required=True, validate=validators.Length(min=1, max=MAX_DETAILS))


class EscalationAccount(Schema):
    id = fields.Integer(required=True)
    handle = fields.String(required=True)
    platform = fields.String(required=True)


class EscalationOut(Schema):
    id = fields.Integer(required=True)
    kind = fields.String(required=True)
    account = fields.Nested(EscalationAccount, allow_none=True, required=True)
    url = fields.String(allow_none=True, required=True)
    details = fields.String(required=True)
    reporter = fields.String(required=True)
    state = fields.String(required=True, metadata={"enum": list(STATES)})
    closed_as = fields.String(allow_none=True, required=True, metadata={"description": "declared or dismissed"})
    close_reason = fields.String(allow_none=True, required=True)
    closed_by = fields.String(allow_none=True, required=True)
    closed_at = fields.String(allow_none=True, required=True)
    incident_id = fields.Integer(allow_none=True, required=True)
    filed_at = fields.String(required=True)
    age_seconds = fields.Integer(required=True, metadata={"description": "seconds since it was filed"})


class EscalationItem(EscalationOut):
    """EscalationOut under its own name for list items (see AccountItem)."""


class EscalationPage(Schema):
    items = fields.List(fields.Nested(EscalationItem), required=True)
    next = fields.String(allow_none=True, required=True)


class EscalationQuery(PageQuery):
    state = fields.String(load_default=None, validate=validators.OneOf(STATES))
    mine = query_bool(load_default=False, metadata={"description": "only the reports you filed (ERMC)"})


class CloseIn(Schema):
    reason = fields.String(required=True, validate=validators.Length(min=1, max=MAX_REASON))


class ClosedOut(Schema):
    id = fields.Integer(required=True)
    state = fields.String(required=True)
    closed_as = fields.String(required=True)
    closed_at = fields.String(required=True)
