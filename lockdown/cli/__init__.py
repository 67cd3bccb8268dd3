"""The ``lockdown`` command. Commands parse, call a service, print; errors become ClickException."""

from __future__ import annotations

import getpass
import logging
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import wraps
from pathlib import Path
from typing import Any, TypeVar

import click

from lockdown import audit
from lockdown.backup import Copy, backup_database
from lockdown.context import Context
from lockdown.db import connect
from lockdown.errors import LockdownError
from lockdown.logs import configure_logging
from lockdown.migrations import migrate
from lockdown.post_csv import import_posts
from lockdown.posts import STATES as POST_STATES
from lockdown.posts import list_posts, mark_published, reschedule_post
from lockdown.settings import Settings, SettingsError, demo_key_path, demo_vault_key_path
from lockdown.users import (
    ROLES,
    User,
    add_user,
    disable_user,
    issue_token,
    list_users,
    user_by_email,
)

F = TypeVar("F", bound=Callable[..., Any])
log = logging.getLogger(__name__)


def friendly_errors(command: F) -> F:
    """Turn service and settings errors into a one-line message and exit status 1."""

    @wraps(command)
    def run(*args: Any, **kwargs: Any) -> Any:
        try:
            return command(*args, **kwargs)
        except LockdownError as exc:
            raise click.ClickException(exc.message) from exc
        except SettingsError as exc:
            raise click.ClickException(str(exc)) from exc

    return run  # type: ignore[return-value]


def cli_actor() -> str:
    """Who the audit trail names for a command run at the terminal."""
    return f"cli:{getpass.getuser()}"


@contextmanager
def open_context(settings: Settings | None = None) -> Iterator[Context]:
    """Settings from the environment, a migrated database and the audit key."""
    settings = settings or Settings.from_env()
    key = audit.audit_key(settings.require_secret_key())
    db = connect(settings.db_path, busy_timeout=settings.busy_timeout_seconds)
    try:
        migrate(db)
        yield Context(db, key)
    finally:
        db.close()


@click.group()
@click.version_option(package_name="lockdown")
def main() -> None:
    """Lockdown: hold every department account during a live incident, speak only through
    the central @livuni accounts, and prove it afterwards."""


@main.command()
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


@main.command()
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
    from lockdown.scheduler import build_scheduler

    settings = Settings.from_env(demo=demo)
    configure_logging(settings.log_format)
    settings.require_vault_keys()
    if demo:
        _print_demo_logins(settings)
    app = create_app(settings)
    log.info("Lockdown %s on http://%s:%s/ (API document: /openapi.json)", settings.db_path, host, port)
    if no_scheduler:
        waitress.serve(app, host=host, port=port, threads=threads)
        return
    scheduler, dispatcher = build_scheduler(settings, blocking=False)
    scheduler.start()
    try:
        waitress.serve(app, host=host, port=port, threads=threads)
    finally:
        dispatcher.stop()
        scheduler.shutdown(wait=True)
        dispatcher.close()


@main.command()
@friendly_errors
def scheduler() -> None:
    """Run the scheduler alone (dispatch ticks), for a deployment whose web runs --no-scheduler."""
    from lockdown.scheduler import build_scheduler

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


@main.command()
@friendly_errors
def demo() -> None:
    """Seed the demo register without serving, and print the demo users' tokens."""
    _print_demo_logins(Settings.from_env(demo=True))


def _print_demo_logins(settings: Settings) -> None:
    from lockdown.crypto import Vault
    from lockdown.demo import DEMO_PASSWORD, demo_console_access, seed_demo

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
        f"Try: curl -H 'Authorization: Bearer {first.token}' http://127.0.0.1:8080/api/v1/accounts",
    )
    click.echo(f"Console: http://127.0.0.1:8080/ ; every demo user's password is {DEMO_PASSWORD!r}.")
    click.echo("Press and ERMC also need an authenticator code: add these to an authenticator app:")
    for email, uri in console.items():
        if uri:
            click.echo(f"  {email:40} {uri}")


