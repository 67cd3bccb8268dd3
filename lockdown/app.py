"""The Flask application factory. Nothing starts at import; the scheduler has its own command."""

from __future__ import annotations

import hashlib
import hmac
import logging
import sqlite3
from datetime import timedelta
from typing import Any

from apiflask import APIFlask
from apiflask.exceptions import HTTPError
from flask import Response, current_app, jsonify, request
from werkzeug.datastructures import Headers
from werkzeug.exceptions import HTTPException
from werkzeug.routing import IntegerConverter

from lockdown import __version__, console
from lockdown.api import (
    accounts,
    cap,
    cap_in,
    credentials,
    docs,
    escalations,
    incidents,
    media,
    meta,
    metrics,
    posts,
    promotion,
)
from lockdown.api import audit as audit_views
from lockdown.api.client_address import TrustedProxies
from lockdown.api.json_input import CheckedJSONProvider, refuse_unreadable_json
from lockdown.api.schemas import ERROR_SCHEMA
from lockdown.api.state import AppState, close_request_context
from lockdown.crypto import Vault
from lockdown.errors import DatabaseBusy, LockdownError
from lockdown.incidents.config import incident_config
from lockdown.settings import Settings
from lockdown.store import audit
from lockdown.store.busy import is_busy
from lockdown.store.db import connect
from lockdown.store.migrations import migrate
from lockdown.timeutil import Clock, utcnow

log = logging.getLogger(__name__)

MAX_BODY_BYTES = 32 * 1024 * 1024  # a 10,000-row register CSV is about 2 MB
STATUS_CODES = {
    400: "invalid_input",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "body_too_large",
    415: "unsupported_media_type",
    422: "rule_broken",
    423: "account_held",
    500: "internal_error",
    503: "busy",
}
CSV_BODY_PATHS = ("/api/v1/accounts/import", "/api/v1/posts/import")
# Uploads of images and video, the one multipart body; a video may be far larger than any JSON.
MEDIA_UPLOAD_PATH = "/api/v1/media"
MEDIA_UPLOAD_PATHS = (MEDIA_UPLOAD_PATH, "/uploads")  # the API's and the console's
MEDIA_FILE_PATHS = ("/api/v1/media/{media_id}/content", "/media/public/{token}")
MEDIA_TYPES = ("image/jpeg", "image/png", "image/webp", "image/gif", "video/mp4")
MAX_MEDIA_BYTES = 1024 * 1024 * 1024  # Facebook's ceiling for a video, the largest any platform here takes


def create_app(config: Settings | None = None, *, clock: Clock | None = None) -> APIFlask:
    """Build an app on the given settings (default: the environment) and migrate its database."""
    settings = config if config is not None else Settings.from_env()
    key = audit.audit_key(settings.require_secret_key())
    # docs_path=None: /docs is served by lockdown.api.docs from a pinned, offline Swagger UI.
    app = APIFlask("lockdown", title="Lockdown API", version=__version__, spec_path="/openapi.json", docs_path=None)
    app.json = CheckedJSONProvider(app)
    app.config.update(
        OPENAPI_VERSION="3.0.3",
        VALIDATION_ERROR_STATUS_CODE=400,
        VALIDATION_ERROR_SCHEMA=ERROR_SCHEMA,
        HTTP_ERROR_SCHEMA=ERROR_SCHEMA,
        MAX_CONTENT_LENGTH=MAX_BODY_BYTES,
        # Console sessions are signed with a key of their own, derived from the secret key.
        SECRET_KEY=hmac.new(key, b"lockdown console sessions", hashlib.sha256).hexdigest(),
        SESSION_COOKIE_SECURE=True,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        PERMANENT_SESSION_LIFETIME=timedelta(hours=12),
        SECURITY_SCHEMES={"BearerAuth": {"type": "http", "scheme": "bearer"}},
    )
    app.extensions["lockdown"] = AppState(
        settings, key, clock or utcnow, Vault(settings.vault_keys), incident_config(settings)
    )
    with connect(settings.db_path, busy_timeout=settings.busy_timeout_seconds) as db:
        migrate(db)
    app.url_map.converters["int"] = IdConverter
    app.teardown_appcontext(close_request_context)
    app.before_request(_allow_large_uploads)
    app.before_request(_refuse_wrong_media_type)
    app.before_request(_refuse_repeated_parameters)
    app.before_request(refuse_unreadable_json)
    for blueprint in (
        meta.bp,
        metrics.bp,
        docs.bp,
        accounts.bp,
        posts.bp,
        media.bp,
        media.public,
        cap.public,
        incidents.bp,
        promotion.bp,
        escalations.bp,
        cap_in.bp,
        credentials.bp,
        audit_views.bp,
    ):
        app.register_blueprint(blueprint)
    app.register_blueprint(console.bp)
    console.provider_pages.init_provider(app, settings.oidc)
    _install_error_handlers(app)
    app.spec_processor(_finish_spec)
    if settings.trusted_proxies:
        app.wsgi_app = TrustedProxies(app.wsgi_app, settings.trusted_proxies)  # type: ignore[method-assign]
    return app


