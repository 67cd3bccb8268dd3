"""Shapes of /healthz and /api/v1/me.
Rules live in the services, not here."""

from __future__ import annotations

from apiflask import Schema, fields, validators


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


class MailHealthOut(Schema):
    configured = fields.Boolean(
        required=True,
        metadata={
            "description": "Whether email notices have somewhere to go (LOCKDOWN_SMTP_URL or LOCKDOWN_MAIL_MBOX)."
        },
    )
    waiting = fields.Integer(
        required=True,
        metadata={
            "description": "Email notices the scheduler could not send because no mail is configured; they go "
            "out once it is. Does not make the service unhealthy: holds do not depend on mail."
        },
    )


class ReplicationHealthOut(Schema):
    replica = fields.String(required=True, metadata={"description": "LOCKDOWN_REPLICA_URL (any password hidden)."})
    state = fields.String(
        required=True,
        validate=validators.OneOf(["ok", "behind", "not running", "superseded", "failing"]),
        metadata={
            "description": "ok: the replica is within LOCKDOWN_REPLICA_MAX_LAG_SECONDS; behind: it is not; "
            "not running: `lockdown replicate` is not running here (the lag keeps growing); "
            "superseded: a standby was promoted from the replica, so this database no longer replicates nor "
            "dispatches; failing: replication stopped "
            "on an error (last_error)."
        },
    )
    behind = fields.Boolean(required=True, metadata={"description": "The state is anything but ok."})
    lag_seconds = fields.Float(
        allow_none=True,
        required=True,
        metadata={
            "description": "Seconds since the newest heartbeat the replica holds (read back from Litestream's own "
            "restore of it): everything committed before that is in the replica. None: replication never ran."
        },
    )
    max_lag_seconds = fields.Float(required=True)
    replica_heartbeat = fields.String(allow_none=True, required=True)
    checked_at = fields.String(allow_none=True, required=True)
    last_error = fields.String(allow_none=True, required=True)


class HealthOut(Schema):
    ok = fields.Boolean(required=True)
    database = fields.String(required=True)
    scheduler = fields.Nested(SchedulerHealthOut, required=True)
    mail = fields.Nested(MailHealthOut, required=True)
    replication = fields.Nested(
        ReplicationHealthOut,
        allow_none=True,
        required=True,
        metadata={
            "description": "Litestream replication (None when LOCKDOWN_REPLICA_URL is not set). A replica that is "
            "behind does not make the answer 503: holds do not depend on it."
        },
    )
