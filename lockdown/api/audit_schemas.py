"""Shapes of the audit trail's endpoints.
Rules live in the services, not here."""

from __future__ import annotations

from apiflask import Schema, fields, validators

from lockdown.api.schemas import PageQuery, StrictQuery


class AuditQuery(PageQuery):
    subject = fields.String(load_default=None, validate=validators.Length(max=200))


class AuditEntry(Schema):
    seq = fields.Integer(required=True)
    at = fields.String(required=True)
    actor = fields.String(required=True)
    action = fields.String(required=True)
    subject = fields.String(required=True)
    details = fields.Dict(required=True)
    prev_hash = fields.String(required=True)
    hash = fields.String(required=True)


class AuditPage(Schema):
    items = fields.List(fields.Nested(AuditEntry), required=True)
    next = fields.String(allow_none=True, required=True)


class VerifyQuery(StrictQuery):
    expect_head = fields.String(
        load_default=None,
        validate=validators.Regexp(r"^[0-9a-f]{64}$"),
        metadata={"description": "a head hash kept off the machine; detects a cut tail"},
    )


class VerifyOut(Schema):
    ok = fields.Boolean(required=True)
    entries = fields.Integer(required=True)
    head = fields.String(required=True)
    first_bad = fields.Integer(allow_none=True, required=True)
    reason = fields.String(allow_none=True, required=True)
