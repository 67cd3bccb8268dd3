"""Starting the service: the database, the web server with its scheduler, the scheduler alone, the demo."""

from __future__ import annotations

import logging
import os
from dataclasses import replace

import click

from lockdown.cli.command_kit import cli_actor, friendly_errors, open_context
from lockdown.ops.logs import configure_logging
from lockdown.settings import Settings, demo_key_path, demo_vault_key_path
from lockdown.store.db import connect
from lockdown.store.migrations import migrate

log = logging.getLogger(__name__)


@click.command()
@friendly_errors
def init() -> None:
    """Create or upgrade the database named by LOCKDOWN_DB."""
    settings = Settings.from_env()
    db = connect(settings.db_path, busy_timeout=settings.busy_timeout_seconds)
    try:
        applied = migrate(db)
    finally:
        db.close()
    click.echo(f"{settings.db_path}: " + (f"applied {', '.join(applied)}" if applied else "up to date"))


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8080, show_default=True, type=click.IntRange(0, 65535))
@click.option("--threads", default=8, show_default=True, type=click.IntRange(1, 64))
@click.option(
    "--demo",
    is_flag=True,
    help="Seed a demo register (first run), generate demo keys and print demo tokens.",
)
@click.option(
    "--no-scheduler",
    is_flag=True,
    help="Serve the API only; run exactly one `lockdown scheduler` elsewhere.",
)
@friendly_errors
def serve(host: str, port: int, threads: int, demo: bool, no_scheduler: bool) -> None:
    """Serve the API on waitress, a production WSGI server, with the scheduler inside."""
    import waitress

    from lockdown.app import create_app
    from lockdown.clock.scheduler import build_scheduler

    settings = Settings.from_env(demo=demo)
    if demo and not os.environ.get("LOCKDOWN_PUBLIC_URL"):
        # The links in the demo's notices (approval requests) lead to where it really serves.
        settings = replace(settings, public_url=address(host, port))
    configure_logging(settings.log_format)
    settings.require_vault_keys()
    if demo:
        _print_demo_logins(settings, address(host, port))
    app = create_app(settings)
    log.info("Lockdown %s on %s/ (API document: /openapi.json)", settings.db_path, address(host, port))
    # waitress drops X-Forwarded-For unless told otherwise; with trusted proxies the app decides
    # (lockdown.api.client_address), as waitress can trust one address but not a network.
    clear = not settings.trusted_proxies
    if no_scheduler:
        waitress.serve(app, host=host, port=port, threads=threads, clear_untrusted_proxy_headers=clear)
        return
    scheduler, dispatcher = build_scheduler(settings, blocking=False)
    scheduler.start()
    try:
        waitress.serve(app, host=host, port=port, threads=threads, clear_untrusted_proxy_headers=clear)
    finally:
        dispatcher.stop()
        scheduler.shutdown(wait=True)
        dispatcher.close()


@click.command()
@friendly_errors
def scheduler() -> None:
    """Run the scheduler alone (dispatch ticks), for a deployment whose web runs --no-scheduler."""
    from lockdown.clock.scheduler import build_scheduler

    settings = Settings.from_env()
    configure_logging(settings.log_format)
    settings.require_vault_keys()
    blocking, dispatcher = build_scheduler(settings, blocking=True)
    log.info("Lockdown scheduler on %s, tick %ss", settings.db_path, settings.tick_seconds)
    try:
        blocking.start()
    except (KeyboardInterrupt, SystemExit):
        pass
    finally:
        dispatcher.close()


@click.command()
@friendly_errors
def demo() -> None:
    """Seed the demo register without serving, and print the demo users' tokens."""
    _print_demo_logins(Settings.from_env(demo=True), address("127.0.0.1", 8080))


def address(host: str, port: int) -> str:
    """The service's base URL as a person types it (an IPv6 host in brackets)."""
    shown = f"[{host}]" if ":" in host else host
    return f"http://{shown}:{port}"


def _print_demo_logins(settings: Settings, base_url: str) -> None:
    from lockdown.crypto import Vault
    from lockdown.ops.demo import DEMO_PASSWORD, demo_console_access, seed_demo

    with open_context(settings) as ctx:
        logins = seed_demo(ctx, actor=cli_actor())
        console = demo_console_access(ctx, Vault(settings.require_vault_keys()), actor=cli_actor())
        accounts = ctx.db.conn.execute("SELECT COUNT(*) FROM accounts").fetchone()[0]
    click.echo(f"Demo register: {accounts} accounts in {settings.db_path}")
    click.echo(f"Demo vault key: {demo_vault_key_path(settings.db_path)} (readable by you only)")
    click.echo(
        f"Demo secret key: {demo_key_path(settings.db_path)} (export LOCKDOWN_SECRET_KEY_FILE="
        f"{demo_key_path(settings.db_path)} for other commands)"
    )
    click.echo("Demo API tokens (new ones are issued at every demo start):")
    for login in logins:
        click.echo(f"  {'+'.join(login.roles):14} {login.email:40} {login.token}")
    first = logins[0]
    click.echo(
        f"Try: curl -H 'Authorization: Bearer {first.token}' {base_url}/api/v1/accounts",
    )
    click.echo(f"Console: {base_url}/ ; every demo user's password is {DEMO_PASSWORD!r}.")
    if settings.mail_mbox is not None:
        click.echo(
            f"Demo mail: notices are delivered to the mbox {settings.mail_mbox} "
            f"(read it with `mutt -f {settings.mail_mbox}` or any mail client)"
        )
    click.echo("Press and ERMC also need an authenticator code: add these to an authenticator app:")
    for email, uri in console.items():
        if uri:
            click.echo(f"  {email:40} {uri}")


COMMANDS = (
    init,
    serve,
    scheduler,
    demo,
)
