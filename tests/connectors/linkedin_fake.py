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


def post(urn: str, author: str, commentary: str, published_ms: int, modified_ms: int | None = None) -> dict[str, Any]:
    """One Post as "Find Posts by Authors" lists it (the Posts API page's Post schema):
    ``id`` the URN, ``commentary``, ``createdAt``/``publishedAt``/``lastModifiedAt`` in epoch ms."""
    if not urn.startswith(("urn:li:share:", "urn:li:ugcPost:")):
        raise ValueError(f"a post's URN is urn:li:share:... or urn:li:ugcPost:..., not {urn!r}")
    return {
        "id": urn,
        "author": author,
        "commentary": commentary,
        "visibility": "PUBLIC",
        "distribution": {"feedDistribution": "MAIN_FEED", "targetEntities": [], "thirdPartyDistributionChannels": []},
        "lifecycleState": "PUBLISHED",
        "lifecycleStateInfo": {"isEditedByAuthor": modified_ms is not None},
        "isReshareDisabledByAuthor": False,
        "createdAt": published_ms,
        "publishedAt": published_ms,
        "lastModifiedAt": modified_ms or published_ms,
    }


def posts_by_author(elements: list[dict[str, Any]], *, start: int, count: int, author: str) -> dict[str, Any]:
    """``GET /rest/posts?q=author`` 200: ``elements`` and ``paging`` (``start``, ``count``, and a
    ``next`` link while a full page came back), as the Posts API page shows it."""
    links = []
    if len(elements) == count:
        links.append(
            {
                "type": "application/json",
                "rel": "next",
                "href": f"/rest/posts?author={author}&count={count}&q=author&start={start + count}",
            }
        )
    return {"paging": {"start": start, "count": count, "links": links}, "elements": elements}


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
