"""Schema changes as named migrations, applied in order at start."""

from __future__ import annotations

import json

from sqlite_utils import Database
from sqlite_utils.migrations import Migrations

migrations = Migrations("lockdown")


@migrations()
def m001_users(db: Database) -> None:
    """People and their API tokens (hashed) and roles."""
    db.executescript(
        """
        CREATE TABLE users (
            id INTEGER PRIMARY KEY,
            name TEXT NOT NULL,
            email TEXT NOT NULL UNIQUE COLLATE NOCASE,
            token_hash TEXT NOT NULL UNIQUE,
            created_at TEXT NOT NULL,
            disabled_at TEXT
        );
        CREATE TABLE user_roles (
            user_id INTEGER NOT NULL REFERENCES users(id),
            role TEXT NOT NULL CHECK (role IN ('ermc', 'press', 'manager')),
            PRIMARY KEY (user_id, role)
        ) WITHOUT ROWID;
        """
    )


@migrations()
def m002_accounts(db: Database) -> None:
    """The register of corporate accounts (policy 2.2.1-2.2.2)."""
    db.executescript(
        """
        CREATE TABLE accounts (
            id INTEGER PRIMARY KEY,
            handle TEXT NOT NULL,
            handle_key TEXT NOT NULL,
            platform TEXT NOT NULL,
            unit TEXT NOT NULL,
            purpose TEXT NOT NULL,
            monitored_hours TEXT NOT NULL,
            manager_id INTEGER NOT NULL REFERENCES users(id),
            central INTEGER NOT NULL DEFAULT 0 CHECK (central IN (0, 1)),
            connector TEXT NOT NULL DEFAULT '{"kind": "outbox"}',
            naming_exception TEXT,
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL,
            archived_at TEXT
        );
        -- An archived account frees its handle for a new registration.
        CREATE UNIQUE INDEX accounts_handle_platform
            ON accounts(handle_key, platform) WHERE archived_at IS NULL;
        CREATE INDEX accounts_manager ON accounts(manager_id);
        CREATE INDEX accounts_platform ON accounts(platform, id);
        CREATE TABLE account_editors (
            account_id INTEGER NOT NULL REFERENCES accounts(id),
            user_id INTEGER NOT NULL REFERENCES users(id),
            PRIMARY KEY (account_id, user_id)
        ) WITHOUT ROWID;
        CREATE INDEX account_editors_user ON account_editors(user_id);
        """
    )


@migrations()
def m003_audit_log(db: Database) -> None:
    """The hash-chained audit trail; triggers refuse edits so only a deliberate attack can."""
    db.executescript(
        """
        CREATE TABLE audit_log (
            seq INTEGER PRIMARY KEY,
            at TEXT NOT NULL,
            actor TEXT NOT NULL,
            action TEXT NOT NULL,
            subject TEXT NOT NULL,
            details TEXT NOT NULL,
            prev_hash TEXT NOT NULL,
            hash TEXT NOT NULL
        );
        CREATE INDEX audit_log_subject ON audit_log(subject, seq);
        CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
            BEGIN SELECT RAISE(ABORT, 'the audit trail is append-only'); END;
        CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
            BEGIN SELECT RAISE(ABORT, 'the audit trail is append-only'); END;
        """
    )


@migrations()
def m004_posts(db: Database) -> None:
    """Scheduled posts. ``due_at`` is when the dispatcher next tries: the scheduled time, or a
    retry's backoff. ``claimed_by`` names the dispatcher that set ``publishing``."""
    db.executescript(
        """
        CREATE TABLE posts (
            id INTEGER PRIMARY KEY,
            account_id INTEGER NOT NULL REFERENCES accounts(id),
            body TEXT NOT NULL,
            scheduled_at TEXT NOT NULL,
            due_at TEXT NOT NULL,
            state TEXT NOT NULL CHECK (state IN ('pending_review', 'scheduled', 'publishing',
                'published', 'failed', 'cancelled', 'needs_review', 'unknown')),
            author_id INTEGER NOT NULL REFERENCES users(id),
            approved_by INTEGER REFERENCES users(id),
            approved_at TEXT,
            batch_id TEXT,
            idempotency_key TEXT NOT NULL UNIQUE,
            attempts INTEGER NOT NULL DEFAULT 0,
            claimed_by TEXT,
            dispatched_at TEXT,
            published_at TEXT,
            remote_id TEXT,
            error TEXT,
            progress TEXT NOT NULL DEFAULT '{}',
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL
        );
        CREATE INDEX posts_due ON posts(due_at, id) WHERE state = 'scheduled';
        CREATE INDEX posts_publishing ON posts(claimed_by) WHERE state = 'publishing';
        CREATE INDEX posts_account ON posts(account_id, id);
        CREATE INDEX posts_state ON posts(state, id);
        CREATE INDEX posts_batch ON posts(batch_id) WHERE batch_id IS NOT NULL;
        """
    )


@migrations()
def m005_dispatchers(db: Database) -> None:
    """Running dispatchers and their heartbeats: a claim whose dispatcher stopped beating is
    from a crashed process, and its posts become ``unknown``."""
    db.executescript(
        """
        CREATE TABLE dispatchers (
            id TEXT PRIMARY KEY,
            host TEXT NOT NULL,
            pid INTEGER NOT NULL,
            started_at TEXT NOT NULL,
            last_tick_at TEXT,
            heartbeat_at TEXT NOT NULL
        );
        """
    )


@migrations()
def m006_connector_secrets(db: Database) -> None:
    """Connector tokens, encrypted (lockdown.crypto); the key never sits in the database."""
    db.executescript(
        """
        CREATE TABLE connector_secrets (
            account_id INTEGER NOT NULL REFERENCES accounts(id),
            name TEXT NOT NULL,
            ciphertext TEXT NOT NULL,
            updated_at TEXT NOT NULL,
            PRIMARY KEY (account_id, name)
        ) WITHOUT ROWID;
        """
    )


