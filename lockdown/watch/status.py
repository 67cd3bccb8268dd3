"""What the watch shows of an incident (``GET /api/v1/incidents/{id}/watch``, the incident page)
and the one action on an out-of-band post: deleting it through the connector.

Who reads what: an out-of-band post is public on its platform, but what a hijacker posts can be
abuse or another person's data, and Lockdown keeps it where the incident page is: signed-in users
only (any role, as the incident page itself). Deleting it speaks for the account, so only the
press team and the account's own manager may (ERMC keeps the register, it does not post).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from sqlite_utils import Database

from connectors.base import ConnectorError
from lockdown.crypto import Vault, VaultError
from lockdown.errors import Conflict, Forbidden, NotFound
from lockdown.incidents.timeline import event
from lockdown.incidents.watch_record import incident_watch, out_of_band_post
from lockdown.people.users import User
from lockdown.posting.dispatch import ConnectorFactory, open_connector
from lockdown.store.context import Context
from lockdown.timeutil import to_iso


def may_delete(actor: User, db: Database, account_id: int) -> None:
    """The press team and the account's own manager may delete an out-of-band post."""
    if actor.has("press"):
        return
    manager = db.conn.execute("SELECT manager_id FROM accounts WHERE id = ?", [account_id]).fetchone()
    if actor.has("manager") and manager is not None and manager[0] == actor.id:
        return
    raise Forbidden(f"only the press team or account {account_id}'s manager may delete a post from it")


def delete_out_of_band(
    ctx: Context, vault: Vault, factory: ConnectorFactory, actor: User, incident_id: int, oob_id: int
) -> dict[str, Any]:
    """Delete an out-of-band post from its platform through the account's connector (press, the
    account's manager); audited and on the timeline. A platform that refuses leaves the post
    undeleted with the refusal recorded (shown on the incident page) and answers 409."""
    watch = incident_watch(ctx.db, incident_id)
    post = next((p for p in watch["out_of_band"] if p["id"] == oob_id), None)
    if post is None:
        raise NotFound(f"no out-of-band post {oob_id} in incident {incident_id}", field="oob_id")
    may_delete(actor, ctx.db, post["account_id"])
    if post["deleted_at"]:
        raise Conflict(f"out-of-band post {oob_id} was deleted at {post['deleted_at']}", field="oob_id")
    if not post["can_delete"]:
        raise Conflict(
            f"{post['platform']}'s API cannot delete a post: delete it in the platform's own app", field="oob_id"
        )
    connector_json = ctx.db.conn.execute("SELECT connector FROM accounts WHERE id = ?", [post["account_id"]]).fetchone()
    failure: str | None = None
    try:
        connector = open_connector(ctx.db, vault, factory, post["account_id"], json.loads(connector_json[0]))
        try:
            connector.delete(post["remote_id"])
        finally:
            connector.close()
    except ConnectorError as exc:
        failure = exc.message
    except VaultError as exc:
        failure = f"the connector's secrets cannot be read: {exc}"
    with ctx.change() as change:
        db = ctx.db.conn
        if failure is None:
            db.execute(
                "UPDATE out_of_band_posts SET deleted_at = ?, deleted_by = ?, delete_error = NULL "
                "WHERE id = ? AND deleted_at IS NULL",
                [to_iso(change.at), actor.email, oob_id],
            )
            event(change, incident_id, "out_of_band_deleted", actor.email, out_of_band_id=oob_id,
                  account_id=post["account_id"], remote_id=post["remote_id"])  # fmt: skip
        else:
            db.execute("UPDATE out_of_band_posts SET delete_error = ? WHERE id = ?", [failure, oob_id])
        change.audit(
            actor.email, "account.out_of_band_delete", f"account:{post['account_id']}",
            out_of_band_id=oob_id, remote_id=post["remote_id"], ok=failure is None, error=failure,
        )  # fmt: skip
    if failure is not None:
        raise Conflict(f"the platform refused the deletion: {failure}", field="oob_id")
    return out_of_band_post(ctx.db, oob_id)


def watch_summary(watch: Mapping[str, Any]) -> dict[str, int]:
    """Counts for the top of the incident page: out-of-band posts, those still up, accounts not watched."""
    posts = watch["out_of_band"]
    return {
        "out_of_band": len(posts),
        "not_deleted": sum(1 for p in posts if not p["deleted_at"]),
        "unwatchable": sum(1 for a in watch["accounts"] if a["status"] == "unwatchable"),
    }
