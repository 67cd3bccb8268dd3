"""The register: /api/v1/accounts."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from apiflask import APIBlueprint
from flask import Response, request, stream_with_context
from marshmallow import RAISE

from lockdown.api.account_schemas import (
    AccountDetail,
    AccountIn,
    AccountOut,
    AccountPage,
    AccountPatch,
    AccountQuery,
    ImportResult,
    ReadinessOut,
    SecretsIn,
    SecretStatus,
)
from lockdown.api.auth import auth
from lockdown.api.state import app_state, current_user, request_context
from lockdown.posting import connector_secrets
from lockdown.posting.dispatch import connectors_for
from lockdown.readiness.checks import CheckRunner, check_now
from lockdown.readiness.status import readiness_for
from lockdown.register import accounts
from lockdown.register import csv_import as account_csv

ACCOUNT = "/<int:account_id>"
bp = APIBlueprint("accounts", __name__, url_prefix="/api/v1/accounts", tag="Register")


@bp.get("")
@bp.auth_required(auth)
@bp.input(AccountQuery, location="query", arg_name="query", unknown=RAISE)
@bp.output(AccountPage)
@bp.doc(responses=[400, 401])
def list_accounts(query: dict[str, Any]) -> dict[str, Any]:
    """List the register (any role)."""
    return accounts.list_accounts(request_context().db, **query)


@bp.post("")
@bp.auth_required(auth)
@bp.input(AccountIn, arg_name="body")
@bp.output(AccountOut, status_code=201)
@bp.doc(responses=[400, 401, 403, 409])
def register_account(body: dict[str, Any]) -> dict[str, Any]:
    """Register an account (ermc)."""
    return accounts.register_account(request_context(), current_user(), body, app_state().vault)


@bp.get(ACCOUNT)
@bp.auth_required(auth)
@bp.output(AccountDetail)
@bp.doc(responses=[401, 404])
def get_account(account_id: int) -> dict[str, Any]:
    """One account, archived or not, with its readiness (any role; a failing check's reason as
    the caller may read it)."""
    ctx = request_context()
    account = accounts.get_account(ctx.db, account_id)
    return {**account, "readiness": _readiness(account)}


@bp.post(f"{ACCOUNT}/check")
@bp.auth_required(auth)
@bp.output(ReadinessOut)
@bp.doc(responses=[401, 403, 404, 409, 422, 429])
def check_account(account_id: int) -> dict[str, Any]:
    """Run the account's readiness check now (ermc, press, the account's manager): 409 while a
    check of it runs, 429 within a minute of the last; the answer is its ``readiness``."""
    state = app_state()
    runner = CheckRunner(
        state.vault,
        connectors_for(state.settings),
        timedelta(seconds=state.settings.readiness_interval_seconds),
    )
    ctx = request_context()
    check_now(ctx, runner, current_user(), account_id)
    return _readiness(accounts.get_account(ctx.db, account_id))


def _readiness(account: dict[str, Any]) -> dict[str, Any]:
    ctx = request_context()
    return readiness_for(ctx.db, account, current_user(), app_state().settings.api_versions, ctx.now())


@bp.patch(ACCOUNT)
@bp.auth_required(auth)
@bp.input(AccountPatch, arg_name="body")
@bp.output(AccountOut)
@bp.doc(responses=[400, 401, 403, 404, 409])
def update_account(account_id: int, body: dict[str, Any]) -> dict[str, Any]:
    """Change an account (ermc; its manager for purpose, monitored hours and editors)."""
    return accounts.update_account(request_context(), current_user(), account_id, body, app_state().vault)


@bp.delete(ACCOUNT)
@bp.auth_required(auth)
@bp.output(AccountOut)
@bp.doc(responses=[401, 403, 404, 409])
def archive_account(account_id: int) -> dict[str, Any]:
    """Archive an account (ermc); it stays readable by id and in the audit trail."""
    return accounts.archive_account(request_context(), current_user(), account_id)


@bp.post("/import")
@bp.auth_required(auth)
@bp.output(ImportResult, status_code=201)
@bp.doc(responses=[400, 401, 403, 409, 413])
def import_accounts() -> dict[str, Any]:
    """Register every row of a CSV body (text/csv) or none (ermc); errors name line and field."""
    return account_csv.import_accounts(request_context(), current_user(), request.get_data(), app_state().vault)


@bp.get(f"{ACCOUNT}/connector-secrets")
@bp.auth_required(auth)
@bp.output(SecretStatus)
@bp.doc(responses=[401, 404])
def connector_secret_status(account_id: int) -> dict[str, Any]:
    """Which secrets the account's connector needs and which are set (never their values)."""
    return connector_secrets.secret_status(request_context().db, account_id)


@bp.put(f"{ACCOUNT}/connector-secrets")
@bp.auth_required(auth)
@bp.input(SecretsIn, arg_name="body")
@bp.output(SecretStatus)
@bp.doc(responses=[400, 401, 403, 404, 409])
def set_connector_secrets(account_id: int, body: dict[str, Any]) -> dict[str, Any]:
    """Store connector tokens, encrypted (the account's manager or ermc)."""
    ctx = request_context()
    connector_secrets.store_secrets(ctx, app_state().vault, current_user(), account_id, body)
    return connector_secrets.secret_status(ctx.db, account_id)


CSV_RESPONSES: Any = {
    200: {
        "description": "the register as CSV, formula cells neutralised",
        "content": {"text/csv": {"schema": {"type": "string"}}},
    },
    401: "Authentication error",
    403: "Forbidden",
}


@bp.get("/export")
@bp.auth_required(auth)
@bp.doc(responses=CSV_RESPONSES)
def export_accounts() -> Response:
    """Export the active register as CSV (ermc)."""
    chunks = account_csv.export_accounts(request_context(), current_user())
    first = next(chunks)  # runs the role check before the response starts
    body = stream_with_context(_chain(first, chunks))
    return Response(
        body,
        mimetype="text/csv",
        headers={"Content-Disposition": 'attachment; filename="accounts.csv"'},
    )


def _chain(first: str, rest: Any) -> Any:
    yield first
    yield from rest
