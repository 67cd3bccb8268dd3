"""Ids as people type them into forms, query strings and CSV cells.

``str.isdigit`` is true for ``²`` and other Unicode digits that ``int`` refuses, so a check made
with it turned a typo into a 500; only ASCII digits, at most 18 of them (SQLite's 64-bit range),
are an id here.
"""

from __future__ import annotations

import re

_ID = re.compile(r"[0-9]{1,18}")


def parse_id(text: str) -> int | None:
    """The id written in ``text``, or None when it is not one."""
    stripped = text.strip()
    return int(stripped) if _ID.fullmatch(stripped) else None
