"""Scheduled posts and their review by a colleague (policy 2.2.3): the rules and who may act."""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlite_utils import Database

from connectors.base import ConnectorError
from lockdown.crypto import Vault
from lockdown.errors import Conflict, Forbidden, InvalidInput, NotFound
from lockdown.pagination import check_limit, decode_cursor, page
from lockdown.people.users import User
from lockdown.posting import media
from lockdown.posting.connector_secrets import load_secrets
from lockdown.posting.dispatch import ConnectorFactory, build_connector
from lockdown.posting.length import over_limit
from lockdown.posting.media_limits import check_media_limits
from lockdown.posting.rights import rights_on
from lockdown.store.context import Changes, Context
from lockdown.timeutil import parse_iso, to_iso

STATES = (
    "pending_review", "scheduled", "publishing", "published",
    "failed", "cancelled", "needs_review", "unknown",
)  # fmt: skip
EDITABLE = ("pending_review", "scheduled", "needs_review", "failed")
CANCELLABLE = ("pending_review", "scheduled", "needs_review", "failed", "unknown")
RESCHEDULABLE = ("needs_review", "unknown", "failed")
MAX_BODY = 100_000
# A post's last failure is its message with the kind and status beside it: cleared together.
NO_ERROR: dict[str, Any] = {"error": None, "error_code": None, "error_status": None}


def _account(db: Database, account_id: Any, field: str = "account_id") -> dict[str, Any]:
    if isinstance(account_id, bool) or not isinstance(account_id, int):
        raise InvalidInput(f"{field} must be an account id", field=field)
    row = db.conn.execute("SELECT id, platform, archived_at FROM accounts WHERE id = ?", [account_id]).fetchone()
    if row is None:
        raise InvalidInput(f"{field}: there is no account {account_id}", field=field)
    if row[2] is not None:
        raise InvalidInput(f"{field}: account {account_id} is archived", field=field)
    return {"id": row[0], "platform": row[1]}


def check_body(platform: str, body: Any) -> str:
    """A non-blank body within the platform's length; 400 naming ``body`` otherwise."""
    if not isinstance(body, str) or not body.strip():
        raise InvalidInput("body must not be blank", field="body")
    problem = over_limit(platform, body) if len(body) <= MAX_BODY else "body is far too long"
    if problem:
        raise InvalidInput(problem, field="body")
    return body


def check_time(value: Any, now: datetime, field: str = "scheduled_at") -> datetime:
    """A time with a zone, in the future; 400 naming the field otherwise."""
    if not isinstance(value, str):
        raise InvalidInput(f"{field} must be an ISO 8601 time such as 2026-12-01T09:00:00Z", field=field)
    try:
        moment = parse_iso(value)
    except ValueError as exc:
        raise InvalidInput(f"{field}: {exc}", field=field) from None
    if moment <= now:
        raise InvalidInput(f"{field} {to_iso(moment)} is in the past", field=field)
    return moment


def _insert(
    change: Changes, actor: User, account_id: int, body: str, when: datetime, batch: str | None,
    *, media_ids: list[int] | None = None,
) -> int:  # fmt: skip
    stamp, scheduled = to_iso(change.at), to_iso(when)
    cursor = change.context.db.conn.execute(
        "INSERT INTO posts (account_id, body, scheduled_at, due_at, state, author_id, last_changed_by, batch_id, "
        "idempotency_key, created_at, updated_at) "
        "VALUES (?, ?, ?, ?, 'pending_review', ?, ?, ?, ?, ?, ?)",
        [account_id, body, scheduled, scheduled, actor.id, actor.id, batch, uuid.uuid4().hex, stamp, stamp],
    )
    post_id = int(cursor.lastrowid or 0)
    change.audit(
        actor.email, "post.create", f"post:{post_id}",
        account_id=account_id, scheduled_at=scheduled, batch_id=batch, body=body, media_ids=media_ids or [],
    )  # fmt: skip
    return post_id


