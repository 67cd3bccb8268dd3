"""Incidents at the terminal: declare, resolve, list them, and the register's hold status."""

from __future__ import annotations

from typing import Any

import click

from lockdown.cli.command_kit import friendly_errors, open_context, press_user
from lockdown.settings import Settings


@click.command()
@click.option("--playbook", default="live-incident", show_default=True, help="A playbook in playbooks/.")
@click.option("--title", required=True, help="What the incident is called.")
@click.option("--reason", required=True, help="Why it is declared (kept internal, never published).")
@click.option("--account", "account_id", type=int, help="The account a compromised-account incident holds.")
@click.option("--as", "email", envvar="LOCKDOWN_USER", help="The press officer declaring (or LOCKDOWN_USER).")
@friendly_errors
def declare(playbook: str, title: str, reason: str, account_id: int | None, email: str | None) -> None:
    """Declare an incident: every account in the playbook's scope is held at once."""
    from lockdown.incidents.config import incident_config
    from lockdown.incidents.declare import declare_incident

    settings = Settings.from_env()
    with open_context(settings) as ctx:
        data: dict[str, Any] = {"title": title, "reason": reason, "playbook": playbook}
        if account_id is not None:
            data["account_id"] = account_id
        result = declare_incident(ctx, incident_config(settings), press_user(ctx, email), data)
    click.echo(result["id"])
    click.echo(
        f"incident {result['id']} declared at {result['declared_at']}: {result['held_accounts']} accounts held; "
        f"in flight: {result['in_flight'] or 'none'}; holding statement draft: {result['holding_statement_id']}",
        err=True,
    )


@click.command()
@click.argument("incident_id", type=int)
@click.option("--policy", type=click.Choice(["review", "skip", "resume"]), help="Default: the playbook's.")
@click.option("--as", "email", envvar="LOCKDOWN_USER", help="The press officer resolving (or LOCKDOWN_USER).")
@friendly_errors
def resolve(incident_id: int, policy: str | None, email: str | None) -> None:
    """Resolve an incident: lift its holds; posts missed meanwhile follow the resume policy."""
    from lockdown.incidents.config import incident_config
    from lockdown.incidents.declare import resolve_incident

    settings = Settings.from_env()
    with open_context(settings) as ctx:
        data = {"resume_policy": policy} if policy else {}
        result = resolve_incident(ctx, incident_config(settings), press_user(ctx, email), incident_id, data)
    click.echo(
        f"incident {incident_id} resolved at {result['resolved_at']} ({result['resume_policy']}): "
        f"{result['released_accounts']} accounts released, {result['still_held']} still held by another "
        f"incident, {result['missed_posts']} missed posts"
    )


@click.command()
@click.option("--all", "show_all", is_flag=True, help="Resolved incidents too.")
@friendly_errors
def incidents(show_all: bool) -> None:
    """List active incidents (id, playbook, declared, held accounts, title)."""
    from lockdown.incidents.declare import list_incidents

    with open_context() as ctx:
        found = list_incidents(ctx.db, status=None if show_all else "active", limit=1000)["items"]
    if not found:
        click.echo("no active incidents" if not show_all else "no incidents")
    for incident in found:
        exercise = " [EXERCISE]" if incident["exercise"] else ""
        click.echo(
            f"{incident['id']}\t{incident['status']}\t{incident['playbook']}\t{incident['declared_at']}\t"
            f"{incident['held_accounts']} held\t{incident['title']}{exercise}"
        )


@click.command()
@click.option("--manager", help="Only the accounts this person manages.")
@click.option("--held", "only_held", is_flag=True, help="Only held accounts.")
@friendly_errors
def status(manager: str | None, only_held: bool) -> None:
    """A readable table of accounts: held or not, by which incident, since when, posts waiting."""
    from lockdown.incidents.declare import hold_status
    from lockdown.register.accounts import list_accounts

    with open_context() as ctx:
        rows, cursor = [], None
        while True:
            found = list_accounts(ctx.db, manager=manager, held=True if only_held else None, limit=1000, cursor=cursor)
            for account in found["items"]:
                hold = hold_status(ctx.db, account["id"], ctx.now())
                rows.append((account, hold))
            cursor = found["next"]
            if cursor is None:
                break
    width = max([len(a["handle"]) for a, _ in rows] + [6])
    click.echo(
        f"{'id':>6}  {'handle':<{width}}  {'platform':<9}  {'state':<6}  {'incidents':<10}  {'since':<27}  waiting"
    )
    for account, hold in rows:
        state = "HELD" if hold["held"] else "free"
        incidents_text = ",".join(str(i) for i in hold["incidents"]) or "-"
        click.echo(
            f"{account['id']:>6}  {account['handle']:<{width}}  {account['platform']:<9}  {state:<6}  "
            f"{incidents_text:<10}  {hold['since'] or '-':<27}  {hold['held_posts']}"
        )
    held = sum(1 for _, hold in rows if hold["held"])
    click.echo(f"{held} of {len(rows)} accounts held", err=True)


COMMANDS = (
    declare,
    resolve,
    incidents,
    status,
)
