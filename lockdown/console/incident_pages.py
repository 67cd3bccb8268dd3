"""Console pages of one incident: timeline, holds, in-flight posts, messages, resolve, report."""

from __future__ import annotations

from typing import Any

from flask import Response, flash, redirect, render_template, request, url_for
from werkzeug.wrappers import Response as BaseResponse

from lockdown.api.state import app_state, request_context
from lockdown.console.auth import login_required, signed_in_user
from lockdown.console.blueprint import bp
from lockdown.console.redirects import console_page
from lockdown.console.wording import plural
from lockdown.errors import Conflict
from lockdown.incidents.declare import acknowledge, get_incident, list_incidents, resolve_incident
from lockdown.incidents.delivery_errors import delivery_errors_as_seen_by
from lockdown.incidents.messages import approve_message, draft_message, get_message, list_messages
from lockdown.incidents.next_steps import next_steps, resolve_preview
from lockdown.incidents.playbooks import RESUME_POLICIES, TEMPLATES
from lockdown.incidents.report import report_for, report_markdown
from lockdown.incidents.watch_record import can_delete, incident_watch
from lockdown.people.users import User
from lockdown.posting.dispatch import connectors_for
from lockdown.posting.posts import delete_remote, get_post
from lockdown.readiness.status import central_summary
from lockdown.watch.status import delete_out_of_band, watch_summary

POLICY_HELP = {
    "review": "Posts that fell due during the hold wait in “Needs review” for their account's manager.",
    "skip": "Posts that fell due during the hold are cancelled.",
    "resume": "Posts that fell due during the hold go out again, one per account at a spaced interval.",
}


def _me() -> User:
    user = signed_in_user()
    assert user is not None  # login_required ran first
    return user


# What resolving does to the posts that fell due during the hold, by resume policy (one, many).
MISSED_FATE = {
    "review": ("it will wait in “Needs review” for its account's manager to reschedule or cancel",
               "they will wait in “Needs review” for their accounts' managers to reschedule or cancel"),
    "skip": ("it will be cancelled", "they will be cancelled"),
    "resume": ("it will go out again", "they will go out again, one per account every {minutes} minutes"),
}  # fmt: skip
# How many timeline entries the incident page shows before "Show all".
TIMELINE_SHOWN = 10


def action_cards(incident_id: int) -> list[dict[str, Any]]:
    """The signed-in person's next steps in an incident, most urgent first; ERMC's triage card
    carries the central accounts' readiness as ERMC may read it."""
    ctx = request_context()
    user = _me()
    steps: list[dict[str, Any]] = next_steps(ctx.db, user, incident_id)["steps"]
    for step in steps:
        if step["kind"] == "triage":
            step["central"] = central_summary(ctx.db, user, app_state().settings.api_versions, ctx.now())
    return steps


