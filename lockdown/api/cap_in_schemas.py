"""Shapes of the CAP-in endpoints (issue 19). The alert itself is XML, checked against the CAP 1.2
schema in ``lockdown.escalations.cap_alerts``; these are the JSON answers."""

from __future__ import annotations

from apiflask import Schema, fields, validators

from lockdown.escalations.cap_alerts import KINDS, MAX_REASON, STATES


class CapReceived(Schema):
    proposal_id = fields.Integer(required=True)
    playbook = fields.String(allow_none=True, required=True, metadata={"description": "the mapped playbook"})
    kind = fields.String(required=True, metadata={"enum": list(KINDS)})
    state = fields.String(required=True, metadata={"enum": list(STATES)})
    incident_id = fields.Integer(allow_none=True, required=True)
    message = fields.String(required=True, metadata={"description": "what happens next"})


class CapProposalItem(Schema):
    id = fields.Integer(required=True)
    identifier = fields.String(required=True)
    sender = fields.String(required=True)
    sent = fields.String(required=True)
    status = fields.String(required=True, metadata={"description": "the alert's CAP status"})
    msg_type = fields.String(required=True)
    kind = fields.String(required=True, metadata={"enum": list(KINDS)})
    playbook = fields.String(allow_none=True, required=True)
    title = fields.String(required=True)
    event = fields.String(allow_none=True, required=True)
    severity = fields.String(allow_none=True, required=True)
    headline = fields.String(allow_none=True, required=True)
    area = fields.String(allow_none=True, required=True)
    text = fields.String(required=True)
    state = fields.String(required=True, metadata={"enum": list(STATES)})
    refers_to = fields.Integer(allow_none=True, required=True)
    incident_id = fields.Integer(allow_none=True, required=True)
    received_at = fields.String(required=True)
    decided_at = fields.String(allow_none=True, required=True)
    dismiss_reason = fields.String(allow_none=True, required=True)


class CapProposalOut(CapProposalItem):
    accounts = fields.Integer(
        allow_none=True,
        required=True,
        metadata={"description": "how many accounts confirming it would hold (declare) or holds now (resolve)"},
    )


class CapProposalPage(Schema):
    items = fields.List(fields.Nested(CapProposalItem), required=True)


class CapProposalQuery(Schema):
    state = fields.String(load_default=None, validate=validators.OneOf(STATES))
    limit = fields.Integer(load_default=50, validate=validators.Range(min=1, max=200), strict=False)


class CapDismissIn(Schema):
    reason = fields.String(required=True, validate=validators.Length(min=1, max=MAX_REASON))


class CapDismissed(Schema):
    proposal_id = fields.Integer(required=True)
    state = fields.String(required=True)
    decided_at = fields.String(required=True)


class CapConfirmed(Schema):
    proposal_id = fields.Integer(required=True)
    kind = fields.String(required=True, metadata={"enum": ["declare", "resolve"]})
    incident_id = fields.Integer(required=True)