class IdConverter(IntegerConverter):
    """Ids in URLs: at most 18 digits, so every one fits SQLite's integers; a longer one
    matches no route and is a plain 404 (a converter's max= check makes Werkzeug answer 405)."""

    regex = r"\d{1,18}"


def _install_error_handlers(app: APIFlask) -> None:
    @app.error_processor
    def http_error(error: HTTPError) -> tuple[dict[str, Any], int, Any]:
        return _http_error_body(error), error.status_code, error.headers

    @app.errorhandler(LockdownError)
    def service_error(error: LockdownError) -> tuple[Response, int, dict[str, str]]:
        return jsonify(error.body()), error.status, error.headers()

    @app.errorhandler(sqlite3.OperationalError)
    def database_error(error: sqlite3.OperationalError) -> tuple[Response, int, dict[str, str]]:
        # Waiting longer for the write lock than the busy timeout allows is the service being
        # busy, not broken: the client is told to come back, and nothing was half-written.
        if is_busy(error):
            log.warning("%s %s answered 503: %s", request.method, request.path, error)
            return service_error(DatabaseBusy())
        return (*unexpected(error), {})

    @app.errorhandler(Exception)
    def unexpected(error: Exception) -> tuple[Response, int]:
        if isinstance(error, HTTPException):  # pragma: no cover - APIFlask handles these first
            raise error
        log.exception("unexpected error")
        body = {"error": {"code": "internal_error", "message": "something went wrong; it was logged"}}
        return jsonify(body), 500


def _http_error_body(error: HTTPError) -> dict[str, Any]:
    """The one error shape for errors raised by Flask, Werkzeug and the request parser."""
    status = error.status_code
    body: dict[str, Any] = {"code": STATUS_CODES.get(status, "error"), "message": error.message}
    detail = error.detail if isinstance(error.detail, dict) else {}
    problems = [
        (f"{name}" if location in ("json", "query") else location, messages)
        for location, fields in detail.items()
        for name, messages in (fields.items() if isinstance(fields, dict) else [("", fields)])
    ]
    if problems:
        field, messages = problems[0]
        text = _first(messages)
        if isinstance(messages, dict):  # a nested field: name its first part
            inner, inner_messages = next(iter(messages.items()))
            field, text = f"{field}.{inner}", _first(inner_messages)
        body["message"] = f"{field}: {text}" if field else str(text)
        if field:
            body["field"] = field
        body["errors"] = [{"field": name, "message": _first(m)} for name, m in problems]
    if status == 404 and not problems:
        body["message"] = f"there is nothing at {request.path}; the API is described at /openapi.json"
    if status == 405 and not problems:
        allowed = Headers(error.headers).get("Allow", "")
        body["message"] = f"{request.method} is not allowed here; allowed: {allowed}"
    if status == 400 and not problems and request.is_json and not _parses(request.get_data()):
        body.update(code="malformed_json", message="the request body is not valid JSON")
    return {"error": body}


def _first(messages: Any) -> str:
    return str(messages[0]) if isinstance(messages, list) and messages else str(messages)


def _parses(data: bytes) -> bool:
    try:
        # The app's parser: a body nested too deeply is a ValueError there, never a RecursionError
        # (refuse_unreadable_json has named it before any view ran).
        current_app.json.loads(data)
    except ValueError:
        return False
    return True


