"""``lockdown backup`` and ``lockdown restore``: online copies of the database, checked."""

from __future__ import annotations

from pathlib import Path

import click

from lockdown.cli.command_kit import cli_actor, friendly_errors, open_context
from lockdown.posting.media_backup import MediaCopy, copy_media, media_folder_of
from lockdown.posting.media_store import MediaStore
from lockdown.settings import Settings
from lockdown.store.backup import Copy, backup_database


@click.command()
@click.argument("path", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--force", is_flag=True, help="Replace PATH if it exists.")
@friendly_errors
def backup(path: Path, force: bool) -> None:
    """Copy the live database to PATH while the service runs, then check the copy."""
    with open_context() as ctx:
        copy = backup_database(ctx, path, actor=cli_actor(), force=force)
    _echo_copy("backed up to", copy)
    settings = Settings.from_env()
    media = copy_media(copy.path, MediaStore(settings.media_folder), MediaStore(media_folder_of(copy.path)))
    _echo_media("copied to", media)


@click.command()
@click.argument("backup", type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--force", is_flag=True,
    help="Restore even while a scheduler looks alive or the backup lacks an active incident.",
)  # fmt: skip
@friendly_errors
def restore(backup: Path, force: bool) -> None:
    """Put a checked BACKUP in place of LOCKDOWN_DB; the current database is kept aside, not deleted."""
    from lockdown.store.restore import restore_database

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
    settings = Settings.from_env()
    media = copy_media(settings.db_path, MediaStore(media_folder_of(backup)), MediaStore(settings.media_folder))
    _echo_media("restored to", media)


def _echo_media(verb: str, media: MediaCopy) -> None:
    click.echo(
        f"media {verb} {media.folder}: {media.copied} files ({media.bytes} bytes) copied, {media.present} already there"
    )
    if media.missing:
        click.echo(
            f"{len(media.missing)} media files the database names were not found: {', '.join(media.missing)}", err=True
        )


def _echo_copy(verb: str, copy: Copy) -> None:
    counts = ", ".join(f"{count} {name}" for name, count in copy.counts.items())
    click.echo(f"{verb} {copy.path}: {copy.size} bytes; {counts}")
    click.echo(f"integrity ok; audit chain ok: {copy.entries} entries, head {copy.head}")


COMMANDS = (
    backup,
    restore,
)