def create_post(
    ctx: Context, actor: User, data: Mapping[str, Any], *, alt_text_rule: str = "required"
) -> dict[str, Any]:
    """Draft a post for a colleague to review (ermc, the account's manager or editors), with
    the media (``media_ids``) its author uploaded, in the order it shows them."""
    account = _account(ctx.db, data.get("account_id"))
    if not rights_on(ctx.db, actor, account["id"]):
        raise Forbidden(f"you do not manage or edit account {account['id']}")
    body = check_body(account["platform"], data.get("body"))
    when = check_time(data.get("scheduled_at"), ctx.now())
    ids = media.media_ids_of(data.get("media_ids", []))
    with ctx.change() as change:
        # Checked under the write lock: the media sweep removes unused uploads under it too.
        chosen = _post_media(ctx.db, actor, account, ids, alt_text_rule=alt_text_rule)
        post_id = _insert(change, actor, account["id"], body, when, None, media_ids=ids)
        media.attach(ctx.db, "post", post_id, chosen)
    return get_post(ctx.db, post_id)


def _post_media(
    db: Database, actor: User, account: Mapping[str, Any], ids: list[int], *, alt_text_rule: str,
    attached: tuple[int, ...] = (),
) -> list[media.Medium]:  # fmt: skip
    """The media a post on ``account`` may carry; Instagram publishes nothing without one."""
    chosen = media.usable_media(
        db, actor, ids, platforms=[account["platform"]], alt_text_rule=alt_text_rule, attached=attached
    )
    if not chosen and account["platform"] == "instagram" and _instagram_needs_media(db, account["id"]):
        raise InvalidInput("media_ids: Instagram publishes no post without an image or a video", field="media_ids")
    return chosen


def _instagram_needs_media(db: Database, account_id: int) -> bool:
    """An Instagram account that publishes through its connector and has no standing image_url."""
    connector = json.loads(db.conn.execute("SELECT connector FROM accounts WHERE id = ?", [account_id]).fetchone()[0])
    return connector.get("kind") == "instagram" and not connector.get("image_url")


_LOAD = (
    "SELECT p.id, p.account_id, p.state, p.author_id, COALESCE(p.last_changed_by, p.author_id), p.batch_id, "
    "a.platform FROM posts p JOIN accounts a ON a.id = p.account_id"
)
_LOAD_KEYS = ("id", "account_id", "state", "author_id", "last_changed_by", "batch_id", "platform")


def _load(db: Database, post_id: int) -> dict[str, Any]:
    row = db.conn.execute(f"{_LOAD} WHERE p.id = ?", [post_id]).fetchone()
    if row is None:
        raise NotFound(f"no post {post_id}", field="id")
    return dict(zip(_LOAD_KEYS, row, strict=True))


def _set_state(change: Changes, post_id: int, expected: tuple[str, ...], state: str, **columns: Any) -> None:
    """Compare-and-set: move a post from one of ``expected`` to ``state``, or 409."""
    assignments = "".join(f", {name} = ?" for name in columns)
    marks = ",".join("?" * len(expected))
    done = change.context.db.conn.execute(
        f"UPDATE posts SET state = ?, updated_at = ?{assignments} WHERE id = ? AND state IN ({marks})",
        [state, to_iso(change.at), *columns.values(), post_id, *expected],
    ).rowcount
    if not done:
        current = get_post(change.context.db, post_id)["state"]
        raise Conflict(f"post {post_id} is {current}; this needs it {' or '.join(expected)}", field="state")


def update_post(
    ctx: Context, actor: User, post_id: int, data: Mapping[str, Any], *, alt_text_rule: str = "required"
) -> dict[str, Any]:
    """Edit a post's body, time or media; any change sends it back to review, and the editor
    becomes one of its authors, who may not approve it."""
    post = _load(ctx.db, post_id)
    unknown = sorted(set(data) - {"body", "scheduled_at", "media_ids"})
    if unknown:
        raise InvalidInput(f"{unknown[0]} cannot be changed; change body, scheduled_at or media_ids", field=unknown[0])
    if not data:
        raise InvalidInput("send body, scheduled_at or media_ids", field="body")
    columns: dict[str, Any] = {}
    if "body" in data:
        columns["body"] = check_body(post["platform"], data["body"])
    if "scheduled_at" in data:
        when = to_iso(check_time(data["scheduled_at"], ctx.now()))
        columns.update(scheduled_at=when, due_at=when)
    ids = media.media_ids_of(data["media_ids"]) if "media_ids" in data else None
    with ctx.change() as change:
        # Rights are checked under the write lock: an editor removed meanwhile edits nothing.
        if not rights_on(ctx.db, actor, post["account_id"]):
            raise Forbidden(f"you do not manage or edit account {post['account_id']}")
        if ids is not None:
            attached = tuple(m.id for m in media.media_of(ctx.db, "post", [post_id]).get(post_id, []))
            account = {"id": post["account_id"], "platform": post["platform"]}
            chosen = _post_media(ctx.db, actor, account, ids, alt_text_rule=alt_text_rule, attached=attached)
        _set_state(
            change, post_id, EDITABLE, "pending_review",
            approved_by=None, approved_at=None, attempts=0, last_changed_by=actor.id, **NO_ERROR, **columns,
        )  # fmt: skip
        if ids is not None:
            media.attach(ctx.db, "post", post_id, chosen)
        change.audit(
            actor.email, "post.edit", f"post:{post_id}", **columns, **({"media_ids": ids} if ids is not None else {})
        )
    return get_post(ctx.db, post_id)