@migrations()
def m007_incidents(db: Database) -> None:
    """Incidents and what they hold. A hold is a rule, not a row per account or post: the view
    ``account_holds`` says which active incident holds which account, so declaring costs the
    same however many posts are scheduled, and an account registered mid-incident is held too."""
    db.executescript(
        """
        ALTER TABLE accounts ADD COLUMN tags TEXT NOT NULL DEFAULT '[]';
        CREATE TABLE incidents (
            id INTEGER PRIMARY KEY,
            title TEXT NOT NULL,
            playbook TEXT NOT NULL,
            reason TEXT NOT NULL,
            status TEXT NOT NULL CHECK (status IN ('active', 'resolved')),
            exercise INTEGER NOT NULL DEFAULT 0,
            scope TEXT NOT NULL CHECK (scope IN ('all', 'tagged', 'named')),
            scope_tag TEXT,
            named_account_id INTEGER REFERENCES accounts(id),
            hold_central INTEGER NOT NULL,
            resume_policy TEXT NOT NULL,
            declared_by INTEGER NOT NULL REFERENCES users(id),
            declared_at TEXT NOT NULL,
            resolved_by INTEGER REFERENCES users(id),
            resolved_at TEXT,
            resolution TEXT
        );
        CREATE INDEX incidents_active ON incidents(id) WHERE status = 'active';
        CREATE VIEW account_holds AS
            SELECT a.id AS account_id, i.id AS incident_id, i.declared_at AS since
            FROM incidents i JOIN accounts a
              ON a.id = i.named_account_id
              OR (i.scope = 'all' AND (a.central = 0 OR i.hold_central = 1))
              OR (i.scope = 'tagged' AND EXISTS
                    (SELECT 1 FROM json_each(a.tags) t WHERE t.value = i.scope_tag)
                  AND (a.central = 0 OR i.hold_central = 1))
            WHERE i.status = 'active';
        CREATE TABLE incident_events (
            id INTEGER PRIMARY KEY,
            incident_id INTEGER NOT NULL REFERENCES incidents(id),
            at TEXT NOT NULL,
            kind TEXT NOT NULL,
            actor TEXT NOT NULL,
            details TEXT NOT NULL DEFAULT '{}'
        );
        CREATE INDEX incident_events_incident ON incident_events(incident_id, id);
        CREATE TABLE incident_in_flight (
            incident_id INTEGER NOT NULL REFERENCES incidents(id),
            post_id INTEGER NOT NULL REFERENCES posts(id),
            PRIMARY KEY (incident_id, post_id)
        ) WITHOUT ROWID;
        CREATE TABLE incident_messages (
            id INTEGER PRIMARY KEY,
            incident_id INTEGER NOT NULL REFERENCES incidents(id),
            template TEXT,
            body TEXT NOT NULL,
            account_ids TEXT NOT NULL,
            state TEXT NOT NULL CHECK (state IN ('draft', 'approved', 'delivered',
                'partly_delivered', 'failed')),
            exercise INTEGER NOT NULL DEFAULT 0,
            author_id INTEGER NOT NULL REFERENCES users(id),
            approved_by INTEGER REFERENCES users(id),
            created_at TEXT NOT NULL,
            approved_at TEXT
        );
        CREATE TABLE message_deliveries (
            id INTEGER PRIMARY KEY,
            message_id INTEGER NOT NULL REFERENCES incident_messages(id),
            account_id INTEGER NOT NULL REFERENCES accounts(id),
            state TEXT NOT NULL CHECK (state IN ('sending', 'delivered', 'failed', 'unknown')),
            remote_id TEXT,
            error TEXT,
            started_at TEXT NOT NULL,
            finished_at TEXT,
            UNIQUE (message_id, account_id)
        );
        CREATE TABLE notifications (
            id INTEGER PRIMARY KEY,
            incident_id INTEGER NOT NULL REFERENCES incidents(id),
            event TEXT NOT NULL CHECK (event IN ('declared', 'resolved')),
            channel TEXT NOT NULL CHECK (channel IN ('email', 'webhook')),
            user_id INTEGER REFERENCES users(id),
            recipient TEXT NOT NULL,
            subject TEXT NOT NULL,
            body TEXT NOT NULL,
            state TEXT NOT NULL CHECK (state IN ('pending', 'sent', 'failed')),
            attempts INTEGER NOT NULL DEFAULT 0,
            next_attempt_at TEXT NOT NULL,
            sent_at TEXT,
            error TEXT,
            created_at TEXT NOT NULL
        );
        CREATE INDEX notifications_due ON notifications(next_attempt_at) WHERE state = 'pending';
        CREATE TABLE acknowledgements (
            incident_id INTEGER NOT NULL REFERENCES incidents(id),
            user_id INTEGER NOT NULL REFERENCES users(id),
            at TEXT NOT NULL,
            PRIMARY KEY (incident_id, user_id)
        ) WITHOUT ROWID;
        CREATE TABLE native_schedules (
            id INTEGER PRIMARY KEY,
            incident_id INTEGER NOT NULL REFERENCES incidents(id),
            account_id INTEGER NOT NULL REFERENCES accounts(id),
            remote_id TEXT,
            original_at TEXT,
            content TEXT NOT NULL DEFAULT '{}',
            state TEXT NOT NULL CHECK (state IN ('to_withdraw', 'withdrawn', 'to_restore',
                'restored', 'listing', 'to_list', 'failed')),
            attempts INTEGER NOT NULL DEFAULT 0,
            next_attempt_at TEXT NOT NULL,
            error TEXT
        );
        CREATE INDEX native_schedules_due ON native_schedules(next_attempt_at)
            WHERE state IN ('to_list', 'to_withdraw', 'to_restore');
        """
    )


@migrations()
def m008_sending_mark(db: Database) -> None:
    """When the dispatcher committed to calling the platform for a post: the last write before
    the call, ordered against declarations by SQLite's single writer."""
    db.execute("ALTER TABLE posts ADD COLUMN sending_at TEXT")


@migrations()
def m009_incident_scope(db: Database) -> None:
    """Which accounts an incident covers, active or not (its report needs it after the
    all-clear); ``account_holds`` is that view narrowed to active incidents."""
    db.executescript(
        """
        DROP VIEW account_holds;
        CREATE VIEW incident_scope AS
            SELECT a.id AS account_id, i.id AS incident_id, i.declared_at AS since, i.status AS status
            FROM incidents i JOIN accounts a
              ON a.id = i.named_account_id
              OR (i.scope = 'all' AND (a.central = 0 OR i.hold_central = 1))
              OR (i.scope = 'tagged' AND EXISTS
                    (SELECT 1 FROM json_each(a.tags) t WHERE t.value = i.scope_tag)
                  AND (a.central = 0 OR i.hold_central = 1));
        CREATE VIEW account_holds AS
            SELECT account_id, incident_id, since FROM incident_scope WHERE status = 'active';
        """
    )


