"""Filing escalations and reading them: only ERMC and the reporter read a report, since it may
hold personal data; to anyone else one is not there (404), so ids cannot be probed.

Nothing here fetches a report's ``url``: Lockdown never watches personal accounts (policy 2.2.6),
it only keeps the address someone reported.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any, Final
from urllib.parse import urlsplit

from sqlite_utils import Database

from lockdown.errors import InvalidInput, NotFound
from lockdown.notify.outbox import Notice, queue
from lockdown.pagination import check_limit
from lockdown.people.users import User, role_holders
from lockdown.store.context import Changes, Context
from lockdown.timeutil import parse_iso, to_iso

KINDS: Final = ("hacked", "hostile_comments", "policy_breach", "welfare_concern", "other")
KIND_LABELS: Final = {
    "hacked": "hacked account",
    "hostile_comments": "hostile comments",
    "policy_breach": "policy breach",
    "welfare_concern": "welfare concern",
    "other": "other",
}
STATES: Final = ("open", "closed")
MAX_DETAILS = 4000
MAX_URL = 2000
# Who files when no person does: the watch names itself (``lockdown-watch``).
SYSTEM_REPORTER = "lockdown"
_COLUMNS = (
    "id, kind, account_id, url, details, reporter_id, reporter, state, closed_as, close_reason, "
    "closed_by, closed_at, incident_id, filed_at"
)
# Open reports first (oldest first: the longest waiting is triaged first), then closed ones; a
# cursor carries both parts of the key as digits.
_RANK = 10**17


def check_url(raw: Any) -> str:
    """An http(s) address with a host, no credentials, no blanks: 400 naming ``url`` otherwise."""
    if not isinstance(raw, str) or not raw.strip():
        raise InvalidInput("url must be an http or https address", field="url")
    url = raw.strip()
    if len(url) > MAX_URL:
        raise InvalidInput(f"url is longer than {MAX_URL} characters", field="url")
    if any(ch.isspace() or unicodedata.category(ch).startswith("C") for ch in url):
        raise InvalidInput("url must not contain spaces or control characters", field="url")
    try:
        parts = urlsplit(url)
        host = parts.hostname
        parts.port  # noqa: B018 - a malformed port raises here
    except ValueError:
        raise InvalidInput("url is not a valid address", field="url") from None
    if parts.scheme.lower() not in ("http", "https") or not host:
        raise InvalidInput(
            "url must be an http or https address with a host, such as https://example.com/post/1", field="url"
        )
    if parts.username is not None or parts.password is not None:
        raise InvalidInput("url must not carry a user name or password", field="url")
    return url


def _details(raw: Any) -> str:
    if not isinstance(raw, str) or not raw.strip():
        raise InvalidInput("details is required: say what you saw", field="details")
    if len(raw) > MAX_DETAILS:
        raise InvalidInput(f"details is longer than {MAX_DETAILS} characters", field="details")
    return raw.strip()


def _kind(raw: Any) -> str:
    if raw not in KINDS:
        raise InvalidInput(f"kind must be one of {', '.join(KINDS)}", field="kind")
    return str(raw)


def _target(db: Database, account_id: Any, url: Any) -> tuple[int | None, str | None]:
    """Exactly one of a registered, active account and an address elsewhere."""
    if (account_id is None) == (url is None):
        raise InvalidInput(
            "give exactly one of account_id (a registered account) and url (content elsewhere)",
            field="account_id" if account_id is not None else "url",
        )
    if url is not None:
        return None, check_url(url)
    if isinstance(account_id, bool) or not isinstance(account_id, int):
        raise InvalidInput("account_id must be an account id", field="account_id")
    row = db.conn.execute("SELECT archived_at FROM accounts WHERE id = ?", [account_id]).fetchone()
    if row is None or row[0] is not None:
        raise InvalidInput(f"account_id: there is no active account {account_id}", field="account_id")
    return account_id, None


def _insert(
    change: Changes, *, reporter_id: int | None, reporter: str, kind: str, account_id: int | None, url: str | None,
    details: str, public_url: str,
) -> int:  # fmt: skip
    db = change.context.db.conn
    stamp = to_iso(change.at)
    escalation_id = int(
        db.execute(
            "INSERT INTO escalations (kind, account_id, url, details, reporter_id, reporter, state, filed_at) "
            "VALUES (?, ?, ?, ?, ?, ?, 'open', ?)",
            [kind, account_id, url, details, reporter_id, reporter, stamp],
        ).lastrowid
        or 0
    )
    told = _tell_ermc(change, escalation_id, kind, public_url)
    # Ids and kinds only: the details and the address are personal data, deleted with the report,
    # while the audit trail is kept for ever.
    change.audit(
        reporter, "escalation.file", f"escalation:{escalation_id}",
        kind=kind, account_id=account_id, points_at="account" if account_id is not None else "url", ermc_told=told,
    )  # fmt: skip
    return escalation_id


def _tell_ermc(change: Changes, escalation_id: int, kind: str, public_url: str) -> int:
    """One email per enabled ERMC member: the kind and a link, nothing of the report itself,
    since mail leaves the system."""
    link = f"{public_url.rstrip('/')}/escalations/{escalation_id}"
    subject = f"Lockdown: escalation {escalation_id} ({KIND_LABELS[kind]})"
    return queue(
        change,
        (
            Notice(
                "escalation_filed",
                email,
                subject,
                f"Dear {name},\n\nA {KIND_LABELS[kind]} was reported to ERMC (escalation {escalation_id}).\n"
                f"Read it, declare or close it after signing in: {link}\n",
                user_id,
            )
            for user_id, name, email in role_holders(change.context.db, "ermc")
        ),
    )


def file_escalation(
    change_or_ctx: Changes | Context,
    *,
    reporter: str | None,
    kind: str,
    account_id: int | None,
    url: str | None,
    details: str,
    public_url: str,
) -> int:
    """File an escalation on behalf of Lockdown itself (the watch: ``reporter="lockdown-watch"``)
    and tell ERMC; return its id. Inside another write transaction (a ``Changes``) it joins it;
    given a ``Context`` it opens its own. No person is its reporter: only ERMC reads it."""
    name = reporter or SYSTEM_REPORTER
    if isinstance(change_or_ctx, Changes):
        return _file_in(change_or_ctx, name, None, kind, account_id, url, details, public_url)
    with change_or_ctx.change() as change:
        return _file_in(change, name, None, kind, account_id, url, details, public_url)


def _file_in(
    change: Changes, reporter: str, reporter_id: int | None, kind: Any, account_id: Any, url: Any, details: Any,
    public_url: str,
) -> int:  # fmt: skip
    checked_kind, checked_details = _kind(kind), _details(details)
    target_account, target_url = _target(change.context.db, account_id, url)
    return _insert(
        change, reporter_id=reporter_id, reporter=reporter, kind=checked_kind, account_id=target_account,
        url=target_url, details=checked_details, public_url=public_url,
    )  # fmt: skip


def report_concern(ctx: Context, actor: User, data: Mapping[str, Any], *, public_url: str) -> dict[str, Any]:
    """File an escalation (anyone signed in) and tell ERMC; the answer is the report as its
    reporter sees it. Everything is checked before the write lock is taken."""
    kind, details = _kind(data.get("kind")), _details(data.get("details"))
    _target(ctx.db, data.get("account_id"), data.get("url"))
    with ctx.change() as change:
        # Checked again under the lock: an account archived meanwhile is refused.
        escalation_id = _file_in(
            change, actor.email, actor.id, kind, data.get("account_id"), data.get("url"), details, public_url
        )
    return get_escalation(ctx.db, actor, escalation_id, ctx.now())


def _row(db: Database, escalation_id: int) -> dict[str, Any] | None:
    cursor = db.conn.execute(f"SELECT {_COLUMNS} FROM escalations WHERE id = ?", [escalation_id])
    row = cursor.fetchone()
    if row is None:
        return None
    return dict(zip([c[0] for c in cursor.description], row, strict=True))


def may_read(viewer: User, row: Mapping[str, Any]) -> bool:
    """ERMC and the report's own reporter, nobody else."""
    return viewer.has("ermc") or (row["reporter_id"] is not None and row["reporter_id"] == viewer.id)


