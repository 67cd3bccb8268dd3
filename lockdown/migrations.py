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


def migrate(db: Database) -> list[str]:
    """Turn on WAL and apply pending migrations; return the names applied."""
    if db.conn.execute("PRAGMA journal_mode").fetchone()[0] != "wal" and db.memory is False:
        db.enable_wal()
    pending = [m.name for m in migrations.pending(db)]
    migrations.apply(db)
    return pending
