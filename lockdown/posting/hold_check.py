"""Whether the hold state can be trusted, before anything is dispatched.

The ``incident_scope`` and ``account_holds`` views (migration m009) hold nothing for a row they
do not understand: an incident whose status is not exactly ``'active'``, an unknown scope, a
tagged incident without a tag, an account whose ``central`` flag or ``tags`` JSON is malformed.
A corrupt row would therefore lift holds silently, the one failure the hold invariant cannot
afford. The dispatcher asks these questions every tick and refuses to dispatch while any is
answered (fail closed); the claim and the sending mark repeat them in the same statement, so a
row corrupted mid-tick is caught under the write lock too.
"""

from __future__ import annotations

from sqlite_utils import Database

from lockdown.store.fence import NOT_FENCED, fence_fault

# Each names one assumption the views make about an incident row, and the rows breaking it.
INCIDENT_FAULTS = (
    ("status is neither 'active' nor 'resolved'", "status IS NULL OR status NOT IN ('active', 'resolved')"),
    (
        "active with an unknown scope",
        "status = 'active' AND (scope IS NULL OR scope NOT IN ('all', 'tagged', 'named'))",
    ),
    (
        "active, scope 'tagged', without a tag",
        "status = 'active' AND scope = 'tagged' AND (typeof(scope_tag) <> 'text' OR scope_tag = '')",
    ),
    (
        "active, scope 'named', without an existing account",
        "status = 'active' AND scope = 'named' AND NOT EXISTS "
        "(SELECT 1 FROM accounts a WHERE a.id = incidents.named_account_id)",
    ),
    (
        "active with hold_central neither 0 nor 1",
        "status = 'active' AND (hold_central IS NULL OR hold_central NOT IN (0, 1))",
    ),
)

ANY_INCIDENT_FAULT = "SELECT 1 FROM incidents WHERE " + " OR ".join(f"({cond})" for _, cond in INCIDENT_FAULTS)

# What the views assume of an account: a 0/1 central flag and tags that are a JSON array
# (json_each over malformed JSON raises; over a scalar it yields the scalar). CASE, because
# SQLite does not promise to short-circuit AND, and json_type raises on malformed JSON.
ACCOUNT_OK = (
    "COALESCE(a.central IN (0, 1) AND CASE WHEN json_valid(a.tags) THEN json_type(a.tags) = 'array' ELSE 0 END, 0)"
)

# For the claim and the sending mark, inside their statements on ``posts``.
# A database superseded by a standby's promotion (lockdown.store.fence) trusts no hold state.
TRUSTED_HOLDS = (
    f"{NOT_FENCED} AND NOT EXISTS ({ANY_INCIDENT_FAULT}) "
    f"AND EXISTS (SELECT 1 FROM accounts a WHERE a.id = posts.account_id AND {ACCOUNT_OK})"
)


def hold_state_fault(db: Database, now: str) -> str | None:
    """Why the hold state cannot be trusted now, or None. Reads the incidents (a small table)
    and only the accounts that have posts due, so it stays cheap at 100,000 accounts."""
    fenced = fence_fault(db)
    if fenced:
        return fenced
    parts = [
        f"SELECT 'incident ' || id || ': ' || {_quoted(reason)} FROM incidents WHERE {cond}"
        for reason, cond in INCIDENT_FAULTS
    ]
    parts.append(
        "SELECT 'account ' || a.id || ': central flag or tags malformed' FROM accounts a "
        # The due posts' index, named: SQLite would otherwise read every scheduled post.
        "WHERE a.id IN (SELECT account_id FROM posts INDEXED BY posts_due "
        "WHERE state = 'scheduled' AND due_at <= :now) "
        f"AND NOT {ACCOUNT_OK}"
    )
    rows = db.conn.execute(" UNION ALL ".join(parts) + " LIMIT 5", {"now": now}).fetchall()
    if not rows:
        return None
    return "hold state not trustworthy, dispatch refused: " + "; ".join(row[0] for row in rows)


def _quoted(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"