@migrations()
def m010_remote_deletion(db: Database) -> None:
    """When a published post was deleted from its platform (e.g. one in flight at a declaration)."""
    db.execute("ALTER TABLE posts ADD COLUMN remote_deleted_at TEXT")


@migrations()
def m011_vault(db: Database) -> None:
    """Shared account passwords (encrypted, one row per version), who knows each version,
    out-of-hours access sessions, reveals, takeovers and rotation requirements (policy 2.2.5).
    Notices may now be about a reveal or a rotation, not only an incident."""
    db.executescript(
        """
        CREATE TABLE credentials (
            id INTEGER PRIMARY KEY,
            account_id INTEGER NOT NULL REFERENCES accounts(id),
            version INTEGER NOT NULL,
            username TEXT NOT NULL,
            password TEXT NOT NULL,
            totp_secret TEXT,
            notes TEXT,
            deposited_by INTEGER NOT NULL REFERENCES users(id),
            deposited_at TEXT NOT NULL,
            reason TEXT,
            UNIQUE (account_id, version)
        );
        CREATE TABLE credential_knowers (
            account_id INTEGER NOT NULL REFERENCES accounts(id),
            version INTEGER NOT NULL,
            user_id INTEGER NOT NULL REFERENCES users(id),
            how TEXT NOT NULL,
            at TEXT NOT NULL,
            PRIMARY KEY (account_id, version, user_id, how)
        ) WITHOUT ROWID;
        CREATE INDEX credential_knowers_user ON credential_knowers(user_id);
        CREATE TABLE rotation_requirements (
            id INTEGER PRIMARY KEY,
            account_id INTEGER NOT NULL REFERENCES accounts(id),
            version INTEGER NOT NULL,
            reason TEXT NOT NULL,
            detail TEXT NOT NULL DEFAULT '{}',
            created_at TEXT NOT NULL,
            cleared_at TEXT
        );
        CREATE INDEX rotation_requirements_open ON rotation_requirements(account_id) WHERE cleared_at IS NULL;
        CREATE TABLE access_sessions (
            id INTEGER PRIMARY KEY,
            user_id INTEGER NOT NULL REFERENCES users(id),
            justification TEXT NOT NULL,
            grounds TEXT NOT NULL,
            incident_id INTEGER REFERENCES incidents(id),
            account_ids TEXT NOT NULL,
            opened_at TEXT NOT NULL,
            expires_at TEXT NOT NULL,
            closed_at TEXT,
            close_reason TEXT
        );
        CREATE TABLE reveals (
            id INTEGER PRIMARY KEY,
            session_id INTEGER NOT NULL REFERENCES access_sessions(id),
            account_id INTEGER NOT NULL REFERENCES accounts(id),
            version INTEGER NOT NULL,
            user_id INTEGER NOT NULL REFERENCES users(id),
            at TEXT NOT NULL
        );
        CREATE TABLE takeovers (
            id INTEGER PRIMARY KEY,
            account_id INTEGER NOT NULL REFERENCES accounts(id),
            who TEXT NOT NULL,
            starts_at TEXT NOT NULL,
            ends_at TEXT NOT NULL,
            created_by INTEGER NOT NULL REFERENCES users(id),
            ended_at TEXT
        );
        CREATE TABLE rotation_reminders (
            account_id INTEGER NOT NULL REFERENCES accounts(id),
            version INTEGER NOT NULL,
            sent_at TEXT NOT NULL,
            PRIMARY KEY (account_id, version)
        ) WITHOUT ROWID;
        CREATE TABLE notifications_new (
            id INTEGER PRIMARY KEY,
            incident_id INTEGER REFERENCES incidents(id),
            event TEXT NOT NULL CHECK (event IN ('declared', 'resolved', 'revealed', 'rotation_due',
                'rotation_summary')),
            channel TEXT NOT NULL CHECK (channel IN ('email', 'webhook')),
            user_id INTEGER REFERENCES users(id),
            recipient TEXT NOT NULL,
            subject TEXT NOT NULL,
            body TEXT NOT NULL,
            state TEXT NOT NULL CHECK (state IN ('pending', 'sent', 'failed')),
            attempts INTEGER NOT NULL DEFAULT 0,
            next_attempt_at TEXT NOT NULL,
            sent_at TEXT,
            error TEXT,
            created_at TEXT NOT NULL
        );
        INSERT INTO notifications_new SELECT * FROM notifications;
        DROP TABLE notifications;
        ALTER TABLE notifications_new RENAME TO notifications;
        CREATE INDEX notifications_due ON notifications(next_attempt_at) WHERE state = 'pending';
        """
    )


@migrations()
def m012_sign_in(db: Database) -> None:
    """Console sign-in: an argon2 password hash, an encrypted TOTP seed with the last step used
    (a code is accepted once), and attempts kept for rate limiting."""
    db.executescript(
        """
        ALTER TABLE users ADD COLUMN password_hash TEXT;
        ALTER TABLE users ADD COLUMN totp_secret TEXT;
        ALTER TABLE users ADD COLUMN totp_last_step INTEGER;
        CREATE TABLE sign_in_attempts (
            id INTEGER PRIMARY KEY,
            email TEXT NOT NULL COLLATE NOCASE,
            address TEXT NOT NULL,
            at TEXT NOT NULL,
            ok INTEGER NOT NULL
        );
        CREATE INDEX sign_in_attempts_email ON sign_in_attempts(email, at);
        CREATE INDEX sign_in_attempts_address ON sign_in_attempts(address, at);
        """
    )


@migrations()
def m013_posts_by_account(db: Database) -> None:
    """An account's posts by state and time: the hold status a manager reads counts them, and
    without it SQLite scanned every scheduled post of every account (16 ms at 100,000 posts)."""
    db.execute("CREATE INDEX posts_account_state ON posts(account_id, state, due_at)")


@migrations()
def m014_connector_failures(db: Database) -> None:
    """One row per failed connector call, written in the dispatcher's failure transaction, so
    /metrics counts failures correctly whichever process sent (lockdown.ops.metrics)."""
    db.executescript(
        """
        CREATE TABLE connector_failures (
            id INTEGER PRIMARY KEY,
            at TEXT NOT NULL,
            post_id INTEGER REFERENCES posts(id),
            account_id INTEGER NOT NULL REFERENCES accounts(id),
            platform TEXT NOT NULL,
            connector TEXT NOT NULL,
            kind TEXT NOT NULL CHECK (kind IN ('permanent', 'transient', 'ambiguous'))
        );
        -- Covers the scrape's GROUP BY, so counting never reads the table itself.
        CREATE INDEX connector_failures_kind ON connector_failures(kind, platform);
        """
    )


