"""The console's blueprint: CSRF on every form, template globals, and errors as pages, not JSON."""

from __future__ import annotations

import logging
import sqlite3
from typing import Any

from apiflask import APIBlueprint
from flask import Response, current_app, render_template, request
from werkzeug.exceptions import HTTPException

from lockdown.api.state import app_state, request_context
from lockdown.console.auth import check_csrf, csrf_token, signed_in_user
from lockdown.errors import DatabaseBusy, LockdownError
from lockdown.notify.delivery import waiting_for_mail
from lockdown.readiness.status import how_long
from lockdown.store.busy import is_busy
from lockdown.timeutil import parse_iso

log = logging.getLogger(__name__)

# Pages for people, not part of the API document.
bp = APIBlueprint(
    "console",
    __name__,
    template_folder="templates",
    static_folder="static",
    static_url_path="/console-static",
    enable_openapi=False,
)


@bp.before_request
def _protect_forms() -> None:
    check_csrf()


# The main menu: endpoint, label, and the roles that may open it (None: anyone signed in).
PAGES: tuple[tuple[str, str, frozenset[str] | None], ...] = (
    ("console.dashboard", "Dashboard", None),
    ("console.my_accounts", "My accounts", frozenset({"manager", "editor"})),
    ("console.incidents", "Incidents", None),
    ("console.posts", "Posts", None),
    ("console.escalations", "Escalations", None),
    ("console.credentials", "Credentials", frozenset({"press", "manager", "ermc"})),
    ("console.register", "Register", frozenset({"ermc"})),
    ("console.audit", "Audit", frozenset({"ermc"})),
)


def nav() -> list[tuple[str, str]]:
    """The menu entries the signed-in user may open."""
    user = signed_in_user()
    if user is None:
        return []
    return [
        (endpoint, label)
        for endpoint, label, roles in PAGES
        if endpoint in current_app.view_functions and (roles is None or any(user.has(role) for role in roles))
    ]


def mail_waiting() -> int:
    """For ERMC and the press team: how many notices wait because no mail is configured."""
    user = signed_in_user()
    if user is None or not user.has("ermc", "press"):
        return 0
    return waiting_for_mail(request_context().db)


@bp.app_context_processor
def _globals() -> dict[str, Any]:
    return {
        "csrf_token": csrf_token, "me": signed_in_user, "nav": nav, "mail_waiting": mail_waiting,
        "settings_oidc": lambda: app_state().settings.oidc,
    }  # fmt: skip


# Pages that only ever load their own files: no framing (the Declare button must not be
# clickjacked), no inline script, forms post only here.
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; frame-ancestors 'none'; form-action 'self'; "
    "base-uri 'none'; object-src 'none'",
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
}


@bp.after_request
def _security_headers(response: Response) -> Response:
    for name, value in SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)
    return response


@bp.app_template_filter("local")
def local_time(value: str | None, pattern: str = "%a %d %b %Y %H:%M:%S %Z") -> str:
    """A stored UTC time as people here read it: the installation's zone, weekday, no microseconds."""
    if not value:
        return "-"
    try:
        moment = parse_iso(value).astimezone(app_state().settings.zone)
    except ValueError:
        return value
    return moment.strftime(pattern)


@bp.app_template_filter("ago")
def time_ago(value: str | None) -> str:
    """A stored UTC time as how long ago it was: '12 minutes ago', 'just now'."""
    if not value:
        return "never"
    try:
        lasted = how_long(value, request_context().now())
    except ValueError:
        return value
    return "just now" if lasted == "under a minute" else f"{lasted} ago"


@bp.app_template_filter("sentence")
def sentence(text: str) -> str:
    """Service messages are written lower-case for the API's JSON; a page starts them with a capital."""
    return text[:1].upper() + text[1:]


def error_page(message: str, status: int) -> Response:
    """A page saying what went wrong, with the status the API would have given."""
    return Response(render_template("error.html", message=message, status=status), status)


@bp.errorhandler(LockdownError)
def _service_error(error: LockdownError) -> Response:
    page = error_page(error.message, error.status)
    page.headers.update(error.headers())
    return page


@bp.errorhandler(sqlite3.OperationalError)
def _database_error(error: sqlite3.OperationalError) -> Response:
    # The same answer the API gives: busy is "come back shortly", anything else was logged.
    if is_busy(error):
        log.warning("%s %s answered 503: %s", request.method, request.path, error)
        return _service_error(DatabaseBusy())
    log.exception("unexpected database error")
    return error_page("something went wrong; it was logged", 500)


@bp.errorhandler(HTTPException)
def _http_error(error: HTTPException) -> Response:
    return error_page(error.description or error.name, error.code or 500)
