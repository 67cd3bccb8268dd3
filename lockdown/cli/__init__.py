"""The ``lockdown`` command, one module per command group. Commands parse, call a service, print;
errors become ClickException at this edge only."""

from __future__ import annotations

import click

from lockdown.cli import audit, backup, incidents, kit, playbooks, posts, readiness, service, standby, users, vault


@click.group()
@click.version_option(package_name="lockdown")
def main() -> None:
    """Lockdown: hold every department account during a live incident, speak only through
    the central @livuni accounts, and prove it afterwards."""


for _module in (service, users, audit, backup, posts, incidents, playbooks, vault, kit, readiness, standby):
    for _command in _module.COMMANDS:
        main.add_command(_command)
