"""``lockdown replicate`` (Litestream, watched) and ``lockdown standby promote``."""

from __future__ import annotations

import logging
import signal
from types import FrameType

import click

from lockdown.cli.command_kit import friendly_errors
from lockdown.ops.logs import configure_logging
from lockdown.settings import Settings
from lockdown.store import audit
from lockdown.store.db import connect
from lockdown.store.migrations import migrate

log = logging.getLogger(__name__)


@click.command()
@friendly_errors
def replicate() -> None:
    """Replicate LOCKDOWN_DB to LOCKDOWN_REPLICA_URL with Litestream until stopped, reporting the lag."""
    from lockdown.store.replicator import Replicator

    settings = Settings.from_env()
    configure_logging(settings.log_format)
    key = audit.audit_key(settings.require_secret_key())
    db = connect(settings.db_path, busy_timeout=settings.busy_timeout_seconds)
    try:
        migrate(db)  # the heartbeat's table, before Litestream takes its first snapshot
    finally:
        db.close()
    replicator = Replicator(settings, key)

    def stop(_signal: int, _frame: FrameType | None) -> None:
        replicator.stop()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    replicator.run()


@click.group()
def standby() -> None:
    """The standby machine: promote it when the primary is gone."""


@standby.command()
@click.option("--expect-head", help="An audit head hash kept off the old primary: it must be in the replica's chain.")
@click.option("--as", "email", envvar="LOCKDOWN_USER", required=True, help="Who promotes (or LOCKDOWN_USER).")
@click.option("--force", is_flag=True, help="Keep an existing LOCKDOWN_DB aside instead of refusing.")
@friendly_errors
def promote(expect_head: str | None, email: str, force: bool) -> None:
    """Restore the latest replica into LOCKDOWN_DB, check it, and hold every account until a
    press officer confirms (POST /api/v1/promotion/confirm)."""
    from lockdown.incidents.config import incident_config
    from lockdown.incidents.promotion import promote as promote_standby

    settings = Settings.from_env()
    done = promote_standby(settings, incident_config(settings), email, expect_head=expect_head, force=force)
    counts = ", ".join(f"{count} {name}" for name, count in done.database.counts.items())
    click.echo(f"promoted {settings.db_path} from {settings.replica_url}: {counts}")
    click.echo(f"integrity ok; audit chain ok: {done.database.entries} entries, head {done.database.head}")
    click.echo(f"the replica's last point: {done.replica_point or 'unknown'} (anything later may be missing)")
    click.echo(
        f"every account is held ({done.held_accounts}) by incident {done.incident_id} until a press officer "
        "confirms: POST /api/v1/promotion/confirm with what they checked"
    )
    if done.unknown_posts:
        click.echo(
            f"{len(done.unknown_posts)} posts the old primary may have sent are unknown: "
            f"{', '.join(map(str, done.unknown_posts))}",
            err=True,
        )
    if done.set_aside:
        click.echo(f"the previous {settings.db_path} is kept at {done.set_aside}")
    if done.marker:
        click.echo(f"the old primary is fenced by {done.marker}")
    else:
        click.echo("no marker can be written to an s3/sftp replica: keep the old primary down", err=True)
    click.echo(f"promotion took {done.seconds:.2f} s; start the service: lockdown serve")


COMMANDS = (
    replicate,
    standby,
)