def escalation_row(db: Database, escalation_id: int) -> dict[str, Any]:
    """The stored report, for services that act on it without showing it; 404 when there is none."""
    row = _row(db, escalation_id)
    if row is None:
        raise NotFound(f"no escalation {escalation_id}", field="id")
    return row


def _shown(db: Database, row: Mapping[str, Any], now: datetime) -> dict[str, Any]:
    account = None
    if row["account_id"] is not None:
        found = db.conn.execute(
            "SELECT id, handle, platform FROM accounts WHERE id = ?", [row["account_id"]]
        ).fetchone()
        account = {"id": found[0], "handle": found[1], "platform": found[2]}
    closed_by = None
    if row["closed_by"] is not None:
        closed_by = db.conn.execute("SELECT email FROM users WHERE id = ?", [row["closed_by"]]).fetchone()[0]
    return {
        "id": row["id"],
        "kind": row["kind"],
        "account": account,
        "url": row["url"],
        "details": row["details"],
        "reporter": row["reporter"],
        "state": row["state"],
        "closed_as": row["closed_as"],
        "close_reason": row["close_reason"],
        "closed_by": closed_by,
        "closed_at": row["closed_at"],
        "incident_id": row["incident_id"],
        "filed_at": row["filed_at"],
        "age_seconds": max(0, int((now - parse_iso(row["filed_at"])).total_seconds())),
    }


