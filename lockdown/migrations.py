"""Schema changes as named migrations, applied in order at start."""

from __future__ import annotations

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


def migrate(db: Database) -> list[str]:
    """Turn on WAL and apply pending migrations; return the names applied."""
    if db.conn.execute("PRAGMA journal_mode").fetchone()[0] != "wal" and db.memory is False:
        db.enable_wal()
    pending = [m.name for m in migrations.pending(db)]
    migrations.apply(db)
    return pending