@migrations()
def m015_posts_published(db: Database) -> None:
    """Posts by state and publishing time: /metrics reads the last hour's dispatch lateness
    without walking every post ever published."""
    db.execute("CREATE INDEX posts_published ON posts(state, published_at)")


@migrations()
def m016_posts_last_changed_by(db: Database) -> None:
    """Whoever last changed a post's body or time is one of its authors for review (policy 2.2.3),
    as its first author is; posts so far were last changed by their authors."""
    db.execute("ALTER TABLE posts ADD COLUMN last_changed_by INTEGER REFERENCES users(id)")
    db.execute("UPDATE posts SET last_changed_by = author_id")


@migrations()
def m017_message_send_mark(db: Database) -> None:
    """When each incident message delivery was about to call its platform: set only while the
    account could still speak, as a post's sending mark is set only while it is not held."""
    db.execute("ALTER TABLE message_deliveries ADD COLUMN sending_at TEXT")


@migrations()
def m018_vault_totp_seed_bits(db: Database) -> None:
    """The length of each deposited TOTP seed, so the metadata can say a seed is short without
    decrypting it. Seeds deposited before have none recorded: they were all at least 112 bits."""
    db.execute("ALTER TABLE credentials ADD COLUMN totp_seed_bits INTEGER")


@migrations()
def m019_signin_sessions(db: Database) -> None:
    """Console sessions kept by the server (only a hash of each cookie's token), so signing out,
    a password change or disabling ends them at once; and attempts by email and address together,
    which the sign-in limits count."""
    db.executescript(
        """
        CREATE TABLE console_sessions (
            token_hash TEXT PRIMARY KEY,
            user_id INTEGER NOT NULL REFERENCES users(id),
            address TEXT NOT NULL,
            created_at TEXT NOT NULL,
            expires_at TEXT NOT NULL,
            ended_at TEXT,
            ended_why TEXT
        ) WITHOUT ROWID;
        CREATE INDEX console_sessions_open ON console_sessions(user_id) WHERE ended_at IS NULL;
        CREATE INDEX sign_in_attempts_email_address ON sign_in_attempts(email, address, at);
        """
    )


@migrations()
def m020_outbound_post_errors(db: Database) -> None:
    """A failed platform call's kind and HTTP status beside its message: whoever has no rights
    on the account is shown these, never the platform's own words (#12)."""
    db.executescript(
        """
        ALTER TABLE posts ADD COLUMN error_code TEXT;
        ALTER TABLE posts ADD COLUMN error_status INTEGER;
        """
    )


@migrations()
def m021_outbound_secret_binding(db: Database) -> None:
    """Each connector secret records the connector kind and host it was deposited for (#12):
    it is only ever used, and only decrypts, for those. Rows sealed before carry the account's
    destination at this upgrade and ``bound = 0`` (their associated data lacks kind and host
    until ``lockdown vault rotate-key`` seals them again). Managers are told by a new notice
    when a change of kind or host drops their secrets."""
    from connectors.registry import destination  # the connectors' own rule for their host

    db.executescript(
        """
        ALTER TABLE connector_secrets ADD COLUMN kind TEXT;
        ALTER TABLE connector_secrets ADD COLUMN host TEXT;
        ALTER TABLE connector_secrets ADD COLUMN bound INTEGER NOT NULL DEFAULT 0;
        """
    )
    accounts = db.conn.execute(
        "SELECT id, connector FROM accounts WHERE id IN (SELECT account_id FROM connector_secrets)"
    ).fetchall()
    for account_id, connector in accounts:
        try:
            kind, host = destination(json.loads(connector))
        except (ValueError, TypeError, AttributeError):
            kind, host = "", ""
        db.conn.execute(
            "UPDATE connector_secrets SET kind = ?, host = ? WHERE account_id = ?", [kind, host, account_id]
        )
    db.executescript(
        """
        CREATE TABLE notifications_new (
            id INTEGER PRIMARY KEY,
            incident_id INTEGER REFERENCES incidents(id),
            event TEXT NOT NULL CHECK (event IN ('declared', 'resolved', 'revealed', 'rotation_due',
                'rotation_summary', 'connector_secrets_dropped')),
            channel TEXT NOT NULL CHECK (channel IN ('email', 'webhook')),
            user_id INTEGER REFERENCES users(id),
            recipient TEXT NOT NULL,
            subject TEXT NOT NULL,
            body TEXT NOT NULL,
            state TEXT NOT NULL CHECK (state IN ('pending', 'sent', 'failed')),
            attempts INTEGER NOT NULL DEFAULT 0,
            next_attempt_at TEXT NOT NULL,
            sent_at TEXT,
            error TEXT,
            created_at TEXT NOT NULL
        );
        INSERT INTO notifications_new SELECT * FROM notifications;
        DROP TABLE notifications;
        ALTER TABLE notifications_new RENAME TO notifications;
        CREATE INDEX notifications_due ON notifications(next_attempt_at) WHERE state = 'pending';
        """
    )


