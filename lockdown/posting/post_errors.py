"""What a failed post says, and to whom: a platform's own answer can carry what only the
account's people should read (an internal note, a name, an address), so ERMC and the account's
manager see it, capped in length, and everyone else sees the failure's kind and HTTP status."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlite_utils import Database

from connectors.base import ConnectorError
from lockdown.people.users import User

MAX_ERROR_CHARS = 500


def capped(exc: ConnectorError) -> ConnectorError:
    """The failure with its message cut to MAX_ERROR_CHARS (the platform may answer at length)."""
    if len(exc.message) <= MAX_ERROR_CHARS:
        return exc
    return ConnectorError(
        exc.message[: MAX_ERROR_CHARS - 1] + "…",
        permanent=exc.permanent,
        ambiguous=exc.ambiguous,
        retry_after=exc.retry_after,
        status=exc.status,
        progress=exc.progress,
    )


def short_error(code: str, status: int | None) -> str:
    """A platform failure in Lockdown's own words: its kind and HTTP status, nothing the platform said."""
    said = f"HTTP {status}, " if status else ""
    return f"the platform call failed ({said}{code}); ERMC and the account's manager can read the platform's answer"


def errors_as_seen_by(db: Database, viewer: User, posts: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """The posts with each platform error replaced by its short form unless ``viewer`` is ERMC
    or the manager of the post's account."""
    items = list(posts)
    failed = {post["account_id"] for post in items if post.get("error") and post.get("error_code")}
    if not failed or viewer.has("ermc"):
        return items
    marks = ",".join("?" * len(failed))
    managed = {
        row[0]
        for row in db.conn.execute(
            f"SELECT id FROM accounts WHERE manager_id = ? AND id IN ({marks})", [viewer.id, *sorted(failed)]
        )
    }
    for post in items:
        if post.get("error") and post.get("error_code") and post["account_id"] not in managed:
            post["error"] = short_error(post["error_code"], post["error_status"])
    return items