def approve_post(ctx: Context, actor: User, post_id: int, *, alt_text_rule: str = "required") -> dict[str, Any]:
    """A colleague with rights on the account, never one of its authors, approves: it is scheduled."""
    _load(ctx.db, post_id)  # 404 before taking the write lock
    with ctx.change() as change:
        # Read and checked under the write lock, so an edit cannot slip between check and approval.
        post = _load(ctx.db, post_id)
        _may_approve(ctx.db, actor, [post])
        _media_still_fit(ctx.db, [post], alt_text_rule)
        _approve(change, actor, [post_id])
    return get_post(ctx.db, post_id)


def _media_still_fit(db: Database, posts: list[dict[str, Any]], alt_text_rule: str) -> None:
    """Policy 2.2.4 and the platform's limits, checked again at approval (the rule may have been
    tightened since the draft): 400 naming media_ids."""
    found = media.media_of(db, "post", [post["id"] for post in posts])
    for post in posts:
        chosen = found.get(post["id"], [])
        try:
            media.check_accessibility(chosen, alt_text_rule)
            check_media_limits(post["platform"], chosen)
        except InvalidInput as exc:
            raise InvalidInput(f"post {post['id']}: {exc.message}", field="media_ids") from None


def _may_approve(db: Database, actor: User, posts: list[dict[str, Any]]) -> None:
    """Policy 2.2.3: the approver is neither the post's author nor whoever last changed its body
    or time (an editor's words are theirs), and has rights on its account."""
    for post in posts:
        if post["author_id"] == actor.id:
            raise Forbidden(f"post {post['id']} is yours; a colleague must approve it (policy 2.2.3)")
        if post["last_changed_by"] == actor.id:
            raise Forbidden(
                f"you changed post {post['id']} last, so it is yours too; a colleague must approve it (policy 2.2.3)"
            )
        if not rights_on(db, actor, post["account_id"]):
            raise Forbidden(f"you do not manage or edit account {post['account_id']}")


def _approve(change: Changes, actor: User, post_ids: list[int]) -> None:
    db = change.context.db
    for post_id in post_ids:
        scheduled = db.conn.execute("SELECT scheduled_at FROM posts WHERE id = ?", [post_id]).fetchone()[0]
        if scheduled <= to_iso(change.at):
            raise Conflict(
                f"post {post_id}'s time {scheduled} has passed; edit its time, then approve",
                field="scheduled_at",
            )
        _set_state(
            change, post_id, ("pending_review",), "scheduled",
            approved_by=actor.id, approved_at=to_iso(change.at),
        )  # fmt: skip
        change.audit(actor.email, "post.approve", f"post:{post_id}")


def cancel_post(ctx: Context, actor: User, post_id: int) -> dict[str, Any]:
    """Cancel a post that has not gone out (its author, the account's manager, or ermc)."""
    post = _load(ctx.db, post_id)
    manager = ctx.db.conn.execute("SELECT manager_id FROM accounts WHERE id = ?", [post["account_id"]]).fetchone()[0]
    if not (actor.has("ermc") or actor.id in (post["author_id"], manager)):
        raise Forbidden("only the post's author, the account's manager or ERMC may cancel it")
    with ctx.change() as change:
        _set_state(change, post_id, CANCELLABLE, "cancelled")
        change.audit(actor.email, "post.cancel", f"post:{post_id}", was=post["state"])
    return get_post(ctx.db, post_id)


