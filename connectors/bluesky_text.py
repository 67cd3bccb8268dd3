"""A Bluesky post's text: its limits as the PDS counts them, and its rich-text facets.

The post record (``app.bsky.feed.post``) allows 300 graphemes (user-perceived characters: a flag
or a family emoji is one) and 3,000 bytes of UTF-8, and a PDS refuses a record over either.
Links, mentions and hashtags are plain text to Bluesky unless a facet marks them, at UTF-8 byte
offsets. They are found as the Bluesky app finds them (atproto's port of its ``detectFacets``:
a hashtag is not all digits, loses trailing punctuation, and has at most 64 graphemes), and a
mention needs the account's DID: one that does not resolve stays plain text.
"""

from __future__ import annotations

from collections.abc import Callable

import regex
from atproto_client import models
from atproto_client.utils import facet_detection

from connectors.base import ConnectorError

MAX_GRAPHEMES = 300
MAX_BYTES = 3000
GRAPHEME = regex.compile(r"\X")


def check_limits(text: str) -> None:
    """Raise a permanent ConnectorError when the PDS would refuse the text's length."""
    graphemes = len(GRAPHEME.findall(text))
    if graphemes > MAX_GRAPHEMES:
        raise ConnectorError(
            f"the post is {graphemes} graphemes; Bluesky takes at most {MAX_GRAPHEMES}", permanent=True
        )
    size = len(text.encode("utf-8"))
    if size > MAX_BYTES:
        raise ConnectorError(f"the post is {size} bytes in UTF-8; Bluesky takes at most {MAX_BYTES}", permanent=True)


def facets(text: str, resolve: Callable[[str], str | None]) -> list[models.AppBskyRichtextFacet.Main]:
    """The facets for links, hashtags and mentions in ``text``, in order. ``resolve`` gives the
    DID of a handle, or None when it does not resolve."""
    found = facet_detection.detect_facets(text)
    dids: dict[str, str | None] = {}
    for mention in facet_detection.detect_mentions(text):
        handle = mention.handle.lower()
        if handle not in dids:
            dids[handle] = resolve(handle)
        did = dids[handle]
        if did is None:
            continue
        found.append(
            models.AppBskyRichtextFacet.Main(
                features=[models.AppBskyRichtextFacet.Mention(did=did)],
                index=models.AppBskyRichtextFacet.ByteSlice(byte_start=mention.byte_start, byte_end=mention.byte_end),
            )
        )
    return sorted(found, key=lambda facet: facet.index.byte_start)