@migrations()
def m022_account_readiness(db: Database) -> None:
    """Each account's readiness (#13): the last check's outcome, since when it has been so, who
    the platform says the credentials act as, and when the next check is due (spread out). A
    row appears when an account is first due; ``running_since`` marks a check under way, so a
    second is refused. Notices tell managers and the press team when an account stops (or
    starts again) being ready."""
    db.executescript(
        """
        CREATE TABLE account_readiness (
            account_id INTEGER PRIMARY KEY REFERENCES accounts(id),
            state TEXT NOT NULL DEFAULT 'unchecked' CHECK (state IN ('unchecked', 'ready', 'failing')),
            reason TEXT,
            error_code TEXT CHECK (error_code IN ('permanent', 'transient')),
            error_status INTEGER,
            failures INTEGER NOT NULL DEFAULT 0,
            notified INTEGER NOT NULL DEFAULT 0 CHECK (notified IN (0, 1)),
            checked_at TEXT,
            since TEXT,
            remote_account TEXT,
            scopes TEXT NOT NULL DEFAULT '[]',
            expires_at TEXT,
            running_since TEXT,
            running_by TEXT,
            next_check_at TEXT NOT NULL
        );
        CREATE INDEX account_readiness_due ON account_readiness(next_check_at);
        CREATE TABLE notifications_new (
            id INTEGER PRIMARY KEY,
            incident_id INTEGER REFERENCES incidents(id),
            event TEXT NOT NULL CHECK (event IN ('declared', 'resolved', 'revealed', 'rotation_due',
                'rotation_summary', 'connector_secrets_dropped', 'readiness_failing', 'readiness_ready')),
            channel TEXT NOT NULL CHECK (channel IN ('email', 'webhook')),
            user_id INTEGER REFERENCES users(id),
            recipient TEXT NOT NULL,
            subject TEXT NOT NULL,
            body TEXT NOT NULL,
            state TEXT NOT NULL CHECK (state IN ('pending', 'sent', 'failed')),
            attempts INTEGER NOT NULL DEFAULT 0,
            next_attempt_at TEXT NOT NULL,
            sent_at TEXT,
            error TEXT,
            created_at TEXT NOT NULL
        );
        INSERT INTO notifications_new SELECT * FROM notifications;
        DROP TABLE notifications;
        ALTER TABLE notifications_new RENAME TO notifications;
        CREATE INDEX notifications_due ON notifications(next_attempt_at) WHERE state = 'pending';
        """
    )


@migrations()
def m023_approval_requests(db: Database) -> None:
    """Asking for an incident message's approval (#14): a notice to every other press officer,
    repeated until someone approves. ``message_id`` ties a notice to its message; the partial
    unique index lets each officer (and the webhook) have one unsent request per message at a
    time, so a slow mail server cannot pile reminders up behind one another."""
    db.executescript(
        """
        CREATE TABLE notifications_new (
            id INTEGER PRIMARY KEY,
            incident_id INTEGER REFERENCES incidents(id),
            event TEXT NOT NULL CHECK (event IN ('declared', 'resolved', 'revealed', 'rotation_due',
                'rotation_summary', 'connector_secrets_dropped', 'readiness_failing', 'readiness_ready',
                'approval_requested')),
            channel TEXT NOT NULL CHECK (channel IN ('email', 'webhook')),
            user_id INTEGER REFERENCES users(id),
            recipient TEXT NOT NULL,
            subject TEXT NOT NULL,
            body TEXT NOT NULL,
            state TEXT NOT NULL CHECK (state IN ('pending', 'sent', 'failed')),
            attempts INTEGER NOT NULL DEFAULT 0,
            next_attempt_at TEXT NOT NULL,
            sent_at TEXT,
            error TEXT,
            created_at TEXT NOT NULL,
            message_id INTEGER REFERENCES incident_messages(id)
        );
        INSERT INTO notifications_new (id, incident_id, event, channel, user_id, recipient, subject,
            body, state, attempts, next_attempt_at, sent_at, error, created_at)
            SELECT id, incident_id, event, channel, user_id, recipient, subject, body, state,
            attempts, next_attempt_at, sent_at, error, created_at FROM notifications;
        DROP TABLE notifications;
        ALTER TABLE notifications_new RENAME TO notifications;
        CREATE INDEX notifications_due ON notifications(next_attempt_at) WHERE state = 'pending';
        CREATE UNIQUE INDEX notifications_one_approval_request
            ON notifications(message_id, channel, COALESCE(user_id, 0))
            WHERE event = 'approval_requested' AND state = 'pending';
        CREATE INDEX notifications_by_message ON notifications(message_id) WHERE message_id IS NOT NULL;
        """
    )


@migrations()
def m024_platform_watch(db: Database) -> None:
    """The watch of the platforms themselves (#15): per account when it was last listed and how
    that went (``account_watch``, also the claim that keeps one listing of an account at a time),
    per incident and held account how many times its platform was looked at during the hold
    (``incident_watch``, the report's second side), and every post the platform showed that
    Lockdown did not send (``out_of_band_posts``, once per account and platform id). Notices gain
    the ``out_of_band_post`` event."""
    db.executescript(
        """
        CREATE TABLE account_watch (
            account_id INTEGER PRIMARY KEY REFERENCES accounts(id),
            status TEXT NOT NULL DEFAULT 'unchecked'
                CHECK (status IN ('unchecked', 'ok', 'failing', 'unwatchable')),
            reason TEXT,
            checks INTEGER NOT NULL DEFAULT 0,
            last_checked_at TEXT,
            next_check_at TEXT,
            running_since TEXT,
            running_by TEXT
        );
        CREATE TABLE incident_watch (
            incident_id INTEGER NOT NULL REFERENCES incidents(id),
            account_id INTEGER NOT NULL REFERENCES accounts(id),
            status TEXT NOT NULL CHECK (status IN ('ok', 'failing', 'unwatchable')),
            reason TEXT,
            checks INTEGER NOT NULL DEFAULT 0,
            failures INTEGER NOT NULL DEFAULT 0,
            first_checked_at TEXT NOT NULL,
            last_checked_at TEXT NOT NULL,
            PRIMARY KEY (incident_id, account_id)
        );
        CREATE TABLE out_of_band_posts (
            id INTEGER PRIMARY KEY,
            account_id INTEGER NOT NULL REFERENCES accounts(id),
            incident_id INTEGER REFERENCES incidents(id),
            remote_id TEXT NOT NULL,
            url TEXT,
            text TEXT NOT NULL,
            posted_at TEXT NOT NULL,
            seen_at TEXT NOT NULL,
            deleted_at TEXT,
            deleted_by TEXT,
            delete_error TEXT,
            escalated_at TEXT,
            UNIQUE (account_id, remote_id)
        );
        CREATE INDEX out_of_band_by_incident ON out_of_band_posts(incident_id);
        CREATE INDEX out_of_band_to_escalate ON out_of_band_posts(id)
            WHERE incident_id IS NULL AND escalated_at IS NULL;
        CREATE INDEX posts_by_remote_id ON posts(account_id, remote_id) WHERE remote_id IS NOT NULL;
        CREATE INDEX deliveries_by_remote_id ON message_deliveries(account_id, remote_id)
            WHERE remote_id IS NOT NULL;
        CREATE TABLE notifications_new (
            id INTEGER PRIMARY KEY,
            incident_id INTEGER REFERENCES incidents(id),
            event TEXT NOT NULL CHECK (event IN ('declared', 'resolved', 'revealed', 'rotation_due',
                'rotation_summary', 'connector_secrets_dropped', 'readiness_failing', 'readiness_ready',
                'approval_requested', 'out_of_band_post')),
            channel TEXT NOT NULL CHECK (channel IN ('email', 'webhook')),
            user_id INTEGER REFERENCES users(id),
            recipient TEXT NOT NULL,
            subject TEXT NOT NULL,
            body TEXT NOT NULL,
            state TEXT NOT NULL CHECK (state IN ('pending', 'sent', 'failed')),
            attempts INTEGER NOT NULL DEFAULT 0,
            next_attempt_at TEXT NOT NULL,
            sent_at TEXT,
            error TEXT,
            created_at TEXT NOT NULL,
            message_id INTEGER REFERENCES incident_messages(id)
        );
        INSERT INTO notifications_new SELECT * FROM notifications;
        DROP TABLE notifications;
        ALTER TABLE notifications_new RENAME TO notifications;
        CREATE INDEX notifications_due ON notifications(next_attempt_at) WHERE state = 'pending';
        CREATE UNIQUE INDEX notifications_one_approval_request
            ON notifications(message_id, channel, COALESCE(user_id, 0))
            WHERE event = 'approval_requested' AND state = 'pending';
        CREATE INDEX notifications_by_message ON notifications(message_id) WHERE message_id IS NOT NULL;
        """
    )