def reschedule_post(ctx: Context, actor: User, post_id: int, data: Mapping[str, Any]) -> dict[str, Any]:
    """Give an approved post that missed its time, failed, or is unknown a new time."""
    post = _load(ctx.db, post_id)
    if not rights_on(ctx.db, actor, post["account_id"]):
        raise Forbidden(f"you do not manage or edit account {post['account_id']}")
    when = to_iso(check_time(data.get("scheduled_at"), ctx.now()))
    with ctx.change() as change:
        _set_state(
            change, post_id, RESCHEDULABLE, "scheduled",
            scheduled_at=when, due_at=when, attempts=0, claimed_by=None, **NO_ERROR,
        )  # fmt: skip
        change.audit(actor.email, "post.reschedule", f"post:{post_id}", scheduled_at=when, was=post["state"])
    return get_post(ctx.db, post_id)


def mark_published(ctx: Context, actor: User, post_id: int, data: Mapping[str, Any]) -> dict[str, Any]:
    """Record that a post whose fate was unknown did go out, with the platform's id."""
    post = _load(ctx.db, post_id)
    if not rights_on(ctx.db, actor, post["account_id"]):
        raise Forbidden(f"you do not manage or edit account {post['account_id']}")
    remote_id = data.get("remote_id")
    if not isinstance(remote_id, str) or not remote_id.strip():
        raise InvalidInput("remote_id must be the platform's id of the post", field="remote_id")
    with ctx.change() as change:
        _set_state(
            change, post_id, ("unknown",), "published",
            remote_id=remote_id.strip(), published_at=to_iso(change.at), **NO_ERROR,
        )  # fmt: skip
        change.audit(actor.email, "post.mark_published", f"post:{post_id}", remote_id=remote_id.strip())
    return get_post(ctx.db, post_id)


def approve_batch(ctx: Context, actor: User, batch_id: str, *, alt_text_rule: str = "required") -> dict[str, Any]:
    """Approve every post of an imported batch still awaiting review (never by its uploader)."""

    def batch() -> list[dict[str, Any]]:
        rows = ctx.db.conn.execute(f"{_LOAD} WHERE p.batch_id = ? ORDER BY p.id", [batch_id]).fetchall()
        if not rows:
            raise NotFound(f"no batch {batch_id}", field="batch_id")
        return [dict(zip(_LOAD_KEYS, row, strict=True)) for row in rows]

    batch()  # 404 before taking the write lock
    with ctx.change() as change:
        posts = batch()
        _may_approve(ctx.db, actor, posts)
        _media_still_fit(ctx.db, [post for post in posts if post["state"] == "pending_review"], alt_text_rule)
        pending = [post["id"] for post in posts if post["state"] == "pending_review"]
        if not pending:
            raise Conflict(f"no post of batch {batch_id} is awaiting review", field="batch_id")
        _approve(change, actor, pending)
        change.audit(actor.email, "post.approve_batch", f"batch:{batch_id}", approved=len(pending))
    return {"batch_id": batch_id, "approved": len(pending)}


def insert_batch(ctx: Context, actor: User, rows: list[tuple[int, str, datetime]]) -> dict[str, Any]:
    """Insert checked (account_id, body, time) rows as one batch awaiting review."""
    batch = uuid.uuid4().hex
    with ctx.change() as change:
        for account_id, body, when in rows:
            _insert(change, actor, account_id, body, when, batch)
        change.audit(actor.email, "post.import", f"batch:{batch}", created=len(rows))
    return {"batch_id": batch, "created": len(rows)}


_KEYS = (
    "id", "account_id", "body", "state", "scheduled_at", "due_at", "author", "approved_by",
    "approved_at", "batch_id", "attempts", "dispatched_at", "published_at", "remote_id", "error",
    "created_at", "updated_at", "held", "remote_deleted_at", "last_changed_by", "error_code", "error_status",
)  # fmt: skip
HELD = "EXISTS (SELECT 1 FROM account_holds h WHERE h.account_id = p.account_id)"
_SELECT = (
    "SELECT p.id, p.account_id, p.body, p.state, p.scheduled_at, p.due_at, au.email, ap.email, "
    "p.approved_at, p.batch_id, p.attempts, p.dispatched_at, p.published_at, p.remote_id, "
    f"p.error, p.created_at, p.updated_at, p.state = 'scheduled' AND {HELD}, p.remote_deleted_at, "
    "COALESCE(lc.email, au.email), p.error_code, p.error_status "
    "FROM posts p JOIN users au ON au.id = p.author_id "
    "LEFT JOIN users ap ON ap.id = p.approved_by "
    "LEFT JOIN users lc ON lc.id = p.last_changed_by"
)


