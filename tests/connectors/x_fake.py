"""A fake X's answers in the shapes of X's API v2 document (``tests/specs/x-api-v2.openapi.json``,
from https://docs.x.com/x-api): a created post, a deletion, and the document's problems
(``application/problem+json``). ``problem`` refuses a kind, or a missing field, the document does
not have.

``about_blank`` is X's real answer to an unauthenticated, forbidden or rate-limited call
(``"type": "about:blank"``), which the document's ``Problem`` does not list: a test that uses it
is marked ``off_contract``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

DOCUMENT = json.loads((Path(__file__).resolve().parent.parent / "specs" / "x-api-v2.openapi.json").read_text())
PROBLEM_JSON = "application/problem+json"
_SCHEMAS = DOCUMENT["components"]["schemas"]
# type URL -> schema name, from the Problem's discriminator
_PROBLEMS = {
    url.rsplit("/", 1)[1]: ref.rsplit("/", 1)[1] for url, ref in _SCHEMAS["Problem"]["discriminator"]["mapping"].items()
}


def created(tweet_id: str, text: str) -> dict[str, Any]:
    """``POST /2/tweets`` 201: ``CreatePostsResponse``."""
    return {"data": {"id": tweet_id, "text": text}}


def deleted(done: bool = True) -> dict[str, Any]:
    """``DELETE /2/tweets/{id}`` 200: ``DeletePostsResponse``."""
    return {"data": {"deleted": done}}


def problem(kind: str, status: int, title: str, detail: str, **fields: str) -> dict[str, Any]:
    """Keyword arguments for ``fake.add``: a problem of one of the document's kinds
    (``invalid-request``, ``resource-not-found``, ``internal-error``, ...)."""
    if kind not in _PROBLEMS:
        raise ValueError(f"X's document has no problem {kind!r}; it has {', '.join(sorted(_PROBLEMS))}")
    body: dict[str, Any] = {
        "type": f"https://api.x.com/2/problems/{kind}",
        "title": title,
        "detail": detail,
        "status": status,
        **fields,
    }
    schema = _SCHEMAS[_PROBLEMS[kind]]
    missing = [name for name in schema["required"] if name not in body]
    unknown = [name for name in body if name not in schema["properties"]]
    if missing or unknown:
        raise ValueError(f"X's {kind} problem needs {missing} and has no {unknown}")
    return {"status": status, "body": json.dumps(body), "content_type": PROBLEM_JSON}


def about_blank(status: int, title: str, detail: str | None = None) -> dict[str, Any]:
    """Keyword arguments for ``fake.add``: X's generic problem, outside its document."""
    body = {"type": "about:blank", "title": title, "detail": detail or title, "status": status}
    return {"status": status, "body": json.dumps(body), "content_type": PROBLEM_JSON}
