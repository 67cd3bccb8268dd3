"""``lockdown vault``: make and rotate the vault's keys."""

from __future__ import annotations

import click

from lockdown.cli.command_kit import friendly_errors, open_context
from lockdown.settings import Settings


@click.group("vault")
def vault_group() -> None:
    """The vault's keys."""


@vault_group.command("new-key")
def vault_new_key() -> None:
    """Print a fresh vault key (base64, 32 random bytes) for LOCKDOWN_VAULT_KEY."""
    import base64
    import secrets

    click.echo(base64.b64encode(secrets.token_bytes(32)).decode())


@vault_group.command("rotate-key")
@friendly_errors
def vault_rotate_key() -> None:
    """Re-encrypt every stored secret under the first key of LOCKDOWN_VAULT_KEY (safe to run twice)."""
    from lockdown.crypto import Vault, VaultError
    from lockdown.vault.rotation import check_key, rotate_key

    settings = Settings.from_env()
    vault = Vault(settings.vault_keys)
    try:
        check_key(vault)
        with open_context(settings) as ctx:
            counts = rotate_key(ctx, vault)
    except VaultError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(
        f"re-encrypted {counts['credentials']} credential fields and {counts['connector_secrets']} connector "
        f"secrets under key {vault.current}; {counts['already_current']} were already under it"
    )


COMMANDS = (vault_group,)
