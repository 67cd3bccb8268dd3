"""Shapes of the incident endpoints: declare, resolve, messages, hold status, playbooks, the report.
Rules live in the services, not here."""

from __future__ import annotations

from apiflask import Schema, fields, validators

from lockdown.api.account_schemas import AccountOut
from lockdown.api.media_schemas import MediaItem, media_ids
from lockdown.api.schemas import PageQuery, StrictQuery

# A message goes out through the central accounts, a handful; the cap keeps a body small.
MAX_MESSAGE_TARGETS = 50


class IncidentIn(Schema):
    title = fields.String(required=True, validate=validators.Length(max=200))
    reason = fields.String(required=True, validate=validators.Length(max=2000))
    playbook = fields.String(validate=validators.Length(max=64), metadata={"example": "live-incident"})
    account_id = fields.Integer(
        strict=True,
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
    account_ids = fields.List(
        fields.Integer(strict=True, validate=validators.Range(min=1, max=2**63 - 1)),
        validate=validators.Length(min=1, max=MAX_MESSAGE_TARGETS),
        metadata={"description": "central accounts to publish through (default: every one that may speak)"},
    )
    media_ids = media_ids("images or a video you uploaded (POST /api/v1/media), in the order they are shown")


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
    media = fields.List(fields.Nested(MediaItem), required=True)


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
    declare_from_cap = fields.Boolean(
        required=True, metadata={"description": "a CAP alert mapped here declares at once, unconfirmed"}
    )
    templates = fields.Dict(required=True)
    notify = fields.Dict(required=True)
    cap = fields.Dict(
        required=True,
        metadata={
            "description": "how its messages read as CAP 1.2 alerts: category, event, urgency, severity, certainty"
        },
    )


class PlaybookList(Schema):
    items = fields.List(fields.Nested(PlaybookOut), required=True)


class ReportQuery(StrictQuery):
    format = fields.String(load_default="json", validate=validators.OneOf(("json", "md")))


class WatchedAccountOut(Schema):
    account_id = fields.Integer(required=True)
    handle = fields.String(required=True)
    platform = fields.String(required=True)
    checks = fields.Integer(required=True, metadata={"description": "listings of its posts during the hold"})
    first_checked_at = fields.String(allow_none=True, required=True)
    last_checked_at = fields.String(allow_none=True, required=True)
    status = fields.String(
        required=True,
        metadata={"description": "unchecked, ok, failing (will be tried again) or unwatchable (reason says why)"},
    )
    reason = fields.String(allow_none=True, required=True)
    failures = fields.Integer(required=True)


class OutOfBandOut(Schema):
    id = fields.Integer(required=True)
    account_id = fields.Integer(required=True)
    handle = fields.String(required=True)
    platform = fields.String(required=True)
    remote_id = fields.String(required=True, metadata={"description": "the platform's id of the post"})
    url = fields.String(allow_none=True, required=True)
    text = fields.String(required=True)
    posted_at = fields.String(required=True)
    seen_at = fields.String(required=True)
    deleted_at = fields.String(allow_none=True, required=True)
    deleted_by = fields.String(allow_none=True, required=True)
    delete_error = fields.String(allow_none=True, required=True, metadata={"description": "the last refusal"})
    can_delete = fields.Boolean(required=True, metadata={"description": "whether the platform's API can delete it"})


class WatchOut(Schema):
    accounts = fields.List(fields.Nested(WatchedAccountOut), required=True)
    out_of_band = fields.List(fields.Nested(OutOfBandOut), required=True)


class OutOfBandDeletedOut(OutOfBandOut):
    """The post after the deletion (its own name: OutOfBandOut is nested in WatchOut)."""
