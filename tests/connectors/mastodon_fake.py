"""A fake Mastodon instance's answers in the shapes of Mastodon's OpenAPI document
(``tests/specs/mastodon.openapi.json``, from https://docs.joinmastodon.org/): a Status
(https://docs.joinmastodon.org/entities/Status/) with its Account, a ScheduledStatus
(https://docs.joinmastodon.org/entities/ScheduledStatus/), and the Error entity
(https://docs.joinmastodon.org/entities/Error/). The ``fake`` fixture checks every one against
the document, so a field dropped here fails the tests that use it."""

from __future__ import annotations

from typing import Any

BASE = "https://social.example"
CREATED = "2026-11-29T09:00:00.000Z"


def account(base: str = BASE) -> dict[str, Any]:
    """The @livuni account, with every field the Account entity requires."""
    return {
        "id": "1",
        "username": "livuni",
        "acct": "livuni",
        "display_name": "University of Liverpool",
        "locked": False,
        "bot": False,
        "group": False,
        "indexable": True,
        "created_at": CREATED,
        "note": "",
        "uri": f"{base}/users/livuni",
        "url": f"{base}/@livuni",
        "avatar": f"{base}/avatars/original/missing.png",
        "avatar_static": f"{base}/avatars/original/missing.png",
        "header": f"{base}/headers/original/missing.png",
        "header_static": f"{base}/headers/original/missing.png",
        "followers_count": 0,
        "following_count": 0,
        "statuses_count": 1,
        "emojis": [],
        "fields": [],
    }


def credential_account(base: str = BASE) -> dict[str, Any]:
    """``GET /api/v1/accounts/verify_credentials`` 200: the CredentialAccount entity
    (https://docs.joinmastodon.org/entities/Account/#CredentialAccount), the account with the
    ``source`` values only its owner sees and its ``role``."""
    return {
        **account(base),
        "source": {
            "fields": [],
            "follow_requests_count": 0,
            "indexable": True,
            "note": "",
            "privacy": "public",
            "sensitive": False,
        },
        "role": {"color": "", "highlighted": False, "id": "-99", "name": "", "permissions": "0"},
    }


def status(
    status_id: str, content: str = "<p>Open day</p>", base: str = BASE, created_at: str = CREATED
) -> dict[str, Any]:
    """``POST /api/v1/statuses`` and ``DELETE /api/v1/statuses/{id}`` 200: a Status; a list of
    them is ``GET /api/v1/accounts/{id}/statuses`` 200
    (https://docs.joinmastodon.org/methods/accounts/#statuses)."""
    return {
        "id": status_id,
        "uri": f"{base}/users/livuni/statuses/{status_id}",
        "url": f"{base}/@livuni/{status_id}",
        "created_at": created_at,
        "account": account(base),
        "content": content,
        "visibility": "public",
        "sensitive": False,
        "spoiler_text": "",
        "media_attachments": [],
        "mentions": [],
        "tags": [],
        "emojis": [],
        "reblogs_count": 0,
        "favourites_count": 0,
        "replies_count": 0,
    }


def scheduled(status_id: str, scheduled_at: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
    """One ScheduledStatus, as listed, moved or made; ``params`` over the ones it requires."""
    required = {"application_id": 1, "text": "Open day", "visibility": "public", "with_rate_limit": False}
    return {
        "id": status_id,
        "scheduled_at": scheduled_at,
        "params": {**required, **(params or {})},
        "media_attachments": [],
    }


def error(message: str) -> dict[str, str]:
    """Mastodon's Error entity."""
    return {"error": message}


def validation_failed(message: str, field: str, code: str, description: str) -> dict[str, Any]:
    """The ValidationError some 422 answers carry (the document names it per operation)."""
    return {"error": message, "details": {field: [{"error": code, "description": description}]}}


def media_attachment(media_id: str, kind: str = "image", description: str | None = None, *, processed: bool = True,
                     base: str = BASE) -> dict[str, Any]:  # fmt: skip
    """``POST /api/v2/media`` 200 (processed) or 202 (``url`` still null), and
    ``GET /api/v1/media/{id}`` 200: a MediaAttachment
    (https://docs.joinmastodon.org/methods/media/#v2, https://docs.joinmastodon.org/entities/MediaAttachment/);
    ``description`` is the alt text as Mastodon keeps it."""
    files = f"{base}/system/media_attachments/files/022/348/641"
    extension = "mp4" if kind in ("video", "gifv") else "jpeg"
    return {
        "id": media_id,
        "type": kind,
        "url": f"{files}/original/e96382f26c72a29c.{extension}" if processed else None,
        "preview_url": f"{files}/small/e96382f26c72a29c.jpeg",
        "remote_url": None,
        "meta": {"original": {"width": 64, "height": 48, "size": "64x48", "aspect": 1.3333333333333333}},
        "description": description,
        "blurhash": "UFBWY:8_0Jxv4mx]t8t64.%M-:IUWGWAt6M}",
    }


def status_with_media(status_id: str, attachments: list[dict[str, Any]], base: str = BASE) -> dict[str, Any]:
    """``POST /api/v1/statuses`` 200: a Status whose ``media_attachments`` are the uploads."""
    return {**status(status_id, base=base), "media_attachments": attachments}