def _refuse_repeated_parameters() -> tuple[Response, int] | None:
    """Every query parameter takes one value: ``?central=true&central=false`` is ambiguous."""
    for name, values in request.args.lists():
        if len(values) > 1:
            error = {
                "code": "invalid_input",
                "message": f"{name} is given {len(values)} times; give it once",
                "field": name,
            }
            return jsonify({"error": error}), 400
    return None


def _allow_large_uploads() -> None:
    """A media upload may be a video of hundreds of megabytes (streamed to a file, never held in
    memory); every other body keeps the small ceiling."""
    if request.path in MEDIA_UPLOAD_PATHS:
        request.max_content_length = MAX_MEDIA_BYTES


def _refuse_wrong_media_type() -> tuple[Response, int] | None:
    """A body in the wrong format is 415 naming the expected type, not a list of missing fields."""
    if request.method not in ("POST", "PUT", "PATCH") or not request.path.startswith("/api/"):
        return None
    if not request.content_length:
        return None
    wanted = "text/csv" if request.path in CSV_BODY_PATHS else "application/json"
    if request.path == MEDIA_UPLOAD_PATH:
        wanted = "multipart/form-data"
    if request.path == cap_in.CAP_PATH:
        # A CAP alert is XML: application/cap+xml (its registered type) or application/xml.
        if request.mimetype in cap_in.CAP_MEDIA_TYPES:
            return None
        wanted = cap_in.CAP_MEDIA_TYPES[0]
    if request.mimetype == wanted or (wanted == "application/json" and request.is_json):
        return None
    message = f"send the body as {wanted} (Content-Type: {wanted}), not {request.mimetype or 'no type'}"
    return jsonify({"error": {"code": "unsupported_media_type", "message": message}}), 415


BUSY_RESPONSE = {
    "description": "The database stayed busy with other changes for longer than this request could wait "
    "for its turn: try again after Retry-After seconds",
    "headers": {"Retry-After": {"description": "seconds to wait", "schema": {"type": "integer"}}},
    "content": {"application/json": {"schema": ERROR_SCHEMA}},
}
WRITING_METHODS = ("post", "put", "patch", "delete")


def _finish_spec(spec: dict[Any, Any] | str) -> dict[Any, Any] | str:
    """Mark request bodies required (APIFlask leaves them optional), describe the CSV body, and
    the 503 any change may answer when the database is busy."""
    if isinstance(spec, str):
        return spec
    for path, operations in spec.get("paths", {}).items():
        for method, operation in operations.items():
            if not isinstance(operation, dict):
                continue
            if method in WRITING_METHODS:
                operation["responses"]["503"] = BUSY_RESPONSE
            if "requestBody" in operation:
                operation["requestBody"]["required"] = True
                operation["responses"]["415"] = {
                    "description": "The body is not in the expected format",
                    "content": {"application/json": {"schema": ERROR_SCHEMA}},
                }
            if path in MEDIA_FILE_PATHS and "200" in operation.get("responses", {}):
                # The stored file, in the type it was checked to be (APIFlask documents one).
                binary = {"schema": {"type": "string", "format": "binary"}}
                operation["responses"]["200"]["content"] = {mime: binary for mime in MEDIA_TYPES}
            if path == cap_in.CAP_PATH and method == "post":
                xml = {"schema": {"type": "string", "description": "a CAP 1.2 alert (OASIS cap12.xsd)"}}
                operation["requestBody"] = {"required": True, "content": dict.fromkeys(cap_in.CAP_MEDIA_TYPES, xml)}
                operation["responses"]["200"] = {
                    "description": "The same alert (sender, identifier) was received before: its proposal, unchanged",
                    "content": operation["responses"]["201"]["content"],
                }
                operation["responses"]["415"] = {
                    "description": "The body is not in the expected format",
                    "content": {"application/json": {"schema": ERROR_SCHEMA}},
                }
            if path in CSV_BODY_PATHS:
                operation["requestBody"] = {
                    "required": True,
                    "content": {"text/csv": {"schema": {"type": "string"}}},
                }
    return spec
