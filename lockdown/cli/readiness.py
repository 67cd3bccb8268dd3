"""``lockdown readiness``: check accounts' connections now and print where each stands."""

from __future__ import annotations

import sys
from datetime import timedelta

import click

from lockdown.cli.command_kit import cli_actor, friendly_errors, open_context
from lockdown.crypto import Vault
from lockdown.errors import Conflict
from lockdown.posting.dispatch import connectors_for
from lockdown.readiness.checks import CheckRunner, check_by_command
from lockdown.readiness.status import how_long, readiness_table
from lockdown.settings import Settings


@click.command()
@click.option("--account", "account_id", type=int, help="Only this account (default: every active account).")
@click.option("--no-check", is_flag=True, help="Print what was last recorded; call no platform.")
@friendly_errors
def readiness(account_id: int | None, no_check: bool) -> None:
    """Check accounts now (central accounts first) and print a table: account, platform, state,
    reason, when checked. Exit status 1 when a central account is not ready (failing, or never
    checked), or when the one --account asked for is not ready."""
    settings = Settings.from_env()
    runner = CheckRunner(
        Vault(settings.require_vault_keys()),
        connectors_for(settings),
        timedelta(seconds=settings.readiness_interval_seconds),
    )
    with open_context(settings) as ctx:
        # Central accounts first: they are what an incident needs.
        ids = [row["id"] for row in readiness_table(ctx.db, settings.api_versions, ctx.now(), account_id)]
        busy = set()
        if not no_check:
            for each in ids:
                try:
                    check_by_command(ctx, runner, each, cli_actor())
                except Conflict:
                    busy.add(each)  # a check is under way elsewhere; it records its own outcome
        now = ctx.now()
        rows = readiness_table(ctx.db, settings.api_versions, now, account_id)
    click.echo("id\taccount\tplatform\tcentral\tstate\treason\tchecked")
    failing = False
    for row in rows:
        seen = row["readiness"]
        checked = f"{how_long(seen['checked_at'], now)} ago" if seen["checked_at"] else "never"
        reason = seen["reason"] or ""
        if row["id"] in busy:
            reason = f"(a check was already running) {reason}".strip()
        if seen["warnings"]:
            reason = "; ".join([reason, *seen["warnings"]]) if reason else "; ".join(seen["warnings"])
        central = "yes" if row["central"] else "no"
        click.echo(f"{row['id']}\t{row['handle']}\t{row['platform']}\t{central}\t{seen['status']}\t{reason}\t{checked}")
        if seen["status"] != "ready" and (row["central"] or account_id is not None):
            failing = True
    if failing:
        click.echo("not ready: see the table above", err=True)
        sys.exit(1)


COMMANDS = [readiness]
