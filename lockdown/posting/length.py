"""How each platform counts a post's length, and its documented limit."""

from __future__ import annotations

import re
import unicodedata

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
X_URL_WEIGHT = 23
URL = re.compile(r"https?://\S+", re.IGNORECASE)
# Code points X weighs as one; every other counts two (CJK, emoji, ...).
X_LIGHT_RANGES = ((0, 4351), (8192, 8205), (8208, 8223), (8242, 8247))


def _x_weight(char: str) -> int:
    point = ord(char)
    return 1 if any(low <= point <= high for low, high in X_LIGHT_RANGES) else 2


def _graphemes(text: str) -> int:
    """Approximate user-perceived characters: combining marks, joiners and variation
    selectors join the character before them."""
    count = 0
    joined = False
    for char in text:
        if unicodedata.combining(char) or 0xFE00 <= ord(char) <= 0xFE0F or 0x1F3FB <= ord(char) <= 0x1F3FF:
            continue
        if char == "\u200d":
            joined = True
            continue
        if not joined:
            count += 1
        joined = False
    return count


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
    return None
