"""JSON request bodies that Python can parse but the service cannot hold: nesting deeper than the
parser's recursion limit (a ``RecursionError``, not a ``ValueError``, so Flask let it become a 500)
and strings with unpaired surrogates (``"\\ud800"`` is valid JSON, but not text SQLite or a log can
store). Both are refused as 400s naming where they are."""

from __future__ import annotations

from typing import Any

from flask import Response, current_app, jsonify, request
from flask.json.provider import DefaultJSONProvider

MAX_DEPTH = 64  # far beyond any body the API takes; the parser's own limit is about 1,000


class NestedTooDeep(ValueError):
    """A JSON body nested beyond MAX_DEPTH."""


class CheckedJSONProvider(DefaultJSONProvider):
    """Flask's JSON, with too deep a body refused as malformed (Flask answers a ValueError with 400)."""

    def loads(self, s: str | bytes, **kwargs: Any) -> Any:
        """Parse ``s``; a body nested too deeply raises ValueError rather than RecursionError."""
        try:
            value = super().loads(s, **kwargs)
        except RecursionError:
            raise NestedTooDeep(f"the request body is nested more than {MAX_DEPTH} deep") from None
        if _depth_over(value, MAX_DEPTH):
            raise NestedTooDeep(f"the request body is nested more than {MAX_DEPTH} deep")
        return value


def _depth_over(value: Any, limit: int) -> bool:
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict | list):
            if depth > limit:
                return True
            children = item.values() if isinstance(item, dict) else item
            stack.extend((child, depth + 1) for child in children)
    return False


def unpaired_surrogate_at(value: Any, path: str = "") -> str | None:
    """The dotted path of the first key or string holding an unpaired surrogate, or None."""
    stack: list[tuple[Any, str]] = [(value, path)]
    while stack:
        item, where = stack.pop()
        if isinstance(item, str):
            if not _encodable(item):
                return where or "body"
        elif isinstance(item, dict):
            for key, child in item.items():
                name = f"{where}.{key}" if where else str(key)
                if not _encodable(str(key)):
                    return where or "body"
                stack.append((child, name))
        elif isinstance(item, list):
            stack.extend((child, f"{where}.{index}" if where else str(index)) for index, child in enumerate(item))
    return None


def _encodable(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def refuse_unreadable_json() -> tuple[Response, int] | None:
    """Before a view (whose parser would meet the same body): JSON nested too deeply is 400
    ``malformed_json``, and an unpaired surrogate is 400 naming its field."""
    if not request.is_json or not request.content_length:
        return None
    try:
        body = current_app.json.loads(request.get_data())
    except ValueError as exc:
        if isinstance(exc, NestedTooDeep):
            return jsonify({"error": {"code": "malformed_json", "message": str(exc)}}), 400
        return None  # the view's parser names what is wrong
    where = unpaired_surrogate_at(body)
    if where is None:
        return None
    error = {
        "code": "invalid_input",
        "message": f"{where}: contains an unpaired surrogate (such as \\ud800), which is not text",
        "field": where,
    }
    return jsonify({"error": error}), 400
