"""``lockdown posts``: list, import, and settle posts a person must decide on."""

from __future__ import annotations

from typing import Any

import click

from lockdown.cli.command_kit import acting_user, friendly_errors, open_context
from lockdown.posting.csv_import import import_posts
from lockdown.posting.posts import STATES as POST_STATES
from lockdown.posting.posts import list_posts, mark_published, reschedule_post


@click.group()
def posts() -> None:
    """Scheduled posts."""


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
        result = import_posts(ctx, acting_user(ctx, email), file.read())
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
        post = mark_published(ctx, acting_user(ctx, email), post_id, {"remote_id": remote_id})
    click.echo(f"post {post['id']} {post['state']} ({post['remote_id']})")


@posts.command("reschedule")
@click.argument("post_id", type=int)
@click.option("--at", "when", required=True, help="ISO 8601 time with zone, e.g. 2026-12-01T09:00:00Z.")
@click.option("--as", "email", required=True, help="Who decided.")
@friendly_errors
def posts_reschedule(post_id: int, when: str, email: str) -> None:
    """Give a missed, failed or unknown post a new time."""
    with open_context() as ctx:
        post = reschedule_post(ctx, acting_user(ctx, email), post_id, {"scheduled_at": when})
    click.echo(f"post {post['id']} {post['state']} for {post['scheduled_at']}")


COMMANDS = (posts,)
