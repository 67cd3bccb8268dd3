"""Shapes of the vault's endpoints: credentials, access sessions, takeovers, offboarding.
Rules live in the services, not here."""

from __future__ import annotations

from apiflask import Schema, fields, validators


class CredentialIn(Schema):
    username = fields.String(required=True, validate=validators.Length(max=1000))
    password = fields.String(required=True, validate=validators.Length(max=1000))
    totp_secret = fields.String(validate=validators.Length(max=200), allow_none=True)
    notes = fields.String(validate=validators.Length(max=1000), allow_none=True)
    reason = fields.String(validate=validators.Length(max=500), allow_none=True)


class CredentialMeta(Schema):
    account_id = fields.Integer(required=True)
    handle = fields.String(required=True)
    version = fields.Integer(required=True)
    rotated_at = fields.String(required=True)
    deposited_by = fields.String(required=True)
    rotation_reason = fields.String(allow_none=True, required=True)
    rotation_due = fields.String(required=True)
    rotation_required = fields.Boolean(required=True)
    reasons = fields.List(fields.Dict(), required=True)
    has_totp = fields.Boolean(required=True)
    totp_seed_bits = fields.Integer(
        allow_none=True, required=True, metadata={"description": "the TOTP seed's length; null if none or unrecorded"}
    )
    totp_seed_short = fields.Boolean(
        required=True, metadata={"description": "the seed is under 112 bits (as the platform issued it)"}
    )
    known_by = fields.List(fields.Dict(), required=True)


class CredentialItem(CredentialMeta):
    """CredentialMeta under its own name for lists."""


class RotationList(Schema):
    items = fields.List(fields.Nested(CredentialItem), required=True)


# Every account in a university's register, with room; the cap keeps a body small.
MAX_SESSION_ACCOUNTS = 1000


class SessionIn(Schema):
    account_ids = fields.List(
        fields.Integer(strict=True, validate=validators.Range(min=1, max=2**63 - 1)),
        required=True,
        validate=validators.Length(min=1, max=MAX_SESSION_ACCOUNTS),
    )
    justification = fields.String(required=True, validate=validators.Length(max=100_000))
    incident_id = fields.Integer(strict=True, validate=validators.Range(min=1, max=2**63 - 1))
    minutes = fields.Integer(strict=True, validate=validators.Range(min=1, max=240))


class SessionOut(Schema):
    id = fields.Integer(required=True)
    justification = fields.String(required=True)
    grounds = fields.String(required=True)
    incident_id = fields.Integer(allow_none=True, required=True)
    account_ids = fields.List(fields.Integer(), required=True)
    opened_at = fields.String(required=True)
    expires_at = fields.String(required=True)
    closed_at = fields.String(allow_none=True, required=True)
    close_reason = fields.String(allow_none=True, required=True)


class RevealIn(Schema):
    account_id = fields.Integer(strict=True, required=True, validate=validators.Range(min=1, max=2**63 - 1))


class RevealOut(Schema):
    account_id = fields.Integer(required=True)
    version = fields.Integer(required=True)
    username = fields.String(required=True)
    password = fields.String(required=True)
    totp_code = fields.String(allow_none=True, required=True)
    session_expires_at = fields.String(required=True)


class TakeoverIn(Schema):
    who = fields.String(required=True, validate=validators.Length(max=200))
    from_ = fields.String(required=True, data_key="from", validate=validators.Length(max=64))
    until = fields.String(required=True, validate=validators.Length(max=64))


class TakeoverOut(Schema):
    id = fields.Integer(required=True)
    account_id = fields.Integer(required=True)
    who = fields.String(required=True)
    from_ = fields.String(required=True, data_key="from")
    until = fields.String(required=True)


class OffboardIn(Schema):
    email = fields.String(required=True, validate=validators.Length(max=320))


class OffboardOut(Schema):
    email = fields.String(required=True)
    disabled = fields.Boolean(required=True)
    sessions_closed = fields.Integer(required=True)
    rotation_required = fields.List(fields.Integer(), required=True)
