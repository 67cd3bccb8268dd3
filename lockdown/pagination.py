"""Keyset cursors for lists: ``{"items": [...], "next": CURSOR_OR_NULL}``.

A cursor is the last id (or seq) of the page, as digits: simple to document exactly, so every
cursor the document admits is one the API accepts.
"""

from __future__ import annotations

import re
from typing import Any

from lockdown.errors import InvalidInput

MAX_LIMIT = 1000
DEFAULT_LIMIT = 100
CURSOR_PATTERN = r"^[0-9]{1,18}$"


def encode_cursor(last_id: int) -> str:
    """A cursor that resumes after ``last_id``."""
    return str(last_id)


def decode_cursor(cursor: str | None) -> int:
    """The id a cursor resumes after (0 for none); 400 naming ``cursor`` when it is malformed."""
    if not cursor:
        return 0
    if not re.match(CURSOR_PATTERN, cursor):
        raise InvalidInput("cursor must be the 'next' value of a previous page", field="cursor")
    return int(cursor)


def check_limit(limit: int | None) -> int:
    """The page size, between 1 and MAX_LIMIT; 400 naming ``limit`` otherwise."""
    if limit is None:
        return DEFAULT_LIMIT
    if not 1 <= limit <= MAX_LIMIT:
        raise InvalidInput(f"limit must be between 1 and {MAX_LIMIT}", field="limit")
    return limit


def page(items: list[dict[str, Any]], limit: int, key: str = "id") -> dict[str, Any]:
    """Cut a list fetched with ``limit + 1`` rows into a page and its next cursor."""
    more = len(items) > limit
    items = items[:limit]
    return {"items": items, "next": encode_cursor(items[-1][key]) if more else None}
