"""Who may act on an account's posts: ERMC, the account's manager and its editors."""

from __future__ import annotations

from sqlite_utils import Database

from lockdown.people.users import User

# Who may act on an account's posts besides ERMC: its manager and its editors (:user).
MANAGES_OR_EDITS = (
    "(a.manager_id = :user OR EXISTS (SELECT 1 FROM account_editors e WHERE e.account_id = a.id AND e.user_id = :user))"
)


def rights_on(db: Database, user: User, account_id: int) -> bool:
    """ERMC, the account's manager and its editors may draft, approve and cancel its posts."""
    if user.has("ermc"):
        return True
    row = db.conn.execute(
        f"SELECT {MANAGES_OR_EDITS} FROM accounts a WHERE a.id = :account", {"user": user.id, "account": account_id}
    ).fetchone()
    return bool(row and row[0])


def accounts_with_rights(db: Database, user: User) -> set[int]:
    """The ids of the accounts whose posts ``user`` may act on (rights_on for all at once)."""
    if user.has("ermc"):
        return {row[0] for row in db.conn.execute("SELECT id FROM accounts")}
    return {
        row[0] for row in db.conn.execute(f"SELECT a.id FROM accounts a WHERE {MANAGES_OR_EDITS}", {"user": user.id})
    }


def drafts_anywhere(db: Database, user: User) -> bool:
    """Whether ``user`` may draft on some account (or, as press, an incident message)."""
    if user.has("ermc", "press"):
        return True
    row = db.conn.execute(f"SELECT EXISTS (SELECT 1 FROM accounts a WHERE {MANAGES_OR_EDITS})", {"user": user.id})
    return bool(row.fetchone()[0])