def get_post(db: Database, post_id: int) -> dict[str, Any]:
    """One post; 404 if there is none."""
    row = db.conn.execute(f"{_SELECT} WHERE p.id = ?", [post_id]).fetchone()
    if row is None:
        raise NotFound(f"no post {post_id}", field="id")
    return _with_media(db, [_post(row)])[0]


def _post(row: Any) -> dict[str, Any]:
    post = dict(zip(_KEYS, row, strict=True))
    post["held"] = bool(post["held"])
    return post


def _with_media(db: Database, posts: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each post with its media, in order, and what policy 2.2.4 warns of (alt text missing where
    the installation lets that through)."""
    found = media.media_of(db, "post", [post["id"] for post in posts])
    for post in posts:
        chosen = found.get(post["id"], [])
        post["media"] = [medium.public() for medium in chosen]
        post["warnings"] = media.check_accessibility(chosen, "warn") if chosen else []
    return posts


def list_posts(
    db: Database,
    *,
    account_id: int | None = None,
    state: str | None = None,
    batch_id: str | None = None,
    held: bool | None = None,
    limit: int | None = None,
    cursor: str | None = None,
) -> dict[str, Any]:
    """A page of posts in id order, filtered."""
    size = check_limit(limit)
    where, params = ["p.id > ?"], [decode_cursor(cursor)]
    if state is not None:
        if state not in STATES:
            raise InvalidInput(f"state must be one of {', '.join(STATES)}", field="state")
        where.append("p.state = ?")
        params.append(state)  # type: ignore[arg-type]
    if account_id is not None:
        where.append("p.account_id = ?")
        params.append(account_id)
    if held is not None:
        where.append(f"p.state = 'scheduled' AND {HELD}" if held else f"NOT (p.state = 'scheduled' AND {HELD})")
    if batch_id is not None:
        where.append("p.batch_id = ?")
        params.append(batch_id)  # type: ignore[arg-type]
    rows = db.conn.execute(
        f"{_SELECT} WHERE {' AND '.join(where)} ORDER BY p.id LIMIT ?", [*params, size + 1]
    ).fetchall()
    return page(_with_media(db, [_post(row) for row in rows]), size)


def progress_of(raw: str) -> dict[str, str]:
    """A post's stored connector progress."""
    value = json.loads(raw or "{}")
    return {str(k): str(v) for k, v in value.items()}


def delete_remote(
    ctx: Context, vault: Vault, actor: User, post_id: int, factory: ConnectorFactory = build_connector
) -> dict[str, Any]:
    """Delete a published post from its platform (press, ERMC, or the account's manager), e.g. one
    that was in flight when an incident was declared."""
    post = _load(ctx.db, post_id)
    row = ctx.db.conn.execute(
        "SELECT p.remote_id, p.remote_deleted_at, a.manager_id, a.connector FROM posts p "
        "JOIN accounts a ON a.id = p.account_id WHERE p.id = ? AND p.state = 'published'",
        [post_id],
    ).fetchone()
    if row is None or row[0] is None:
        raise Conflict(f"post {post_id} is not published with a platform id", field="state")
    remote_id, deleted, manager_id, connector_json = row
    if not (actor.has("press", "ermc") or actor.id == manager_id):
        raise Forbidden("only the press team, ERMC or the account's manager may delete a published post")
    if deleted:
        raise Conflict(f"post {post_id} was deleted from its platform at {deleted}", field="state")
    settings = json.loads(connector_json)
    kind = settings.pop("kind")
    try:
        connector = factory(kind, settings, load_secrets(ctx.db, vault, post["account_id"], {"kind": kind, **settings}))
        try:
            connector.delete(remote_id)
        finally:
            connector.close()
    except ConnectorError as exc:
        raise Conflict(f"the platform refused the deletion: {exc.message}", field="remote_id") from exc
    with ctx.change() as change:
        ctx.db.conn.execute(
            "UPDATE posts SET remote_deleted_at = ?, updated_at = ? WHERE id = ?",
            [to_iso(change.at), to_iso(change.at), post_id],
        )
        change.audit(actor.email, "post.delete_remote", f"post:{post_id}", remote_id=remote_id)
    return get_post(ctx.db, post_id)
