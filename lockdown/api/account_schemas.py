"""Shapes of the register's endpoints: accounts, their CSV import, their connector secrets.
Rules live in the services, not here."""

from __future__ import annotations

from apiflask import Schema, fields, validators
from marshmallow import INCLUDE

from lockdown.api.schemas import PageQuery, query_bool, strict_bool, text
from lockdown.register.accounts import PLATFORMS

CONNECTOR_NOTE = (
    "the connector's kind and settings; a webhook's url is a credential: it is kept as the "
    "connector secret url and shown masked (sending back the masked form keeps it)"
)


class AccountIn(Schema):
    handle = text(required=True, metadata={"example": "@livuni_chemistry"})
    platform = fields.String(required=True, validate=validators.OneOf(PLATFORMS))
    unit = text(required=True, metadata={"example": "Department of Chemistry"})
    purpose = text(required=True)
    monitored_hours = text(required=True, metadata={"example": "Mon-Fri 09:00-17:00"})
    manager = text(required=True, metadata={"description": "the manager's user email"})
    editors = fields.List(text(), metadata={"description": "user emails"})
    central = strict_bool()
    connector = fields.Dict(
        keys=fields.String(), metadata={"example": {"kind": "outbox"}, "description": CONNECTOR_NOTE}
    )
    naming_exception = text(allow_none=True)
    tags = fields.List(
        fields.String(validate=validators.Length(max=32)),
        metadata={"description": "e.g. ['drill'] for accounts an exercise may hold"},
    )


class AccountPatch(Schema):
    handle = text()
    platform = fields.String(validate=validators.OneOf(PLATFORMS))
    unit = text()
    purpose = text()
    monitored_hours = text()
    manager = text()
    editors = fields.List(text())
    central = strict_bool()
    connector = fields.Dict(keys=fields.String(), metadata={"description": CONNECTOR_NOTE})
    naming_exception = text(allow_none=True)
    tags = fields.List(
        fields.String(validate=validators.Length(max=32)),
        metadata={"description": "e.g. ['drill'] for accounts an exercise may hold"},
    )


class AccountOut(Schema):
    id = fields.Integer(required=True)
    handle = fields.String(required=True)
    platform = fields.String(required=True)
    unit = fields.String(required=True)
    purpose = fields.String(required=True)
    monitored_hours = fields.String(required=True)
    manager = fields.String(required=True)
    editors = fields.List(fields.String(), required=True)
    central = fields.Boolean(required=True)
    connector = fields.Dict(
        required=True,
        metadata={"description": "the connector's settings; a webhook's url masked (scheme, host and port)"},
    )
    naming_exception = fields.String(allow_none=True, required=True)
    created_at = fields.String(required=True)
    updated_at = fields.String(required=True)
    archived_at = fields.String(allow_none=True, required=True)
    tags = fields.List(fields.String(), required=True)
    held = fields.Boolean(required=True, metadata={"description": "held by an active incident"})


class ReadinessOut(Schema):
    status = fields.String(
        required=True,
        validate=validators.OneOf(("ready", "failing", "unchecked")),
        metadata={"description": "ready, failing (the last check failed), or unchecked (never checked)"},
    )
    checked_at = fields.String(allow_none=True, required=True, metadata={"description": "the last check's end"})
    reason = fields.String(
        allow_none=True,
        required=True,
        metadata={
            "description": "why it is failing: the platform's own answer for ERMC, the account's manager and (for a "
            "central account) the press team; its kind and HTTP status for anyone else"
        },
    )
    since = fields.String(allow_none=True, required=True, metadata={"description": "when the status began"})
    account = fields.String(
        allow_none=True, required=True, metadata={"description": "who the platform says the credentials act as"}
    )
    scopes = fields.List(fields.String(), required=True, metadata={"description": "permissions the platform reported"})
    expires_at = fields.String(
        allow_none=True, required=True, metadata={"description": "when the token ends, where the platform says"}
    )
    permanent = fields.Boolean(
        allow_none=True,
        required=True,
        metadata={"description": "failing: true when a person must act (token, permission), false when it may pass"},
    )
    checking = fields.Boolean(required=True, metadata={"description": "a check is running now"})
    next_check_at = fields.String(allow_none=True, required=True, metadata={"description": "the next scheduled check"})
    warnings = fields.List(
        fields.String(),
        required=True,
        metadata={"description": "an API version ending within 60 days (or ended), a token ending within 14 days"},
    )


class Readiness(ReadinessOut):
    """ReadinessOut under its own name for nesting (see AccountItem)."""


class AccountDetail(AccountOut):
    readiness = fields.Nested(Readiness, required=True)


class AccountItem(AccountOut):
    """AccountOut under its own name: APIFlask registers a schema used both nested and alone
    twice, so list items get a class of their own."""


class AccountPage(Schema):
    items = fields.List(fields.Nested(AccountItem), required=True)
    next = fields.String(allow_none=True, required=True)


class AccountQuery(PageQuery):
    platform = fields.String(load_default=None, validate=validators.OneOf(PLATFORMS))
    manager = fields.String(load_default=None, validate=validators.Length(max=320))
    central = query_bool(load_default=None)
    unit = fields.String(load_default=None, validate=validators.Length(max=200))
    q = fields.String(
        load_default=None,
        validate=validators.Length(max=100),
        metadata={"description": "handle or unit contains this (any case)"},
    )
    archived = query_bool(load_default=False)
    held = query_bool(load_default=None, metadata={"description": "held by an active incident"})
    tag = fields.String(load_default=None, validate=validators.Length(max=32))


class ImportResult(Schema):
    created = fields.Integer(required=True)
    ids = fields.List(fields.Integer(), required=True)


class SecretsIn(Schema):
    """Secret name to value, e.g. {"access_token": "..."}; names depend on the connector."""

    class Meta:
        unknown = INCLUDE


class SecretStatus(Schema):
    kind = fields.String(required=True)
    secrets = fields.List(fields.Dict(), required=True)
