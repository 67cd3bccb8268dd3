"""Opaque keyset cursors for lists: ``{"items": [...], "next": CURSOR_OR_NULL}``."""

from __future__ import annotations

import base64
import binascii
from typing import Any

from lockdown.errors import InvalidInput

MAX_LIMIT = 1000
DEFAULT_LIMIT = 100


def encode_cursor(last_id: int) -> str:
    """A cursor that resumes after ``last_id``."""
    return base64.urlsafe_b64encode(f"after:{last_id}".encode()).decode().rstrip("=")


def decode_cursor(cursor: str | None) -> int:
    """The id a cursor resumes after (0 for none); 400 naming ``cursor`` when it is not ours."""
    if not cursor:
        return 0
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        prefix, _, number = text.partition(":")
        value = int(number)
        if prefix != "after" or value < 0:
            raise ValueError(text)
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise InvalidInput("cursor is not one this API returned", field="cursor") from None
    return value


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
