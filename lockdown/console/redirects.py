"""Where a console form may send the browser afterwards: back to one of the console's own pages."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import current_app, request
from werkzeug.exceptions import HTTPException


def console_page(target: str | None, default: str) -> str:
    """``target`` when it is the path (and query) of a console page, else ``default``."""
    # Only visible ASCII: browsers and Werkzeug drop tabs and line breaks from a URL after any
    # check ("/\t/evil.example/" is sent as "//evil.example/"), and a line break splits the header.
    if not target or not all("!" <= char <= "~" for char in target) or "\\" in target:
        return default
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not parts.path.startswith("/"):
        return default
    try:
        endpoint, _ = current_app.url_map.bind_to_environ(request.environ).match(parts.path, method="GET")
    except HTTPException:  # no such page, not a page one can GET, or a redirect elsewhere
        return default
    return target if str(endpoint).startswith("console.") else default
