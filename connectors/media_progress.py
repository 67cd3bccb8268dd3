"""What a connector keeps of a post's uploaded media between attempts (``ConnectorError.progress``
and ``OutgoingPost.progress``), shared by the connectors that upload media themselves.

Items are kept by their place in the post (``media:<n>``) with a fingerprint of what was
uploaded (``media:<n>:of``): a person may replace a file or rewrite its alt text or captions
between attempts, and a kept id is reused only for the very same item."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping

from connectors.base import OutgoingMedia


def label(index: int, item: OutgoingMedia) -> str:
    """How a press officer knows the item: "image 2", "video 1" (its place in the post)."""
    return f"{item.kind} {index + 1}"


def fingerprint(item: OutgoingMedia) -> str:
    """The file and everything sent with it, in short."""
    sent = "\n\x00".join(
        (item.sha256, item.alt_text, item.captions_srt or "", item.captions_vtt or "", item.captions_lang)
    )
    return hashlib.sha256(sent.encode("utf-8")).hexdigest()[:32]


def kept_id(progress: Mapping[str, str], index: int, item: OutgoingMedia) -> str:
    """The platform's id for the item an earlier attempt uploaded, if it was this same item; else ""."""
    media_id = progress.get(f"media:{index}") or ""
    return media_id if media_id and progress.get(f"media:{index}:of") == fingerprint(item) else ""
