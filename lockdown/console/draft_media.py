"""The uploads waiting for a person's next post, kept in the signed session (ids only), so that
several can be added one form at a time on a phone without scripts."""

from __future__ import annotations

from typing import Any

from flask import session

from lockdown.errors import NotFound
from lockdown.people.users import User
from lockdown.posting import media
from lockdown.store.context import Context

WAITING = "draft_media"
MAX_WAITING = media.MAX_MEDIA_IDS


def waiting_media(ctx: Context, user: User) -> list[dict[str, Any]]:
    """The person's uploads waiting for a post, still theirs and still stored, in upload order."""
    kept = []
    for media_id in session.get(WAITING, []):
        try:
            medium = media.get_medium(ctx.db, int(media_id))
        except (NotFound, ValueError):
            continue
        if medium.uploaded_by == user.id:
            kept.append(medium.public())
    return kept


def forget_waiting(media_ids: list[int]) -> None:
    """Drop uploads from the waiting list (they went with a post, or were taken off)."""
    session[WAITING] = [i for i in session.get(WAITING, []) if i not in media_ids]
