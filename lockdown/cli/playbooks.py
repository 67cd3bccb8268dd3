"""``lockdown playbooks``: check the incident playbooks."""

from __future__ import annotations

import sys

import click

from lockdown.cli.command_kit import friendly_errors
from lockdown.settings import Settings


@click.group()
def playbooks() -> None:
    """Incident playbooks."""


@playbooks.command("check")
@friendly_errors
def playbooks_check() -> None:
    """Check every playbook; exit 1 naming file and field of each problem."""
    from lockdown.incidents.playbooks import check_playbooks, load_playbooks

    settings = Settings.from_env()
    problems = check_playbooks(settings.playbooks_dir)
    for problem in problems:
        click.echo(problem, err=True)
    if problems:
        sys.exit(1)
    for name, playbook in sorted(load_playbooks(settings.playbooks_dir).items()):
        click.echo(f"{name}\t{playbook.scope}\tresume={playbook.resume_policy}\t{playbook.title}")


COMMANDS = (playbooks,)
