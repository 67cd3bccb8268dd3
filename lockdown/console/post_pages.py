"""Console pages for the post queue: pick an account, see its posts by state, draft, approve,
cancel, reschedule; and every post that needs review after an incident."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from flask import Response, flash, redirect, render_template, request, url_for
from sqlite_utils import Database
from werkzeug.wrappers import Response as BaseResponse

import lockdown.posting.posts as post_service
import lockdown.posting.rights as rights
from lockdown.api.state import app_state, request_context
from lockdown.console.auth import login_required, signed_in_user
from lockdown.console.blueprint import bp, local_time
from lockdown.console.draft_media import forget_waiting, waiting_media
from lockdown.console.redirects import console_page
from lockdown.errors import InvalidInput, LockdownError, NotFound
from lockdown.ids import parse_id
from lockdown.people.users import User
from lockdown.posting.post_errors import errors_as_seen_by
from lockdown.register.accounts import list_accounts
from lockdown.timeutil import to_iso

PAGE_SIZE = 200
# The default view: posts that still need someone, grouped, most urgent first.
OPEN_STATES = ("needs_review", "unknown", "failed", "pending_review", "scheduled", "publishing")
STATE_LABELS = {
    "pending_review": "In review",
    "scheduled": "Scheduled",
    "publishing": "Publishing",
    "published": "Published",
    "failed": "Failed",
    "cancelled": "Cancelled",
    "needs_review": "Needs review",
    "unknown": "Unknown: check the platform",
}


def local_to_iso(text: str, field: str = "scheduled_at") -> str:
    """A ``datetime-local`` field's value, read in the installation's time zone, as the ISO time
    the services take (they judge whether it is acceptable)."""
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise InvalidInput("choose a date and a time", field=field) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=app_state().settings.zone)
    return to_iso(moment)


# Flash messages name a minute, not a second.
MINUTES = "%a %d %b %Y %H:%M"


def form_int(name: str) -> int | str:
    """A form field as an id when it is one; otherwise the text, for the service to refuse by name."""
    return id_or_text(request.form.get(name, ""))


def id_or_text(raw: str) -> int | str:
    """Typed text as an id when it is one (ASCII digits only); otherwise the text itself."""
    number = parse_id(raw)
    return raw.strip() if number is None else number


def me() -> User:
    """The signed-in user (the view is behind ``login_required``)."""
    user = signed_in_user()
    assert user is not None
    return user


def every_account(db: Database) -> list[dict[str, Any]]:
    """Every account in the register that is not archived, all pages."""
    items: list[dict[str, Any]] = []
    cursor = None
    while True:
        found = list_accounts(db, limit=1000, cursor=cursor)
        items.extend(found["items"])
        cursor = found["next"]
        if not cursor:
            return items


def _visible_accounts(db: Database, user: User) -> list[dict[str, Any]]:
    """ERMC and the press team see every queue; others the accounts they manage or edit."""
    accounts = every_account(db)
    if user.has("ermc", "press"):
        return accounts
    mine = rights.accounts_with_rights(db, user)
    return [account for account in accounts if account["id"] in mine]


def _all_posts(db: Database, **filters: Any) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    cursor = None
    while True:
        found = post_service.list_posts(db, limit=1000, cursor=cursor, **filters)
        items.extend(found["items"])
        cursor = found["next"]
        if not cursor:
            return items


def _needs_review(db: Database, user: User) -> list[dict[str, Any]]:
    """Posts parked after an incident, on the accounts this user may act on."""
    mine = rights.accounts_with_rights(db, user)
    waiting = [post for post in _all_posts(db, state="needs_review") if post["account_id"] in mine]
    return errors_as_seen_by(db, user, waiting)


def _template_tools() -> dict[str, Any]:
    return {
        "labels": STATE_LABELS,
        "zone": app_state().settings.timezone,
        "CANCELLABLE": post_service.CANCELLABLE,
        "RESCHEDULABLE": post_service.RESCHEDULABLE,
    }


def _posts_page(account_id: int | None, state: str, draft: dict[str, str] | None = None, status: int = 200) -> Response:
    ctx = request_context()
    user = me()
    accounts = _visible_accounts(ctx.db, user)
    if account_id is None:
        chosen = accounts[0] if accounts else None
    else:
        chosen = next((account for account in accounts if account["id"] == account_id), None)
        if chosen is None:
            raise NotFound(f"account {account_id} is not one of the accounts you can see here", field="account_id")
    groups: list[tuple[str, dict[str, Any]]] = []
    if chosen is not None:
        if state:
            cursor = request.args.get("cursor")
            found = post_service.list_posts(
                ctx.db, account_id=chosen["id"], state=state, limit=PAGE_SIZE, cursor=cursor
            )
            found["items"] = errors_as_seen_by(ctx.db, user, found["items"])
            groups.append((state, found))
        else:
            for open_state in OPEN_STATES:
                found = post_service.list_posts(ctx.db, account_id=chosen["id"], state=open_state, limit=PAGE_SIZE)
                if found["items"]:
                    found["items"] = errors_as_seen_by(ctx.db, user, found["items"])
                    groups.append((open_state, found))
    page = render_template(
        "posts.html",
        accounts=accounts,
        chosen=chosen,
        state=state,
        states=post_service.STATES,
        groups=groups,
        may_act=chosen is not None and rights.rights_on(ctx.db, user, chosen["id"]),
        waiting=len(_needs_review(ctx.db, user)),
        draft=draft or {},
        uploads=waiting_media(ctx, user),
        back=request.full_path.rstrip("?") if request.method == "GET" else back_page(),
        **_template_tools(),
    )
    return Response(page, status)


@bp.get("/posts")
@login_required
def posts() -> Response:
    """An account's queue: its posts grouped by state (or one state), with the actions each allows."""
    return _posts_page(request.args.get("account_id", type=int), request.args.get("state", ""))


