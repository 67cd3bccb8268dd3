"""What a handle may be written with: one visible word, in Unicode's composed form (NFC).

Zero-width characters, the soft hyphen, bidi overrides and other format, control or unassigned
code points are invisible or reorder what is shown, so ``@livuni_news`` followed by U+200B, or
``@livuni_`` + U+202E + ``swen`` (displayed as "news"), would pass for another account.
"""

from __future__ import annotations

import unicodedata

# Cc control, Cf format (zero-width, soft hyphen, bidi), Cs surrogate, Co private use,
# Cn unassigned, and the separators (spaces and line breaks).
REFUSED_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Co", "Cn", "Zs", "Zl", "Zp"})


def handle_problem(handle: str) -> str | None:
    """Why ``handle`` (already NFC) cannot be a handle, or None."""
    for position, char in enumerate(handle, start=1):
        category = unicodedata.category(char)
        if category in REFUSED_CATEGORIES:
            name = unicodedata.name(char, "an unnamed character")
            return (
                f"handle must be one visible word, such as @livuni_news; character {position} is "
                f"U+{ord(char):04X} ({name.lower()}), which is invisible, a control or a space"
            )
    return None


def normal_handle(text: str) -> str:
    """The handle as stored and compared: surrounding space removed, composed (NFC)."""
    return unicodedata.normalize("NFC", text.strip())
