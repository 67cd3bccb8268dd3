"""``lockdown audit``: verify the audit chain and print its head."""

from __future__ import annotations

import sys

import click

from lockdown.cli.command_kit import friendly_errors, open_context
from lockdown.store import audit


@click.group("audit")
def audit_group() -> None:
    """The tamper-evident audit trail."""


@audit_group.command("verify")
@click.option("--expect-head", help="A head hash kept off the machine: also detects a cut tail.")
@friendly_errors
def audit_verify(expect_head: str | None) -> None:
    """Walk the chain; exit 0 when it holds, 1 with the first bad entry when it does not."""
    with open_context() as ctx:
        result = audit.verify(ctx.db, ctx.audit_key, expect_head)
    if result.ok:
        click.echo(f"ok: {result.entries} entries, head {result.head}")
        return
    click.echo(f"BROKEN at entry {result.first_bad}: {result.reason}", err=True)
    sys.exit(1)


@audit_group.command("head")
@friendly_errors
def audit_head() -> None:
    """Print the head hash, to keep somewhere the database's owner cannot rewrite."""
    with open_context() as ctx:
        seq, digest = audit.head(ctx.db)
    click.echo(f"{digest}")
    click.echo(f"(entry {seq})", err=True)


COMMANDS = (audit_group,)
