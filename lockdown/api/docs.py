"""The API's interactive documentation at /docs: Swagger UI served from the pinned copy in the
``swagger-ui-bundle`` package, so it works offline and loads nothing from another origin.

APIFlask's own /docs fetches an unpinned Swagger UI from a CDN and starts it with an inline
script; here the page, the UI and its starter are all files of this origin under a strict
Content-Security-Policy.
"""

from __future__ import annotations

from pathlib import Path

from apiflask import APIBlueprint
from flask import Response, abort, send_from_directory
from swagger_ui_bundle import swagger_ui_path

bp = APIBlueprint("docs", __name__, enable_openapi=False)

HERE = Path(__file__).with_name("docs_static")
UI_FILES = frozenset({"swagger-ui.css", "swagger-ui-bundle.js"})
# Swagger UI sets style attributes and shows images as data: URIs; scripts come from here only.
POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
    "connect-src 'self'; font-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
)
PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Lockdown API</title>
<link rel="stylesheet" href="/docs/ui/swagger-ui.css">
</head>
<body>
<div id="swagger-ui"></div>
<script src="/docs/ui/swagger-ui-bundle.js"></script>
<script src="/docs/start.js"></script>
</body>
</html>
"""


def _guarded(response: Response) -> Response:
    response.headers["Content-Security-Policy"] = POLICY
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


@bp.get("/docs")
@bp.doc(hide=True)
def docs_page() -> Response:
    """The documentation page."""
    return _guarded(Response(PAGE, mimetype="text/html"))


@bp.get("/docs/ui/<name>")
@bp.doc(hide=True)
def ui_file(name: str) -> Response:
    """One of Swagger UI's own files, from the installed package."""
    if name not in UI_FILES:
        abort(404)
    return _guarded(send_from_directory(swagger_ui_path, name, max_age=3600))


@bp.get("/docs/start.js")
@bp.doc(hide=True)
def start_script() -> Response:
    """The few lines that start Swagger UI on /openapi.json."""
    return _guarded(send_from_directory(HERE, "start.js", max_age=3600))