@migrations()
def m025_escalations(db: Database) -> None:
    """Escalations to ERMC (policy 2.2.6, #15): a report names one registered account or one
    address elsewhere, never both; it is open until press declares from it (``closed_as``
    'declared', with the incident) or ERMC closes it with a reason ('dismissed'). Closed ones are
    deleted after the retention period, so ``closed_at`` is indexed. A filed report tells ERMC by
    email, so the outbox admits the event ``escalation_filed``. The rebuild keeps
    every event m024 (the watch) admits."""
    db.executescript(
        """
        CREATE TABLE escalations (
            id INTEGER PRIMARY KEY,
            kind TEXT NOT NULL CHECK (kind IN ('hacked', 'hostile_comments', 'policy_breach',
                'welfare_concern', 'other')),
            account_id INTEGER REFERENCES accounts(id),
            url TEXT,
            details TEXT NOT NULL,
            reporter_id INTEGER REFERENCES users(id),
            reporter TEXT NOT NULL,
            state TEXT NOT NULL CHECK (state IN ('open', 'closed')),
            closed_as TEXT CHECK (closed_as IN ('declared', 'dismissed')),
            close_reason TEXT,
            closed_by INTEGER REFERENCES users(id),
            closed_at TEXT,
            incident_id INTEGER REFERENCES incidents(id),
            filed_at TEXT NOT NULL,
            CHECK ((account_id IS NULL) <> (url IS NULL)),
            CHECK ((state = 'open') = (closed_at IS NULL))
        );
        CREATE INDEX escalations_by_state ON escalations(state, id);
        CREATE INDEX escalations_by_reporter ON escalations(reporter_id, id) WHERE reporter_id IS NOT NULL;
        CREATE INDEX escalations_closed ON escalations(closed_at) WHERE state = 'closed';
        CREATE UNIQUE INDEX escalations_one_per_incident ON escalations(incident_id) WHERE incident_id IS NOT NULL;
        CREATE TABLE notifications_new (
            id INTEGER PRIMARY KEY,
            incident_id INTEGER REFERENCES incidents(id),
            event TEXT NOT NULL CHECK (event IN ('declared', 'resolved', 'revealed', 'rotation_due',
                'rotation_summary', 'connector_secrets_dropped', 'readiness_failing', 'readiness_ready',
                'approval_requested', 'out_of_band_post', 'escalation_filed')),
            channel TEXT NOT NULL CHECK (channel IN ('email', 'webhook')),
            user_id INTEGER REFERENCES users(id),
            recipient TEXT NOT NULL,
            subject TEXT NOT NULL,
            body TEXT NOT NULL,
            state TEXT NOT NULL CHECK (state IN ('pending', 'sent', 'failed')),
            attempts INTEGER NOT NULL DEFAULT 0,
            next_attempt_at TEXT NOT NULL,
            sent_at TEXT,
            error TEXT,
            created_at TEXT NOT NULL,
            message_id INTEGER REFERENCES incident_messages(id)
        );
        INSERT INTO notifications_new SELECT * FROM notifications;
        DROP TABLE notifications;
        ALTER TABLE notifications_new RENAME TO notifications;
        CREATE INDEX notifications_due ON notifications(next_attempt_at) WHERE state = 'pending';
        CREATE UNIQUE INDEX notifications_one_approval_request
            ON notifications(message_id, channel, COALESCE(user_id, 0))
            WHERE event = 'approval_requested' AND state = 'pending';
        CREATE INDEX notifications_by_message ON notifications(message_id) WHERE message_id IS NOT NULL;
        """
    )


@migrations()
def m026_media(db: Database) -> None:
    """Media on posts and incident messages (#16). One row per upload: the file is stored
    content-addressed (``sha256``; two uploads of one photo share the file, not the alt text),
    with what the accessibility rule (policy 2.2.4) asks of it. ``post_media`` and
    ``message_media`` keep the order in which a post shows them. A medium no post or message
    names is removed after a grace period (``media_unreferenced``)."""
    db.executescript(
        """
        CREATE TABLE media (
            id INTEGER PRIMARY KEY,
            sha256 TEXT NOT NULL,
            kind TEXT NOT NULL CHECK (kind IN ('image', 'video')),
            mime TEXT NOT NULL,
            extension TEXT NOT NULL,
            bytes INTEGER NOT NULL,
            width INTEGER NOT NULL,
            height INTEGER NOT NULL,
            duration REAL,
            frames INTEGER NOT NULL DEFAULT 1,
            alt_text TEXT NOT NULL DEFAULT '',
            captions_vtt TEXT,
            captions_srt TEXT,
            captions_lang TEXT,
            live INTEGER NOT NULL DEFAULT 0,
            transcript_contact TEXT,
            uploaded_by INTEGER NOT NULL REFERENCES users(id),
            created_at TEXT NOT NULL,
            CHECK (kind = 'image' OR captions_vtt IS NOT NULL OR (live = 1 AND transcript_contact IS NOT NULL))
        );
        CREATE INDEX media_by_sha ON media(sha256);
        CREATE INDEX media_by_uploader ON media(uploaded_by, id);
        CREATE TABLE post_media (
            post_id INTEGER NOT NULL REFERENCES posts(id),
            media_id INTEGER NOT NULL REFERENCES media(id),
            position INTEGER NOT NULL,
            PRIMARY KEY (post_id, position)
        );
        CREATE INDEX post_media_by_media ON post_media(media_id);
        CREATE TABLE message_media (
            message_id INTEGER NOT NULL REFERENCES incident_messages(id),
            media_id INTEGER NOT NULL REFERENCES media(id),
            position INTEGER NOT NULL,
            PRIMARY KEY (message_id, position)
        );
        CREATE INDEX message_media_by_media ON message_media(media_id);
        """
    )


