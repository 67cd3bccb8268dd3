"""Console pages for the register (ERMC): browse and filter, add, edit, CSV import and export."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from typing import Any

from flask import Response, flash, redirect, render_template, request, stream_with_context, url_for
from werkzeug.wrappers import Response as BaseResponse

from connectors.registry import CONNECTORS
from lockdown.api.state import app_state, request_context
from lockdown.console.auth import login_required, signed_in_user
from lockdown.console.blueprint import bp
from lockdown.errors import InvalidInput, LockdownError
from lockdown.people.users import User
from lockdown.register.accounts import (
    FIELDS,
    PLATFORMS,
    REQUIRED,
    get_account,
    list_accounts,
    register_account,
    update_account,
)
from lockdown.register.csv_import import export_accounts, import_accounts

PAGE_SIZE = 50
FILTERS = ("q", "held", "platform", "unit", "manager")
HELD = {"yes": True, "no": False}
# Form inputs are named after the service's fields; a nested field (connector.url) is its input's.
TEXT_FIELDS = ("handle", "platform", "unit", "purpose", "monitored_hours", "manager", "naming_exception")
LIST_SPLIT = re.compile(r"[\s,;]+")


def _ermc() -> User:
    """The signed-in user, refused with 403 unless they are ERMC."""
    user = signed_in_user()
    assert user is not None, "login_required runs first"
    user.require("ermc")
    return user


@bp.get("/register")
@login_required
def register() -> str:
    """The register as a table, narrowed by filters in the URL, a page at a time."""
    _ermc()
    chosen = {name: request.args.get(name, "").strip() for name in FILTERS}
    found = list_accounts(
        request_context().db,
        q=chosen["q"] or None,
        held=HELD.get(chosen["held"]),
        platform=chosen["platform"] or None,
        unit=chosen["unit"] or None,
        manager=chosen["manager"] or None,
        limit=PAGE_SIZE,
        cursor=request.args.get("cursor") or None,
    )
    shown: dict[str, Any] = {name: value for name, value in chosen.items() if value}
    return render_template(
        "register.html",
        accounts=found["items"],
        filters=chosen,
        platforms=PLATFORMS,
        next_url=url_for("console.register", **shown, cursor=found["next"]) if found["next"] else None,
        first_url=url_for("console.register", **shown) if request.args.get("cursor") else None,
    )


@bp.route("/register/new", methods=["GET", "POST"])
@login_required
def register_new() -> BaseResponse | str:
    """Register one account through a form; a broken rule re-shows the form naming its field."""
    user = _ermc()
    if request.method == "GET":
        return _account_form(_blank_form())
    form = _form_values(request.form)
    try:
        account = register_account(request_context(), user, _new_account_data(form), app_state().vault)
    except LockdownError as exc:
        return _account_form(form, exc)
    flash(f"{account['handle']} on {account['platform']} is registered (account {account['id']}).", "ok")
    return redirect(url_for("console.register"))


@bp.route("/register/<int:account_id>/edit", methods=["GET", "POST"])
@login_required
def register_edit(account_id: int) -> BaseResponse | str:
    """Change an account through a prefilled form; only the fields changed are sent."""
    user = _ermc()
    current = get_account(request_context().db, account_id)
    if request.method == "GET":
        return _account_form(_account_to_form(current), account=current)
    form = _form_values(request.form)
    try:
        changes = _changed_fields(form, current)
        if not changes:
            flash(f"Nothing changed on {current['handle']}.", "ok")
            return redirect(url_for("console.register"))
        account = update_account(request_context(), user, account_id, changes, app_state().vault)
    except LockdownError as exc:
        return _account_form(form, exc, account=current)
    flash(f"{account['handle']} on {account['platform']} is updated: {', '.join(sorted(changes))}.", "ok")
    return redirect(url_for("console.register"))


@bp.route("/register/import", methods=["GET", "POST"])
@login_required
def register_import() -> BaseResponse | str:
    """Register every row of an uploaded CSV, or none, listing every error by line."""
    user = _ermc()
    if request.method == "GET":
        return render_template("register_import.html", fields=FIELDS, required=REQUIRED)
    upload = request.files.get("file")
    try:
        if upload is None or not upload.filename:
            raise InvalidInput("choose a CSV file to import", field="file")
        done = import_accounts(request_context(), user, upload.read(), app_state().vault)
    except LockdownError as exc:
        page = render_template(
            "register_import.html",
            fields=FIELDS,
            required=REQUIRED,
            error=exc,
            errors=exc.extra.get("errors", []),
            error_count=exc.extra.get("error_count", 0),
        )
        return Response(page, exc.status)
    flash(f"{done['created']} accounts imported from {upload.filename}.", "ok")
    return redirect(url_for("console.register"))


@bp.get("/register/export")
@login_required
def register_export() -> Response:
    """Download the active register as CSV in the import's columns."""
    ctx = request_context()
    chunks = export_accounts(ctx, _ermc())
    first = next(chunks)  # the service's own role check runs before the download starts
    filename = f"accounts-{ctx.now():%Y-%m-%d}.csv"
    return Response(
        stream_with_context(_chain(first, chunks)),
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


def _chain(first: str, rest: Iterator[str]) -> Iterator[str]:
    yield first
    yield from rest


def _blank_form() -> dict[str, Any]:
    return {name: "" for name in (*TEXT_FIELDS, "editors", "tags", "connector")} | {"central": False}


def _form_values(form: Mapping[str, str]) -> dict[str, Any]:
    """What was typed, as text, so the form can be shown again exactly."""
    values: dict[str, Any] = {name: form.get(name, "").strip() for name in _blank_form() if name != "central"}
    values["central"] = form.get("central") == "yes"
    return values


def _account_to_form(account: Mapping[str, Any]) -> dict[str, Any]:
    values = {name: account[name] or "" for name in TEXT_FIELDS}
    return values | {
        "editors": ", ".join(account["editors"]),
        "tags": ", ".join(account["tags"]),
        "connector": _connector_text(account["connector"]),
        "central": account["central"],
    }


def _connector_text(connector: Mapping[str, Any]) -> str:
    """A connector as typed in the form: its kind alone, or JSON when it has settings."""
    return str(connector["kind"]) if list(connector) == ["kind"] else json.dumps(connector, sort_keys=True)


def _words(text: str) -> list[str]:
    return [word for word in LIST_SPLIT.split(text) if word]


def _connector(text: str) -> Any:
    """The connector typed as a kind (``webhook``) or as JSON (``{"kind": "webhook", "url": ...}``)."""
    if not text.startswith("{"):
        return {"kind": text}
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        raise InvalidInput("connector is neither a kind nor JSON", field="connector") from None


def _new_account_data(form: Mapping[str, Any]) -> dict[str, Any]:
    """The service's fields from the form; optional fields left empty are not sent."""
    data: dict[str, Any] = {name: form[name] for name in TEXT_FIELDS if name != "naming_exception"}
    data["central"] = form["central"]
    if form["naming_exception"]:
        data["naming_exception"] = form["naming_exception"]
    if _words(form["editors"]):
        data["editors"] = _words(form["editors"])
    if _words(form["tags"]):
        data["tags"] = _words(form["tags"])
    if form["connector"]:
        data["connector"] = _connector(form["connector"])
    return data


def _changed_fields(form: Mapping[str, Any], current: Mapping[str, Any]) -> dict[str, Any]:
    """The fields whose value in the form differs from the account's, in the service's types."""
    changes: dict[str, Any] = {}
    for name in TEXT_FIELDS:
        if form[name] != (current[name] or ""):
            changes[name] = form[name]
    if form["central"] != current["central"]:
        changes["central"] = form["central"]
    for name in ("editors", "tags"):
        words = _words(form[name])
        if sorted({word.lower() for word in words}) != sorted(current[name]):
            changes[name] = words
    connector = _connector(form["connector"]) if form["connector"] else None
    if (connector or {"kind": "outbox"}) != current["connector"]:
        changes["connector"] = connector
    return changes


def _field_errors(error: LockdownError) -> dict[str, str]:
    """Each form input's error message, from the service's list or its single field."""
    listed = error.extra.get("errors") or [{"field": error.field, "message": error.message}]
    known = set(_blank_form())
    messages: dict[str, str] = {}
    for item in listed:
        name = str(item.get("field") or "").split(".")[0]
        if name in known:
            messages.setdefault(name, str(item["message"]))
    return messages


def _account_form(
    form: Mapping[str, Any], error: LockdownError | None = None, account: Mapping[str, Any] | None = None
) -> BaseResponse | str:
    page = render_template(
        "account_form.html",
        form=form,
        account=account,
        error=error,
        field_errors=_field_errors(error) if error else {},
        platforms=PLATFORMS,
        connectors=tuple(CONNECTORS),
    )
    return Response(page, error.status) if error else page