def get_escalation(db: Database, viewer: User, escalation_id: int, now: datetime) -> dict[str, Any]:
    """One report, for ERMC or its reporter; for anyone else it is not there (404, not 403)."""
    row = _row(db, escalation_id)
    if row is None or not may_read(viewer, row):
        raise NotFound(f"no escalation {escalation_id}", field="id")
    return _shown(db, row, now)


def list_escalations(
    db: Database, viewer: User, now: datetime, *, state: str | None = None, mine: bool = False,
    limit: int | None = None, cursor: str | None = None,
) -> dict[str, Any]:  # fmt: skip
    """ERMC's triage queue (every report, open ones first, oldest first), or for anyone else
    (and for ERMC with ``mine``) the reports they filed themselves."""
    size = check_limit(limit)
    where, params = ["(CASE state WHEN 'open' THEN 0 ELSE 1 END) * ? + id > ?"], [_RANK, _decode(cursor)]
    if state is not None:
        if state not in STATES:
            raise InvalidInput(f"state must be one of {', '.join(STATES)}", field="state")
        where.append("state = ?")
        params.append(state)  # type: ignore[arg-type]
    if mine or not viewer.has("ermc"):
        where.append("reporter_id = ?")
        params.append(viewer.id)
    cursor_rows = db.conn.execute(
        f"SELECT {_COLUMNS} FROM escalations WHERE {' AND '.join(where)} ORDER BY state = 'closed', id LIMIT ?",
        [*params, size + 1],
    )
    names = [c[0] for c in cursor_rows.description]
    rows = [dict(zip(names, row, strict=True)) for row in cursor_rows]
    more = len(rows) > size
    rows = rows[:size]
    items = [_shown(db, row, now) for row in rows]
    last = rows[-1] if rows else None
    following = None
    if more and last is not None:
        following = str((0 if last["state"] == "open" else 1) * _RANK + last["id"])
    return {"items": items, "next": following}


def _decode(cursor: str | None) -> int:
    if not cursor:
        return 0
    if not cursor.isascii() or not cursor.isdigit() or len(cursor) > 18:
        raise InvalidInput("cursor must be the 'next' value of a previous page", field="cursor")
    return int(cursor)


def declarable(db: Database, viewer: User, now: datetime) -> list[dict[str, Any]]:
    """What press needs to act on an open report that names an account, and nothing more: its
    id, kind, the account and its age. Never the details, the reporter or an address."""
    viewer.require("press", "ermc")
    rows = db.conn.execute(
        "SELECT e.id, e.kind, a.id, a.handle, a.platform, e.filed_at FROM escalations e "
        "JOIN accounts a ON a.id = e.account_id WHERE e.state = 'open' ORDER BY e.id LIMIT 200"
    ).fetchall()
    return [
        {
            "id": escalation_id,
            "kind": kind,
            "account": {"id": account_id, "handle": handle, "platform": platform},
            "filed_at": filed_at,
            "age_seconds": max(0, int((now - parse_iso(filed_at)).total_seconds())),
        }
        for escalation_id, kind, account_id, handle, platform, filed_at in rows
    ]


def open_by_age(db: Database, now: datetime) -> dict[str, int]:
    """Open reports by how long they have waited: under an hour, up to a day, longer."""
    hour, day = to_iso(now - timedelta(hours=1)), to_iso(now - timedelta(days=1))
    row = db.conn.execute(
        "SELECT COALESCE(SUM(filed_at > ?), 0), COALESCE(SUM(filed_at <= ? AND filed_at > ?), 0), "
        "COALESCE(SUM(filed_at <= ?), 0) FROM escalations WHERE state = 'open'",
        [hour, hour, day, day],
    ).fetchone()
    return {"<1h": int(row[0]), "1-24h": int(row[1]), ">24h": int(row[2])}