def missed_posts_sentence(count: int, policy: str) -> str:
    """What happens to the posts that fell due during the hold, as a sentence for 0, 1 or many."""
    if count == 0:
        return "No post fell due during the hold, so none waits."
    minutes = int(app_state().incidents.resume_interval.total_seconds() // 60) or 1
    one, many = MISSED_FATE[policy]
    if count == 1:
        return f"1 post fell due during the hold: {one}."
    return f"{count} posts fell due during the hold: {many.format(minutes=minutes)}."


def _back(incident_id: int) -> BaseResponse:
    return redirect(url_for("console.incident", incident_id=incident_id))


@bp.get("/incidents")
@login_required
def incidents() -> str:
    """Every incident, newest first, each linking to its page and report."""
    found = list_incidents(request_context().db, limit=200)["items"]
    return render_template("incidents.html", incidents=list(reversed(found)))


@bp.get("/incidents/<int:incident_id>")
@login_required
def incident(incident_id: int) -> str:
    """What an incident holds, what was in flight, its messages and who has acknowledged."""
    db = request_context().db
    found = get_incident(db, incident_id)
    in_flight = [get_post(db, post_id) for post_id in found["in_flight"]]
    accounts = {
        row[0]: row[1:]
        for row in db.conn.execute("SELECT id, handle, platform, json_extract(connector, '$.kind') FROM accounts")
    }
    for post in in_flight:
        handle, platform, kind = accounts[post["account_id"]]
        post["account"] = f"{handle} ({platform})"
        post["deletable"] = post["state"] == "published" and bool(post["remote_id"]) and can_delete(kind)
    watch = incident_watch(db, incident_id)
    me = _me()
    managed = {row[0] for row in db.conn.execute("SELECT id FROM accounts WHERE manager_id = ?", [me.id])}
    for post in watch["out_of_band"]:
        post["may_delete"] = post["can_delete"] and (me.has("press") or post["account_id"] in managed)
    return render_template(
        "incident.html",
        incident=found,
        watch=watch,
        watch_counts=watch_summary(watch),
        steps=action_cards(incident_id),
        timeline_shown=TIMELINE_SHOWN,
        in_flight=in_flight,
        messages=delivery_errors_as_seen_by(db, _me(), list_messages(db, incident_id)),
        templates=TEMPLATES,
        policies=RESUME_POLICIES,
        policy_help=POLICY_HELP,
    )


@bp.get("/incidents/<int:incident_id>/messages/<int:message_id>")
@login_required
def message(incident_id: int, message_id: int) -> BaseResponse:
    """The address an approval request links to: the message on its incident's page. A path of
    its own (not a fragment) so that it survives the trip through sign-in."""
    get_message(request_context().db, incident_id, message_id)  # 404 for a message that is not there
    return redirect(url_for("console.incident", incident_id=incident_id, _anchor=f"message-{message_id}"))


@bp.post("/incidents/<int:incident_id>/ack")
@login_required
def ack(incident_id: int) -> BaseResponse:
    """Acknowledge the incident's notice."""
    acknowledge(request_context(), _me(), incident_id)
    flash("Thank you: your acknowledgement is recorded.", "ok")
    return redirect(console_page(request.form.get("back"), url_for("console.my_accounts")))


@bp.post("/incidents/<int:incident_id>/messages")
@login_required
def draft(incident_id: int) -> BaseResponse:
    """Draft a message from a template (and/or own words) for a second press officer to approve."""
    data: dict[str, Any] = {}
    if request.form.get("template"):
        data["template"] = request.form["template"]
    if request.form.get("body", "").strip():
        data["body"] = request.form["body"]
    message = draft_message(request_context(), app_state().incidents, _me(), incident_id, data)
    flash(f"Message {message['id']} drafted. A second press officer must approve it before it goes out.", "ok")
    return _back(incident_id)


@bp.post("/incidents/<int:incident_id>/messages/<int:message_id>/approve")
@login_required
def approve(incident_id: int, message_id: int) -> BaseResponse:
    """Approve a colleague's message: it goes out through the central accounts now."""
    message = approve_message(
        request_context(),
        app_state().vault,
        _me(),
        incident_id,
        message_id,
        connector_factory=connectors_for(app_state().settings),
        media_config=app_state().incidents.media,
    )
    sent = sum(1 for d in message["deliveries"] if d["state"] == "delivered")
    flash(f"Message {message_id} approved: published on {sent} of {len(message['deliveries'])} accounts.", "ok")
    return _back(incident_id)


@bp.post("/incidents/<int:incident_id>/resolve")
@login_required
def resolve(incident_id: int) -> BaseResponse | str:
    """The all-clear, after a confirmation that states how many accounts it releases and what
    happens to the posts that fell due during the hold: lift the holds, apply the resume policy."""
    me = _me()
    me.require("press")  # before the confirmation, so no one is asked to confirm what they may not do
    ctx = request_context()
    policy = request.form.get("resume_policy") or None
    if policy is not None and policy not in RESUME_POLICIES:
        flash(f"Choose one of {', '.join(RESUME_POLICIES)} for the posts that fell due.", "error")
        return _back(incident_id)
    if request.form.get("confirmed") != "yes":
        preview = resolve_preview(ctx.db, incident_id, ctx.now())
        if preview["status"] != "active":
            flash(f"Incident {incident_id} is resolved already.", "error")
            return _back(incident_id)
        chosen = policy or preview["resume_policy"]
        return render_template(
            "confirm_resolve.html",
            incident=get_incident(ctx.db, incident_id),
            preview=preview,
            policy=chosen,
            missed=missed_posts_sentence(preview["missed_posts"], chosen),
        )
    done = resolve_incident(ctx, app_state().incidents, me, incident_id, {"resume_policy": policy} if policy else {})
    flash(
        f"Incident {incident_id} resolved ({done['resume_policy']}): "
        f"{plural(done['released_accounts'], 'account')} released.",
        "ok",
    )
    return _back(incident_id)


@bp.post("/posts/<int:post_id>/delete-remote")
@login_required
def delete_published(post_id: int) -> BaseResponse:
    """Take back a post that was in flight at a declaration."""
    delete_remote(request_context(), app_state().vault, _me(), post_id, connectors_for(app_state().settings))
    flash(f"Post {post_id} was deleted from its platform.", "ok")
    return redirect(console_page(request.form.get("back"), url_for("console.dashboard")))


@bp.post("/incidents/<int:incident_id>/watch/<int:oob_id>/delete")
@login_required
def delete_out_of_band_post(incident_id: int, oob_id: int) -> BaseResponse:
    """Delete a post Lockdown did not send from its platform (press, the account's manager)."""
    state = app_state()
    try:
        delete_out_of_band(request_context(), state.vault, connectors_for(state.settings), _me(), incident_id, oob_id)
    except Conflict as exc:
        # The refusal is kept on the post and shown beside it; say it here too.
        flash(exc.message, "error")
        return redirect(url_for("console.incident", incident_id=incident_id, _anchor="out-of-band-heading"))
    flash("The post was deleted from its platform.", "ok")
    return redirect(url_for("console.incident", incident_id=incident_id, _anchor="out-of-band-heading"))


@bp.get("/incidents/<int:incident_id>/report")
@login_required
def report(incident_id: int) -> str:
    """The incident report: held, in flight, messages, acknowledgements and the proof."""
    return render_template("report.html", report=_report_for(_me(), incident_id))


@bp.get("/incidents/<int:incident_id>/report.md")
@login_required
def report_file(incident_id: int) -> Response:
    """The same report as a Markdown file to keep with the incident's records."""
    text = report_markdown(_report_for(_me(), incident_id))
    return Response(
        text,
        mimetype="text/markdown",
        headers={"Content-Disposition": f'attachment; filename="incident-{incident_id}-report.md"'},
    )


def _report_for(viewer: User, incident_id: int) -> dict[str, Any]:
    """The incident's report, with delivery errors as ``viewer`` may read them."""
    ctx = request_context()
    return report_for(ctx.db, ctx.audit_key, incident_id, viewer)
