"""How each platform counts a post's length, and its documented limit."""

from __future__ import annotations

import re
import unicodedata

import regex

# X: https://docs.x.com/resources/fundamentals/counting-characters ; Mastodon: instance
# default; Bluesky: graphemes; LinkedIn: Posts API commentary; Facebook: page post message;
# Instagram: caption; Threads: post text; TikTok: caption; YouTube: community post.
LIMITS: dict[str, int] = {
    "x": 280,
    "mastodon": 500,
    "bluesky": 300,
    "linkedin": 3000,
    "facebook": 63206,
    "instagram": 2200,
    "threads": 500,
    "tiktok": 2200,
    "youtube": 5000,
    "flickr": 5000,
    "other": 10000,
}
# Limits in UTF-8 bytes beside the character limit: Bluesky's post record says
# ``maxGraphemes: 300`` and ``maxLength: 3000`` (app.bsky.feed.post in ../shared/specs/atproto-lexicons),
# and a PDS refuses a record over either.
BYTE_LIMITS: dict[str, int] = {"bluesky": 3000}
GRAPHEME = regex.compile(r"\X")
X_URL_WEIGHT = 23
URL = re.compile(r"https?://\S+", re.IGNORECASE)
# Code points X weighs as one; every other counts two (CJK, emoji, ...).
X_LIGHT_RANGES = ((0, 4351), (8192, 8205), (8208, 8223), (8242, 8247))


def _x_weight(char: str) -> int:
    point = ord(char)
    return 1 if any(low <= point <= high for low, high in X_LIGHT_RANGES) else 2


def _graphemes(text: str) -> int:
    """User-perceived characters: Unicode extended grapheme clusters (UAX #29), as Bluesky counts
    them, so a flag or a family emoji is one."""
    return len(GRAPHEME.findall(text))


def length(platform: str, text: str) -> int:
    """The post's length as the platform counts it."""
    normalised = unicodedata.normalize("NFC", text)
    if platform == "x":
        without_urls = URL.sub("", normalised)
        urls = len(URL.findall(normalised))
        return urls * X_URL_WEIGHT + sum(_x_weight(char) for char in without_urls)
    if platform == "bluesky":
        return _graphemes(normalised)
    return len(normalised)


def over_limit(platform: str, text: str) -> str | None:
    """A message naming the limit when the text is too long for the platform, else None."""
    limit = LIMITS.get(platform, LIMITS["other"])
    counted = length(platform, text)
    if counted > limit:
        return f"body is {counted} characters as {platform} counts them; the limit is {limit}"
    byte_limit = BYTE_LIMITS.get(platform)
    size = len(unicodedata.normalize("NFC", text).encode("utf-8"))
    if byte_limit is not None and size > byte_limit:
        return f"body is {size} bytes in UTF-8; {platform} takes at most {byte_limit} (emoji take up to 25 each)"
    return None