@bp.get("/posts/needs-review")
@login_required
def needs_review() -> str:
    """Every post parked for review after an incident, on the accounts I may act on."""
    ctx = request_context()
    handles = {account["id"]: account["handle"] for account in every_account(ctx.db)}
    return render_template(
        "posts_review.html",
        posts=_needs_review(ctx.db, me()),
        handles=handles,
        back=url_for("console.needs_review"),
        **_template_tools(),
    )


def back_page() -> str:
    """Where a form came from (a path on this site only), to return there after acting."""
    return console_page(request.form.get("back"), url_for("console.posts"))


def _act(action: Callable[[], dict[str, Any]], done: Callable[[dict[str, Any]], str]) -> BaseResponse:
    """Run one service call; say what happened (or the service's refusal) and go back."""
    try:
        post = action()
    except LockdownError as exc:
        flash(exc.message, "error")
    else:
        flash(done(post), "ok")
    return redirect(back_page())


@bp.post("/posts")
@login_required
def draft_post() -> BaseResponse:
    """Draft a post; a colleague must approve it before it is scheduled."""
    ctx = request_context()
    account_id = form_int("account_id")
    draft = {"body": request.form.get("body", ""), "scheduled_at": request.form.get("scheduled_at", "")}
    chosen_media = [id_or_text(raw) for raw in request.form.getlist("media_ids")]
    try:
        data = {
            "account_id": account_id, "body": draft["body"], "scheduled_at": local_to_iso(draft["scheduled_at"]),
            "media_ids": chosen_media,
        }  # fmt: skip
        created = post_service.create_post(ctx, me(), data, alt_text_rule=app_state().settings.alt_text_rule)
        forget_waiting([m for m in chosen_media if isinstance(m, int)])
    except LockdownError as exc:
        flash(exc.message, "error")
        # Shown again with what was typed, so a too-long text is not lost.
        return _posts_page(account_id if isinstance(account_id, int) else None, "", draft, exc.status)
    flash(f"Post {created['id']} is drafted; a colleague must approve it before it is scheduled.", "ok")
    return redirect(url_for("console.posts", account_id=created["account_id"]))


@bp.post("/posts/<int:post_id>/approve")
@login_required
def approve_post(post_id: int) -> BaseResponse:
    """Approve a colleague's post: it is scheduled."""
    return _act(
        lambda: post_service.approve_post(
            request_context(), me(), post_id, alt_text_rule=app_state().settings.alt_text_rule
        ),
        lambda post: f"Post {post['id']} is approved and scheduled for {local_time(post['scheduled_at'], MINUTES)}.",
    )


@bp.post("/posts/<int:post_id>/cancel")
@login_required
def cancel_post(post_id: int) -> BaseResponse:
    """Cancel a post that has not gone out."""
    return _act(
        lambda: post_service.cancel_post(request_context(), me(), post_id),
        lambda post: f"Post {post['id']} is cancelled.",
    )


@bp.post("/posts/<int:post_id>/reschedule")
@login_required
def reschedule_post(post_id: int) -> BaseResponse:
    """Give a missed, failed or unknown post a new time."""

    def reschedule() -> dict[str, Any]:
        when = local_to_iso(request.form.get("scheduled_at", ""))
        return post_service.reschedule_post(request_context(), me(), post_id, {"scheduled_at": when})

    return _act(
        reschedule, lambda post: f"Post {post['id']} is scheduled for {local_time(post['scheduled_at'], MINUTES)}."
    )


@bp.post("/posts/<int:post_id>/mark-published")
@login_required
def mark_published(post_id: int) -> BaseResponse:
    """Record that a post whose fate was unknown did go out."""
    remote_id = request.form.get("remote_id", "")
    return _act(
        lambda: post_service.mark_published(request_context(), me(), post_id, {"remote_id": remote_id}),
        lambda post: f"Post {post['id']} is recorded as published.",
    )
