"""A fake LinkedIn Posts API's answers in the shapes of its reference pages. Each builder names
the page it follows, and refuses a shape the page does not have.

- Posts API, https://learn.microsoft.com/en-us/linkedin/marketing/community-management/shares/posts-api:
  creating a post answers ``201 Created`` with no body and the post's URN in ``x-restli-id``;
  deleting one answers ``204 No Content``; identical content again is ``422`` with the code
  ``DUPLICATE_POST``.
- Errors, https://learn.microsoft.com/en-us/linkedin/shared/api-guide/concepts/error-handling:
  ``{"status", "serviceErrorCode", "code", "message"}`` with the statuses that page lists; a
  sunset ``LinkedIn-Version`` is ``426``
  (https://learn.microsoft.com/en-us/linkedin/marketing/versioning).
"""

from __future__ import annotations

from typing import Any

# error-handling: 400, 401, 403, 404, 405, 411, 429, 500, 503, 504; the Posts API's 422;
# versioning's 426.
DOCUMENTED_STATUSES = frozenset({400, 401, 403, 404, 405, 411, 422, 426, 429, 500, 503, 504})


def created(urn: str) -> dict[str, Any]:
    """Keyword arguments for ``fake.add``: ``POST /rest/posts`` accepted."""
    if not urn.startswith(("urn:li:share:", "urn:li:ugcPost:")):
        raise ValueError(f"a post's URN is urn:li:share:... or urn:li:ugcPost:..., not {urn!r}")
    return {"status": 201, "body": "", "headers": {"x-restli-id": urn}}


def deleted() -> dict[str, Any]:
    """Keyword arguments for ``fake.add``: ``DELETE /rest/posts/{urn}`` done."""
    return {"status": 204, "body": ""}


def error(
    status: int, message: str, *, service_error_code: int | None = None, code: str | None = None
) -> dict[str, Any]:
    """Keyword arguments for ``fake.add``: LinkedIn's error body."""
    if status not in DOCUMENTED_STATUSES:
        raise ValueError(f"LinkedIn's pages list no {status} answer; they list {sorted(DOCUMENTED_STATUSES)}")
    body: dict[str, Any] = {"status": status, "message": message}
    if service_error_code is not None:
        body["serviceErrorCode"] = service_error_code
    if code is not None:
        body["code"] = code
    return {"status": status, "json": body}