@main.group()
def users() -> None:
    """People and their API tokens."""


@users.command("add")
@click.argument("name")
@click.option("--email", required=True, help="Their work email; also their identity.")
@click.option(
    "--role", "roles", multiple=True, required=True, type=click.Choice(ROLES),
    help="A role to grant; repeat for several.",
)  # fmt: skip
@friendly_errors
def users_add(name: str, email: str, roles: tuple[str, ...]) -> None:
    """Add a user and print their API token as the only line on stdout."""
    with open_context() as ctx:
        _user, token = add_user(ctx, cli_actor(), name=name, email=email, roles=roles)
    click.echo(token)


@users.command("list")
@friendly_errors
def users_list() -> None:
    """List users with their roles."""
    with open_context() as ctx:
        for user in list_users(ctx.db):
            state = "disabled" if user.disabled_at else "active"
            click.echo(f"{user.email}\t{user.name}\t{','.join(sorted(user.roles))}\t{state}")


@users.command("disable")
@click.argument("email")
@friendly_errors
def users_disable(email: str) -> None:
    """Disable a user; their token stops working at once."""
    with open_context() as ctx:
        user = disable_user(ctx, cli_actor(), email)
    click.echo(f"disabled {user.email}", err=True)


@users.command("token")
@click.argument("email")
@friendly_errors
def users_token(email: str) -> None:
    """Issue a new API token for a user (the old one stops working) and print it."""
    with open_context() as ctx:
        click.echo(issue_token(ctx, cli_actor(), email))


@main.group("audit")
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