@migrations()
def m027_provider_sign_in(db: Database) -> None:
    """Sign-in through the university's identity provider (#17). A person is bound to the
    provider's subject (``oidc_subject``: issuer and ``sub``) at their first sign-in, so an email
    address given to someone else later does not open their account; ``break_glass`` marks the
    few who may still sign in with a local password when a provider is configured, each such
    sign-in told to ERMC (the outbox admits ``break_glass_sign_in``; the rebuild keeps every
    event m025 admits). A console session records how it was opened."""
    db.executescript(
        """
        ALTER TABLE users ADD COLUMN break_glass INTEGER NOT NULL DEFAULT 0;
        ALTER TABLE users ADD COLUMN oidc_subject TEXT;
        CREATE UNIQUE INDEX users_by_oidc_subject ON users(oidc_subject) WHERE oidc_subject IS NOT NULL;
        ALTER TABLE console_sessions ADD COLUMN method TEXT NOT NULL DEFAULT 'password';
        CREATE TABLE notifications_new (
            id INTEGER PRIMARY KEY,
            incident_id INTEGER REFERENCES incidents(id),
            event TEXT NOT NULL CHECK (event IN ('declared', 'resolved', 'revealed', 'rotation_due',
                'rotation_summary', 'connector_secrets_dropped', 'readiness_failing', 'readiness_ready',
                'approval_requested', 'out_of_band_post', 'escalation_filed', 'break_glass_sign_in')),
            channel TEXT NOT NULL CHECK (channel IN ('email', 'webhook')),
            user_id INTEGER REFERENCES users(id),
            recipient TEXT NOT NULL,
            subject TEXT NOT NULL,
            body TEXT NOT NULL,
            state TEXT NOT NULL CHECK (state IN ('pending', 'sent', 'failed')),
            attempts INTEGER NOT NULL DEFAULT 0,
            next_attempt_at TEXT NOT NULL,
            sent_at TEXT,
            error TEXT,
            created_at TEXT NOT NULL,
            message_id INTEGER REFERENCES incident_messages(id)
        );
        INSERT INTO notifications_new SELECT * FROM notifications;
        DROP TABLE notifications;
        ALTER TABLE notifications_new RENAME TO notifications;
        CREATE INDEX notifications_due ON notifications(next_attempt_at) WHERE state = 'pending';
        CREATE UNIQUE INDEX notifications_one_approval_request
            ON notifications(message_id, channel, COALESCE(user_id, 0))
            WHERE event = 'approval_requested' AND state = 'pending';
        CREATE INDEX notifications_by_message ON notifications(message_id) WHERE message_id IS NOT NULL;
        """
    )


@migrations()
def m028_break_glass_kits(db: Database) -> None:
    """The sealed break-glass kit (#18, item 3). ``kits`` records each kit sealed (never its key or
    shares: those exist only in the file and with its holders), ``kit_credentials`` the credential
    version of each account it holds, so a newer deposit makes it stale; ERMC is told once per kit
    (``stale_at`` set when told; the outbox admits ``kit_stale``; the rebuild keeps every event
    m027 admits). ``used_at``/``opened_by`` record a kit opened while the service was down."""
    db.executescript(
        """
        CREATE TABLE kits (
            id TEXT PRIMARY KEY,
            sealed_at TEXT NOT NULL,
            sealed_by TEXT NOT NULL,
            threshold INTEGER NOT NULL CHECK (threshold >= 2),
            holders TEXT NOT NULL,
            path TEXT,
            stale_at TEXT,
            stale_reason TEXT,
            used_at TEXT,
            opened_by TEXT
        );
        CREATE TABLE kit_credentials (
            kit_id TEXT NOT NULL REFERENCES kits(id),
            account_id INTEGER NOT NULL REFERENCES accounts(id),
            version INTEGER NOT NULL,
            PRIMARY KEY (kit_id, account_id)
        );
        CREATE INDEX kit_credentials_by_account ON kit_credentials(account_id, version);
        CREATE TABLE notifications_new (
            id INTEGER PRIMARY KEY,
            incident_id INTEGER REFERENCES incidents(id),
            event TEXT NOT NULL CHECK (event IN ('declared', 'resolved', 'revealed', 'rotation_due',
                'rotation_summary', 'connector_secrets_dropped', 'readiness_failing', 'readiness_ready',
                'approval_requested', 'out_of_band_post', 'escalation_filed', 'break_glass_sign_in',
                'kit_stale')),
            channel TEXT NOT NULL CHECK (channel IN ('email', 'webhook')),
            user_id INTEGER REFERENCES users(id),
            recipient TEXT NOT NULL,
            subject TEXT NOT NULL,
            body TEXT NOT NULL,
            state TEXT NOT NULL CHECK (state IN ('pending', 'sent', 'failed')),
            attempts INTEGER NOT NULL DEFAULT 0,
            next_attempt_at TEXT NOT NULL,
            sent_at TEXT,
            error TEXT,
            created_at TEXT NOT NULL,
            message_id INTEGER REFERENCES incident_messages(id)
        );
        INSERT INTO notifications_new SELECT * FROM notifications;
        DROP TABLE notifications;
        ALTER TABLE notifications_new RENAME TO notifications;
        CREATE INDEX notifications_due ON notifications(next_attempt_at) WHERE state = 'pending';
        CREATE UNIQUE INDEX notifications_one_approval_request
            ON notifications(message_id, channel, COALESCE(user_id, 0))
            WHERE event = 'approval_requested' AND state = 'pending';
        CREATE INDEX notifications_by_message ON notifications(message_id) WHERE message_id IS NOT NULL;
        """
    )


