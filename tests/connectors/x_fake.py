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


def me(user_id: str = "2244994945", username: str = "livuni") -> dict[str, Any]:
    """``GET /2/users/me`` 200: ``GetUsersMeResponse`` (https://docs.x.com/x-api/users/user-lookup-me)."""
    return {"data": {"id": user_id, "name": "University of Liverpool", "username": username}}


def tweet(tweet_id: str, text: str, created_at: str) -> dict[str, Any]:
    """One ``Post`` as listed with ``tweet.fields=created_at``, with ``edit_history_tweet_ids``,
    which X returns by default (https://docs.x.com/x-api/fundamentals/edit-posts) and tweepy
    warns without; the document's Post does not name it but allows more properties."""
    return {"id": tweet_id, "text": text, "created_at": created_at, "edit_history_tweet_ids": [tweet_id]}


def tweets_page(tweets: list[dict[str, Any]], next_token: str | None = None) -> dict[str, Any]:
    """``GET /2/users/{id}/tweets`` 200: ``GetUsersPostsResponse``
    (https://docs.x.com/x-api/users/get-posts): ``data`` (left out when empty, as X does) and
    ``meta`` with ``next_token`` when there is another page."""
    meta: dict[str, Any] = {"result_count": len(tweets)}
    if tweets:
        meta |= {"newest_id": tweets[0]["id"], "oldest_id": tweets[-1]["id"]}
    if next_token:
        meta["next_token"] = next_token
    return {"data": tweets, "meta": meta} if tweets else {"meta": meta}


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


# --- media upload (X API v2), each from its reference page --------------------------------


def uploaded(media_id: str, *, state: str | None = None, check_after: int = 1) -> dict[str, Any]:
    """``POST /2/media/upload`` 200 (one request): ``MediaUploadResponse``
    (https://docs.x.com/x-api/media/media-upload); ``processing_info`` only when X still
    processes the file."""
    data: dict[str, Any] = {"id": media_id, "media_key": f"3_{media_id}", "expires_after_secs": 86400}
    if state is not None:
        data["processing_info"] = {"state": state, "check_after_secs": check_after}
    return {"data": data}


def initialized(media_id: str) -> dict[str, Any]:
    """``POST /2/media/upload/initialize`` 200: ``InitializeMediaUploadResponse``
    (https://docs.x.com/x-api/media/initialize-media-upload, and the chunked quickstart
    https://docs.x.com/x-api/media/quickstart/media-upload-chunked, whose example this is)."""
    return {"data": {"id": media_id, "media_key": f"13_{media_id}", "expires_after_secs": 1295999}}


def appended(expires_at: int = 1893456000) -> dict[str, Any]:
    """``POST /2/media/upload/{id}/append`` 200: ``AppendMediaUploadResponse``
    (https://docs.x.com/x-api/media/append-media-upload)."""
    return {"data": {"expires_at": expires_at}}


def finalized(media_id: str, size: int, *, state: str | None = "pending", check_after: int = 1) -> dict[str, Any]:
    """``POST /2/media/upload/{id}/finalize`` 200: ``FinalizeMediaUploadResponse``
    (https://docs.x.com/x-api/media/finalize-media-upload; the quickstart's example: a video is
    ``pending`` with ``check_after_secs``; without ``processing_info`` it is ready)."""
    data: dict[str, Any] = {"id": media_id, "media_key": f"13_{media_id}", "size": size, "expires_after_secs": 86400}
    if state is not None:
        data["processing_info"] = {"state": state, "check_after_secs": check_after}
    return {"data": data}


def upload_status(media_id: str, state: str, *, check_after: int = 5, percent: int = 50) -> dict[str, Any]:
    """``GET /2/media/upload?command=STATUS&media_id=`` 200: ``GetMediaUploadStatusResponse``
    (https://docs.x.com/x-api/media/get-media-upload-status); states ``pending``,
    ``in_progress``, ``succeeded``, ``failed``. ``check_after_secs`` only while processing."""
    info: dict[str, Any] = {"state": state}
    if state in ("pending", "in_progress"):
        info |= {"check_after_secs": check_after, "progress_percent": percent}
    elif state == "succeeded":
        info["progress_percent"] = 100
    return {"data": {"id": media_id, "media_key": f"13_{media_id}", "processing_info": info}}


def metadata_created(media_id: str, alt_text: str) -> dict[str, Any]:
    """``POST /2/media/metadata`` 200: ``CreateMediaMetadataResponse``
    (https://docs.x.com/x-api/media/media-metadata-create)."""
    return {"data": {"id": media_id, "associated_metadata": {"alt_text": {"text": alt_text}}}}


def subtitles_created(video_id: str, subtitles_id: str, language_code: str) -> dict[str, Any]:
    """``POST /2/media/subtitles`` 200: ``CreateMediaSubtitlesResponse``
    (https://docs.x.com/x-api/media/media-subtitles-create)."""
    return {
        "data": {
            "id": video_id,
            "media_category": "TweetVideo",
            "associated_subtitles": {"subtitles": [{"id": subtitles_id, "language_code": language_code}]},
        }
    }