@main.command()
@click.argument("path", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--force", is_flag=True, help="Replace PATH if it exists.")
@friendly_errors
def backup(path: Path, force: bool) -> None:
    """Copy the live database to PATH while the service runs, then check the copy."""
    with open_context() as ctx:
        copy = backup_database(ctx, path, actor=cli_actor(), force=force)
    _echo_copy("backed up to", copy)


@main.command()
@click.argument("backup", type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--force", is_flag=True,
    help="Restore even while a scheduler looks alive or the backup lacks an active incident.",
)  # fmt: skip
@friendly_errors
def restore(backup: Path, force: bool) -> None:
    """Put a checked BACKUP in place of LOCKDOWN_DB; the current database is kept aside, not deleted."""
    from lockdown.restore import restore_database

    result = restore_database(Settings.from_env(), backup, actor=cli_actor(), force=force)
    _echo_copy("restored from", result.backup)
    if result.set_aside:
        click.echo(f"the previous database is kept at {result.set_aside}")
    if result.migrations:
        click.echo(f"applied {', '.join(result.migrations)}")
    if result.held_back_posts:
        click.echo(
            f"{len(result.held_back_posts)} posts that fell due or were being sent wait for review "
            f"(the replaced database may have published them): {', '.join(map(str, result.held_back_posts))}",
            err=True,
        )
    click.echo(f"check: {result.database.entries} audit entries, head {result.database.head}")


def _echo_copy(verb: str, copy: Copy) -> None:
    counts = ", ".join(f"{count} {name}" for name, count in copy.counts.items())
    click.echo(f"{verb} {copy.path}: {copy.size} bytes; {counts}")
    click.echo(f"integrity ok; audit chain ok: {copy.entries} entries, head {copy.head}")


@main.group()
def posts() -> None:
    """Scheduled posts."""


def _acting_user(ctx: Context, email: str) -> User:
    user = user_by_email(ctx.db, email)
    if user.disabled_at:
        raise click.ClickException(f"{email} is disabled")
    return user


@posts.command("list")
@click.option("--state", type=click.Choice(POST_STATES), help="Only posts in this state.")
@click.option("--account", "account_id", type=int, help="Only this account's posts.")
@click.option("--limit", default=100, show_default=True, type=click.IntRange(1, 1000))
@friendly_errors
def posts_list(state: str | None, account_id: int | None, limit: int) -> None:
    """List posts: id, state, account, time, and the last error if any."""
    with open_context() as ctx:
        listed = list_posts(ctx.db, state=state, account_id=account_id, limit=limit)
    for post in listed["items"]:
        error = f"\t{post['error']}" if post["error"] else ""
        when = post["scheduled_at"]
        click.echo(f"{post['id']}\t{post['state']}\taccount {post['account_id']}\t{when}{error}")


@posts.command("import")
@click.argument("file", type=click.File("rb"))
@click.option("--as", "email", required=True, help="The uploader; a colleague approves the batch.")
@friendly_errors
def posts_import(file: Any, email: str) -> None:
    """Import a CSV of posts as one batch awaiting review; prints the batch id."""
    with open_context() as ctx:
        result = import_posts(ctx, _acting_user(ctx, email), file.read())
    click.echo(result["batch_id"])
    click.echo(f"{result['created']} posts await review", err=True)


@posts.command("mark-published")
@click.argument("post_id", type=int)
@click.option("--remote-id", required=True, help="The platform's id of the post.")
@click.option("--as", "email", required=True, help="Who checked the platform.")
@friendly_errors
def posts_mark_published(post_id: int, remote_id: str, email: str) -> None:
    """Record that a post whose fate was unknown did go out."""
    with open_context() as ctx:
        post = mark_published(ctx, _acting_user(ctx, email), post_id, {"remote_id": remote_id})
    click.echo(f"post {post['id']} {post['state']} ({post['remote_id']})")


@posts.command("reschedule")
@click.argument("post_id", type=int)
@click.option("--at", "when", required=True, help="ISO 8601 time with zone, e.g. 2026-12-01T09:00:00Z.")
@click.option("--as", "email", required=True, help="Who decided.")
@friendly_errors
def posts_reschedule(post_id: int, when: str, email: str) -> None:
    """Give a missed, failed or unknown post a new time."""
    with open_context() as ctx:
        post = reschedule_post(ctx, _acting_user(ctx, email), post_id, {"scheduled_at": when})
    click.echo(f"post {post['id']} {post['state']} for {post['scheduled_at']}")


def _press_user(ctx: Context, email: str | None) -> User:
    if not email:
        raise click.ClickException("say who you are: --as EMAIL (a press officer)")
    return _acting_user(ctx, email)


@main.command()
@click.option("--playbook", default="live-incident", show_default=True, help="A playbook in playbooks/.")
@click.option("--title", required=True, help="What the incident is called.")
@click.option("--reason", required=True, help="Why it is declared (kept internal, never published).")
@click.option("--account", "account_id", type=int, help="The account a compromised-account incident holds.")
@click.option("--as", "email", envvar="LOCKDOWN_USER", help="The press officer declaring (or LOCKDOWN_USER).")
@friendly_errors
def declare(playbook: str, title: str, reason: str, account_id: int | None, email: str | None) -> None:
    """Declare an incident: every account in the playbook's scope is held at once."""
    from lockdown.incidents import declare_incident, incident_config

    settings = Settings.from_env()
    with open_context(settings) as ctx:
        data: dict[str, Any] = {"title": title, "reason": reason, "playbook": playbook}
        if account_id is not None:
            data["account_id"] = account_id
        result = declare_incident(ctx, incident_config(settings), _press_user(ctx, email), data)
    click.echo(result["id"])
    click.echo(
        f"incident {result['id']} declared at {result['declared_at']}: {result['held_accounts']} accounts held; "
        f"in flight: {result['in_flight'] or 'none'}; holding statement draft: {result['holding_statement_id']}",
        err=True,
    )


@main.command()
@click.argument("incident_id", type=int)
@click.option("--policy", type=click.Choice(["review", "skip", "resume"]), help="Default: the playbook's.")
@click.option("--as", "email", envvar="LOCKDOWN_USER", help="The press officer resolving (or LOCKDOWN_USER).")
@friendly_errors
def resolve(incident_id: int, policy: str | None, email: str | None) -> None:
    """Resolve an incident: lift its holds; posts missed meanwhile follow the resume policy."""
    from lockdown.incidents import incident_config, resolve_incident

    settings = Settings.from_env()
    with open_context(settings) as ctx:
        data = {"resume_policy": policy} if policy else {}
        result = resolve_incident(ctx, incident_config(settings), _press_user(ctx, email), incident_id, data)
    click.echo(
        f"incident {incident_id} resolved at {result['resolved_at']} ({result['resume_policy']}): "
        f"{result['released_accounts']} accounts released, {result['still_held']} still held by another "
        f"incident, {result['missed_posts']} missed posts"
    )


@main.command()
@click.option("--all", "show_all", is_flag=True, help="Resolved incidents too.")
@friendly_errors
def incidents(show_all: bool) -> None:
    """List active incidents (id, playbook, declared, held accounts, title)."""
    from lockdown.incidents import list_incidents

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


@main.command()
@click.option("--manager", help="Only the accounts this person manages.")
@click.option("--held", "only_held", is_flag=True, help="Only held accounts.")
@friendly_errors
def status(manager: str | None, only_held: bool) -> None:
    """A readable table of accounts: held or not, by which incident, since when, posts waiting."""
    from lockdown.accounts import list_accounts
    from lockdown.incidents import hold_status

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


@main.group()
def playbooks() -> None:
    """Incident playbooks."""


@playbooks.command("check")
@friendly_errors
def playbooks_check() -> None:
    """Check every playbook; exit 1 naming file and field of each problem."""
    from lockdown.playbooks import check_playbooks, load_playbooks

    settings = Settings.from_env()
    problems = check_playbooks(settings.playbooks_dir)
    for problem in problems:
        click.echo(problem, err=True)
    if problems:
        sys.exit(1)
    for name, playbook in sorted(load_playbooks(settings.playbooks_dir).items()):
        click.echo(f"{name}\t{playbook.scope}\tresume={playbook.resume_policy}\t{playbook.title}")


@users.command("offboard")
@click.argument("email")
@click.option("--as", "actor_email", envvar="LOCKDOWN_USER", required=True, help="The ERMC member doing it.")
@friendly_errors
def users_offboard(email: str, actor_email: str) -> None:
    """Someone leaves: disable them, end their sessions, mark every password they knew for rotation."""
    from lockdown.rotation import offboard

    with open_context() as ctx:
        result = offboard(ctx, _acting_user(ctx, actor_email), email)
    click.echo(
        f"{result['email']} disabled; {result['sessions_closed']} sessions closed; "
        f"passwords to rotate on accounts: {', '.join(map(str, result['rotation_required'])) or 'none'}"
    )


@main.group("vault")
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
    from lockdown.rotation import check_key, rotate_key

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


@users.command("set-password")
@click.argument("email")
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input (for scripts).")
@friendly_errors
def users_set_password(email: str, password_stdin: bool) -> None:
    """Set a user's console password (at least 12 characters; stored as an argon2 hash)."""
    from lockdown.signin import set_password

    if password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = click.prompt("New password", hide_input=True, confirmation_prompt=True)
    with open_context() as ctx:
        set_password(ctx, cli_actor(), email, password)
    click.echo(f"password set for {email.strip().lower()}", err=True)


@users.command("enroll-totp")
@click.argument("email")
@friendly_errors
def users_enroll_totp(email: str) -> None:
    """Give a user a new authenticator seed; prints the otpauth:// URI once (scan it, then discard)."""
    from lockdown.crypto import Vault
    from lockdown.signin import enroll_totp

    settings = Settings.from_env()
    with open_context(settings) as ctx:
        click.echo(enroll_totp(ctx, Vault(settings.require_vault_keys()), cli_actor(), email))