@migrations()
def m029_standby(db: Database) -> None:
    """Replication and promotion (issue 18): the heartbeat ``lockdown replicate`` writes and reads
    back from the replica (its lag), each promotion of a standby, and the fence: promotions this
    database learnt from the replica location that superseded it (it then refuses to dispatch)."""
    db.executescript(
        """
        CREATE TABLE replication_heartbeat (
            id INTEGER PRIMARY KEY CHECK (id = 1),
            beat_at TEXT NOT NULL,
            host TEXT NOT NULL
        );
        CREATE TABLE promotions (
            id INTEGER PRIMARY KEY,
            uid TEXT NOT NULL UNIQUE,
            promoted_at TEXT NOT NULL,
            promoted_by INTEGER NOT NULL REFERENCES users(id),
            host TEXT NOT NULL,
            replica TEXT NOT NULL,
            replica_point TEXT,
            restored_entries INTEGER NOT NULL,
            restored_head TEXT NOT NULL,
            expect_head TEXT,
            incident_id INTEGER NOT NULL REFERENCES incidents(id),
            unknown_posts INTEGER NOT NULL DEFAULT 0,
            took_seconds REAL,
            confirmed_at TEXT,
            confirmed_by INTEGER REFERENCES users(id),
            checked TEXT
        );
        CREATE TABLE fences (
            promotion_uid TEXT PRIMARY KEY,
            promoted_at TEXT,
            host TEXT,
            replica TEXT NOT NULL,
            seen_at TEXT NOT NULL
        );
        """
    )


@migrations()
def m031_cap_proposals(db: Database) -> None:
    """CAP 1.2 alerts from the campus alerting system (#19, CAP in). Each alert received is one
    ``cap_proposals`` row, unique by (sender, identifier) so a repeated alert is the same proposal;
    ``kind`` 'declare' proposes a declaration with ``playbook``, 'resolve' (a CAP Cancel of an alert
    that led to an incident) the resolution of ``incident_id``; ``state`` is 'proposed' until a press
    officer declares (or resolves) it or dismisses it, 'cancelled' when a later Cancel withdrew it,
    and 'recorded' for Test, Draft and System alerts, kept and never proposed. The new role
    ``alerting`` (the campus system's token) needs ``user_roles`` rebuilt, and the press team's
    notice ``cap_proposed`` the outbox (the rebuild keeps every event m028 admits). Independent of
    m030."""
    db.executescript(
        """
        CREATE TABLE user_roles_new (
            user_id INTEGER NOT NULL REFERENCES users(id),
            role TEXT NOT NULL CHECK (role IN ('ermc', 'press', 'manager', 'alerting')),
            PRIMARY KEY (user_id, role)
        ) WITHOUT ROWID;
        INSERT INTO user_roles_new SELECT user_id, role FROM user_roles;
        DROP TABLE user_roles;
        ALTER TABLE user_roles_new RENAME TO user_roles;
        CREATE TABLE cap_proposals (
            id INTEGER PRIMARY KEY,
            identifier TEXT NOT NULL,
            sender TEXT NOT NULL,
            sent TEXT NOT NULL,
            status TEXT NOT NULL,
            msg_type TEXT NOT NULL,
            kind TEXT NOT NULL CHECK (kind IN ('declare', 'resolve', 'record')),
            playbook TEXT,
            title TEXT NOT NULL,
            event TEXT,
            severity TEXT,
            headline TEXT,
            area TEXT,
            text TEXT NOT NULL,
            state TEXT NOT NULL CHECK (state IN ('proposed', 'declared', 'resolved', 'dismissed', 'cancelled',
                'recorded')),
            refers_to INTEGER REFERENCES cap_proposals(id),
            incident_id INTEGER REFERENCES incidents(id),
            received_by INTEGER REFERENCES users(id),
            received_at TEXT NOT NULL,
            decided_by INTEGER REFERENCES users(id),
            decided_at TEXT,
            dismiss_reason TEXT,
            UNIQUE (sender, identifier)
        );
        CREATE INDEX cap_proposals_waiting ON cap_proposals(id) WHERE state = 'proposed';
        CREATE INDEX cap_proposals_by_incident ON cap_proposals(incident_id) WHERE incident_id IS NOT NULL;
        CREATE TABLE notifications_new (
            id INTEGER PRIMARY KEY,
            incident_id INTEGER REFERENCES incidents(id),
            event TEXT NOT NULL CHECK (event IN ('declared', 'resolved', 'revealed', 'rotation_due',
                'rotation_summary', 'connector_secrets_dropped', 'readiness_failing', 'readiness_ready',
                'approval_requested', 'out_of_band_post', 'escalation_filed', 'break_glass_sign_in',
                'kit_stale', 'cap_proposed')),
            channel TEXT NOT NULL CHECK (channel IN ('email', 'webhook')),
            user_id INTEGER REFERENCES users(id),
            recipient TEXT NOT NULL,
            subject TEXT NOT NULL,
            body TEXT NOT NULL,
            state TEXT NOT NULL CHECK (state IN ('pending', 'sent', 'failed')),
            attempts INTEGER NOT NULL DEFAULT 0,
            next_attempt_at TEXT NOT NULL,
            sent_at TEXT,
            error TEXT,
            created_at TEXT NOT NULL,
            message_id INTEGER REFERENCES incident_messages(id)
        );
        INSERT INTO notifications_new SELECT * FROM notifications;
        DROP TABLE notifications;
        ALTER TABLE notifications_new RENAME TO notifications;
        CREATE INDEX notifications_due ON notifications(next_attempt_at) WHERE state = 'pending';
        CREATE UNIQUE INDEX notifications_one_approval_request
            ON notifications(message_id, channel, COALESCE(user_id, 0))
            WHERE event = 'approval_requested' AND state = 'pending';
        CREATE INDEX notifications_by_message ON notifications(message_id) WHERE message_id IS NOT NULL;
        """
    )


def migrate(db: Database) -> list[str]:
    """Turn on WAL and apply pending migrations; return the names applied."""
    if db.conn.execute("PRAGMA journal_mode").fetchone()[0] != "wal" and db.memory is False:
        db.enable_wal()
    pending = [m.name for m in migrations.pending(db)]
    migrations.apply(db)
    return pending
