"""What a failed incident-message delivery says, and to whom: as for posts, a platform's own
answer may carry what only the people running the account should read. The press team (who send
the messages), ERMC and the central account's manager read it; everyone else is told that it
failed and who can read why."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlite_utils import Database

from lockdown.people.users import User

HIDDEN = "the platform call failed; the press team, ERMC and the account's manager can read the platform's answer"


def delivery_errors_as_seen_by(db: Database, viewer: User, messages: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """The messages with each delivery's error replaced by HIDDEN unless ``viewer`` may read it."""
    items = list(messages)
    if viewer.has("press") or viewer.has("ermc"):
        return items
    managed = {row[0] for row in db.conn.execute("SELECT id FROM accounts WHERE manager_id = ?", [viewer.id])}
    for message in items:
        for delivery in message["deliveries"]:
            if delivery.get("error") and delivery["account_id"] not in managed:
                delivery["error"] = HIDDEN
    return items
