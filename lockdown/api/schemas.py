"""Request and response shapes for the API document. Rules live in the services, not here."""

from __future__ import annotations

from typing import Any

from apiflask import Schema, fields, validators
from marshmallow import INCLUDE, RAISE, ValidationError

from lockdown.accounts import PLATFORMS
from lockdown.pagination import CURSOR_PATTERN, MAX_LIMIT
from lockdown.posts import STATES as POST_STATES

ERROR_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {
            "type": "object",
            "required": ["code", "message"],
            "properties": {
                "code": {"type": "string", "description": "snake_case error code"},
                "message": {"type": "string", "description": "what a person can act on"},
                "field": {"type": "string", "description": "the field at fault, if one is"},
                "errors": {
                    "type": "array",
                    "description": "every broken rule, when there are several",
                    "items": {"type": "object"},
                },
            },
        }
    },
}


class StrictBoolean(fields.Boolean):
    """A JSON boolean that refuses 0, 1 and "yes" (marshmallow accepts them, and since
    ``1 == True`` a ``truthy={True}`` set would too)."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> bool:
        if not isinstance(value, bool):
            raise ValidationError("must be true or false")
        return value


def strict_bool(**kwargs: Any) -> fields.Boolean:
    """A JSON boolean: exactly ``true`` or ``false``."""
    return StrictBoolean(**kwargs)


def query_bool(**kwargs: Any) -> fields.Boolean:
    """A query-string boolean: exactly ``true`` or ``false``."""
    return fields.Boolean(truthy={"true"}, falsy={"false"}, **kwargs)


def text(**kwargs: Any) -> fields.String:
    """Text of at most a few thousand characters."""
    return fields.String(validate=validators.Length(max=5000), **kwargs)


class StrictQuery(Schema):
    """Query parameters; an unknown one (a misspelt filter) is refused rather than ignored."""

    class Meta:
        unknown = RAISE


class PageQuery(StrictQuery):
    limit = fields.Integer(
        load_default=None,
        validate=validators.Range(min=1, max=MAX_LIMIT),
        metadata={"example": 100},
    )
    cursor = fields.String(
        load_default=None,
        validate=validators.Regexp(CURSOR_PATTERN),
        metadata={"description": "the 'next' value of the previous page"},
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
    connector = fields.Dict(keys=fields.String(), metadata={"example": {"kind": "outbox"}})
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
    connector = fields.Dict(keys=fields.String())
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
    connector = fields.Dict(required=True)
    naming_exception = fields.String(allow_none=True, required=True)
    created_at = fields.String(required=True)
    updated_at = fields.String(required=True)
    archived_at = fields.String(allow_none=True, required=True)
    tags = fields.List(fields.String(), required=True)
    held = fields.Boolean(required=True, metadata={"description": "held by an active incident"})


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
        metadata={"description": "handle or unit begins with this"},
    )
    archived = query_bool(load_default=False)
    held = query_bool(load_default=None, metadata={"description": "held by an active incident"})
    tag = fields.String(load_default=None, validate=validators.Length(max=32))


class ImportResult(Schema):
    created = fields.Integer(required=True)
    ids = fields.List(fields.Integer(), required=True)


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


class UserOut(Schema):
    id = fields.Integer(required=True)
    name = fields.String(required=True)
    email = fields.String(required=True)
    roles = fields.List(fields.String(), required=True)
    disabled = fields.Boolean(required=True)


class SchedulerHealthOut(Schema):
    last_tick = fields.String(
        allow_none=True, required=True, metadata={"description": "When a dispatch tick last completed."}
    )
    state = fields.String(
        required=True,
        validate=validators.OneOf(["ok", "failing", "refusing", "unreadable", "not reported"]),
        metadata={
            "description": "ok: dispatching; failing: the dispatch tick raises (e.g. the database is locked, "
            "full or read-only); refusing: the hold state is not trustworthy, so nothing is dispatched "
            "(fail closed); unreadable: its health file cannot be read; not reported: no scheduler has run on "
            "this database."
        },
    )
    refusing = fields.Boolean(required=True, metadata={"description": "Dispatch refuses to send (fail closed)."})
    since = fields.String(allow_none=True, required=True, metadata={"description": "When the state began."})
    last_error = fields.String(
        allow_none=True,
        required=True,
        metadata={"description": "The last error of any scheduler job, kept after recovery."},
    )
    last_error_at = fields.String(allow_none=True, required=True)


class HealthOut(Schema):
    ok = fields.Boolean(required=True)
    database = fields.String(required=True)
    scheduler = fields.Nested(SchedulerHealthOut, required=True)


class PostIn(Schema):
    account_id = fields.Integer(required=True, validate=validators.Range(min=1, max=2**63 - 1))
    body = fields.String(required=True, validate=validators.Length(max=100_000))
    scheduled_at = fields.String(
        required=True,
        validate=validators.Length(max=64),
        metadata={"example": "2026-12-01T09:00:00Z"},
    )


class PostPatch(Schema):
    body = fields.String(validate=validators.Length(max=100_000))
    scheduled_at = fields.String(validate=validators.Length(max=64))


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
    error = fields.String(allow_none=True, required=True)
    created_at = fields.String(required=True)
    updated_at = fields.String(required=True)
    held = fields.Boolean(required=True, metadata={"description": "scheduled, on a held account"})
    remote_deleted_at = fields.String(allow_none=True, required=True)


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


class SecretsIn(Schema):
    """Secret name to value, e.g. {"access_token": "..."}; names depend on the connector."""

    class Meta:
        unknown = INCLUDE


class SecretStatus(Schema):
    kind = fields.String(required=True)
    secrets = fields.List(fields.Dict(), required=True)


class IncidentIn(Schema):
    title = fields.String(required=True, validate=validators.Length(max=200))
    reason = fields.String(required=True, validate=validators.Length(max=2000))
    playbook = fields.String(validate=validators.Length(max=64), metadata={"example": "live-incident"})
    account_id = fields.Integer(
        validate=validators.Range(min=1, max=2**63 - 1),
        metadata={"description": "the account a compromised-account incident holds"},
    )


class DeclaredOut(Schema):
    id = fields.Integer(required=True)
    status = fields.String(required=True)
    playbook = fields.String(required=True)
    exercise = fields.Boolean(required=True)
    declared_at = fields.String(required=True)
    held_accounts = fields.Integer(required=True)
    in_flight = fields.List(fields.Integer(), required=True)
    holding_statement_id = fields.Integer(allow_none=True, required=True)


class ResolveIn(Schema):
    resume_policy = fields.String(validate=validators.OneOf(("review", "skip", "resume")))


class ResolvedOut(Schema):
    id = fields.Integer(required=True)
    status = fields.String(required=True)
    resolved_at = fields.String(required=True)
    resume_policy = fields.String(required=True)
    released_accounts = fields.Integer(required=True)
    still_held = fields.Integer(required=True)
    missed_posts = fields.Integer(required=True)


class IncidentOut(Schema):
    id = fields.Integer(required=True)
    title = fields.String(required=True)
    playbook = fields.String(required=True)
    reason = fields.String(required=True)
    status = fields.String(required=True)
    exercise = fields.Boolean(required=True)
    scope = fields.String(required=True)
    scope_tag = fields.String(allow_none=True, required=True)
    named_account_id = fields.Integer(allow_none=True, required=True)
    hold_central = fields.Boolean(required=True)
    resume_policy = fields.String(required=True)
    declared_by = fields.String(allow_none=True, required=True)
    declared_at = fields.String(required=True)
    resolved_by = fields.String(allow_none=True, required=True)
    resolved_at = fields.String(allow_none=True, required=True)
    resolution = fields.Dict(allow_none=True, required=True)
    held_accounts = fields.Integer(required=True)
    in_flight = fields.List(fields.Integer(), required=True)
    timeline = fields.List(fields.Dict(), required=True)
    acknowledgements = fields.Dict(required=True)


class IncidentItem(IncidentOut):
    """IncidentOut under its own name for list items (see AccountItem)."""


class IncidentPage(Schema):
    items = fields.List(fields.Nested(IncidentItem), required=True)
    next = fields.String(allow_none=True, required=True)


class IncidentQuery(PageQuery):
    status = fields.String(load_default=None, validate=validators.OneOf(("active", "resolved")))


class MessageIn(Schema):
    body = fields.String(validate=validators.Length(max=10_000))
    template = fields.String(validate=validators.OneOf(("holding_statement", "update", "all_clear")))
    account_ids = fields.List(fields.Integer(validate=validators.Range(min=1, max=2**63 - 1)))


class MessageOut(Schema):
    id = fields.Integer(required=True)
    incident_id = fields.Integer(required=True)
    template = fields.String(allow_none=True, required=True)
    body = fields.String(required=True)
    account_ids = fields.List(fields.Integer(), required=True)
    state = fields.String(required=True)
    exercise = fields.Boolean(required=True)
    author = fields.String(required=True)
    approved_by = fields.String(allow_none=True, required=True)
    created_at = fields.String(required=True)
    approved_at = fields.String(allow_none=True, required=True)
    deliveries = fields.List(fields.Dict(), required=True)


class MessageItem(MessageOut):
    """MessageOut under its own name for lists."""


class MessageList(Schema):
    items = fields.List(fields.Nested(MessageItem), required=True)


class AckOut(Schema):
    incident_id = fields.Integer(required=True)
    user = fields.String(required=True)
    acknowledged_at = fields.String(required=True)


class HoldOut(Schema):
    account_id = fields.Integer(required=True)
    held = fields.Boolean(required=True)
    incidents = fields.List(fields.Integer(), required=True)
    since = fields.String(allow_none=True, required=True)
    held_posts = fields.Integer(required=True)
    scheduled_posts = fields.Integer(required=True)


class HoldItem(HoldOut):
    """HoldOut under its own name when nested (see AccountItem)."""


class MyAccount(AccountOut):
    hold = fields.Nested(HoldItem, required=True)


class MyAccounts(Schema):
    items = fields.List(fields.Nested(MyAccount), required=True)


class PlaybookOut(Schema):
    name = fields.String(required=True)
    title = fields.String(required=True)
    description = fields.String(required=True)
    exercise = fields.Boolean(required=True)
    scope = fields.String(required=True)
    tag = fields.String(allow_none=True, required=True)
    hold_central = fields.Boolean(required=True)
    named_account = fields.String(required=True)
    resume_policy = fields.String(required=True)
    require_rotation = fields.Boolean(required=True)
    templates = fields.Dict(required=True)
    notify = fields.Dict(required=True)


class PlaybookList(Schema):
    items = fields.List(fields.Nested(PlaybookOut), required=True)


class ReportQuery(StrictQuery):
    format = fields.String(load_default="json", validate=validators.OneOf(("json", "md")))


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
    known_by = fields.List(fields.Dict(), required=True)


class CredentialItem(CredentialMeta):
    """CredentialMeta under its own name for lists."""


class RotationList(Schema):
    items = fields.List(fields.Nested(CredentialItem), required=True)


class SessionIn(Schema):
    account_ids = fields.List(fields.Integer(validate=validators.Range(min=1, max=2**63 - 1)), required=True)
    justification = fields.String(required=True, validate=validators.Length(max=100_000))
    incident_id = fields.Integer(validate=validators.Range(min=1, max=2**63 - 1))
    minutes = fields.Integer(validate=validators.Range(min=1, max=240))


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
    account_id = fields.Integer(required=True, validate=validators.Range(min=1, max=2**63 - 1))


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
