"""Running readiness checks: claim the account's check (one at a time per account), call the
connector's ``check()`` outside any transaction, then record the outcome, its audit entry and
any notice in one transaction.

A check publishes nothing: it is one authenticated read per account, built exactly as the
dispatcher builds a connector for a send (the vault's secrets for the connector's kind and
host, the installation's API versions and outbound policy). It takes the write lock only for
the claim and the record, never across the platform call, so a declaration is never kept
waiting by a slow platform.

When people are told: the account's manager when their account stops being ready, and the
press team too when it is a central account; once per failing stretch (a transient failure
only once it repeats), and once more when it is ready again.
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from connectors.base import ConnectorError, Ready
from lockdown.crypto import Vault, VaultError
from lockdown.errors import Conflict, Forbidden, RuleBroken, TooManyAttempts
from lockdown.notify.outbox import Notice, queue
from lockdown.people.users import User, role_holders
from lockdown.posting.dispatch import ConnectorFactory, open_connector
from lockdown.posting.post_errors import capped
from lockdown.register.accounts import get_account
from lockdown.store.context import Changes, Context
from lockdown.timeutil import parse_iso, to_iso

log = logging.getLogger(__name__)

SCHEDULER = "scheduler"
# An on-demand check this soon after the last one is refused: a person clicking twice, or a
# script in a loop, would otherwise spend the platform's rate limit (Bluesky: 30 sessions in
# 5 minutes) that the account's posts need.
MIN_GAP = timedelta(seconds=60)
# A check marked running for longer than this was abandoned (its process died): the platform
# call has a 15-second read timeout, so nothing still running is this old.
ABANDONED_AFTER = timedelta(minutes=5)
# After a failure the next scheduled check comes sooner than the interval.
RETRY_TRANSIENT = timedelta(minutes=15)
RETRY_PERMANENT = timedelta(hours=1)
# A transient failure (a 503, a timeout) is told only when it repeats this many times in a row.
CONFIRM_TRANSIENT = 2


@dataclass(frozen=True)
class CheckRunner:
    """What running a check needs beyond the database: the vault, how connectors are built
    (``connectors_for(settings)``, as the dispatcher does) and the schedule's interval."""

    vault: Vault
    connector_factory: ConnectorFactory
    interval: timedelta


def slot_offset(account_id: int, interval: timedelta) -> timedelta:
    """Where in each interval an account's scheduled check falls: spread evenly by a hash of its
    id, so 250 accounts are not all checked at the same minute."""
    fraction = ((account_id * 2654435761) % 2**32) / 2**32  # Knuth's multiplicative hash
    return timedelta(seconds=int(interval.total_seconds() * fraction))


def may_check(actor: User, account: Mapping[str, Any]) -> None:
    """ERMC, the press team and the account's own manager may check an account on demand; an
    editor or another account's manager may not (each check spends the platform's limits)."""
    if actor.has("ermc") or actor.has("press"):
        return
    if actor.has("manager") and account["manager"] == actor.email:
        return
    raise Forbidden(f"only ERMC, the press team or account {account['id']}'s manager may check it")


def check_now(ctx: Context, runner: CheckRunner, actor: User, account_id: int) -> str:
    """Check one account now, for a person (API, console); returns the state recorded.
    Refused when a check of it is running (409) or finished less than a minute ago (429)."""
    account = get_account(ctx.db, account_id)
    may_check(actor, account)
    if account["archived_at"]:
        raise RuleBroken(f"account {account_id} is archived; it is not checked", field="id")
    token = _claim(ctx, account_id, on_demand=True)
    return _run_and_record(ctx, runner, account, token, actor.email)


def check_by_command(ctx: Context, runner: CheckRunner, account_id: int, actor: str) -> str:
    """Check one account now for the command line (an operator on the host); a check already
    running is refused as for anyone."""
    account = get_account(ctx.db, account_id)
    token = _claim(ctx, account_id, on_demand=False)
    return _run_and_record(ctx, runner, account, token, actor)


def add_missing_rows(ctx: Context, interval: timedelta) -> int:
    """Give every account without a readiness row one, its first check at its slot in the
    coming interval."""
    now = ctx.now()
    missing = [
        row[0]
        for row in ctx.db.conn.execute(
            "SELECT a.id FROM accounts a LEFT JOIN account_readiness r ON r.account_id = a.id "
            "WHERE a.archived_at IS NULL AND r.account_id IS NULL"
        )
    ]
    if not missing:
        return 0
    with ctx.change(allow_empty=True):
        ctx.db.conn.executemany(
            "INSERT INTO account_readiness (account_id, next_check_at) VALUES (?, ?) ON CONFLICT DO NOTHING",
            [(account_id, to_iso(now + slot_offset(account_id, interval))) for account_id in missing],
        )
    return len(missing)


def run_due_checks(ctx: Context, runner: CheckRunner, *, limit: int = 50) -> dict[str, int]:
    """The scheduler's job: check the accounts whose slot has come (at most ``limit``, oldest
    first), one after another. Returns how many ended in each state."""
    add_missing_rows(ctx, runner.interval)
    now = ctx.now()
    due = ctx.db.conn.execute(
        "SELECT r.account_id FROM account_readiness r JOIN accounts a ON a.id = r.account_id "
        "WHERE r.next_check_at <= ? AND a.archived_at IS NULL "
        "AND (r.running_since IS NULL OR r.running_since < ?) ORDER BY r.next_check_at LIMIT ?",
        [to_iso(now), to_iso(now - ABANDONED_AFTER), limit],
    ).fetchall()
    counts = {"ready": 0, "failing": 0, "skipped": 0}
    for (account_id,) in due:
        try:
            token = _claim(ctx, account_id, on_demand=False)
        except Conflict:
            counts["skipped"] += 1  # a person's check is running: it records the outcome
            continue
        account = get_account(ctx.db, account_id)
        counts[_run_and_record(ctx, runner, account, token, SCHEDULER)] += 1
    return counts


def _claim(ctx: Context, account_id: int, *, on_demand: bool) -> str:
    """Mark the account's check as running, in a write: a second check while it runs is
    refused, and a person's check right after another is refused too."""
    token = uuid.uuid4().hex
    with ctx.change(allow_empty=True) as change:
        now = change.at
        db = ctx.db.conn
        db.execute(
            "INSERT INTO account_readiness (account_id, next_check_at) VALUES (?, ?) ON CONFLICT DO NOTHING",
            [account_id, to_iso(now)],
        )
        running, checked = db.execute(
            "SELECT running_since, checked_at FROM account_readiness WHERE account_id = ?", [account_id]
        ).fetchone()
        if running is not None and parse_iso(running) > now - ABANDONED_AFTER:
            raise Conflict(f"a check of account {account_id} is already running since {running}", field="id")
        if on_demand and checked is not None and parse_iso(checked) > now - MIN_GAP:
            wait = int((parse_iso(checked) + MIN_GAP - now).total_seconds()) + 1
            raise TooManyAttempts(
                f"account {account_id} was checked at {checked}; check it again in {wait} seconds",
                retry_after=wait,
            )
        db.execute(
            "UPDATE account_readiness SET running_since = ?, running_by = ? WHERE account_id = ?",
            [to_iso(now), token, account_id],
        )
    return token


def _run_and_record(ctx: Context, runner: CheckRunner, account: Mapping[str, Any], token: str, actor: str) -> str:
    outcome = _run(ctx, runner, account)
    return _record(ctx, runner, account, token, outcome, actor)


def _run(ctx: Context, runner: CheckRunner, account: Mapping[str, Any]) -> Ready | ConnectorError:
    """Build the connector as the dispatcher does and ask it; every failure as ConnectorError."""
    try:
        connector = open_connector(ctx.db, runner.vault, runner.connector_factory, account["id"], account["connector"])
        try:
            return connector.check()
        finally:
            connector.close()
    except VaultError as exc:
        return ConnectorError(f"the connector's secrets cannot be read: {exc}", permanent=True)
    except ConnectorError as exc:
        return capped(exc)
    except Exception as exc:
        # A bug must not leave the account "ready", nor stop the other accounts' checks.
        log.exception("checking account %s failed unexpectedly", account["id"])
        return ConnectorError(f"internal error while checking: {exc!r}", permanent=False)


def _record(
    ctx: Context,
    runner: CheckRunner,
    account: Mapping[str, Any],
    token: str,
    outcome: Ready | ConnectorError,
    actor: str,
) -> str:
    """Record the outcome if the claim is still ours, with its audit entry and any notice."""
    with ctx.change(allow_empty=True) as change:
        now = change.at
        db = ctx.db.conn
        row = db.execute(
            "SELECT state, failures, notified, since FROM account_readiness WHERE account_id = ? AND running_by = ?",
            [account["id"], token],
        ).fetchone()
        if row is None:
            return "skipped"  # abandoned and taken over by a later check, which records its own
        was, failures, notified, since = row
        if isinstance(outcome, Ready):
            state, failures, reason, code, status = "ready", 0, None, None, None
            next_check = now + runner.interval
            # Told it was failing, so told it is back; a failure nobody was told of passes quietly.
            tell = "readiness_ready" if was == "failing" and notified else None
            notified = 0
        else:
            state, failures = "failing", failures + 1
            reason, status = outcome.message, outcome.status
            code = "permanent" if outcome.permanent else "transient"
            next_check = now + min(runner.interval, RETRY_PERMANENT if outcome.permanent else RETRY_TRANSIENT)
            confirmed = outcome.permanent or failures >= CONFIRM_TRANSIENT
            tell = "readiness_failing" if confirmed and not notified else None
            notified = 1 if tell else notified
        since = to_iso(now) if state != was else since
        fields: dict[str, Any] = {
            "state": state,
            "reason": reason,
            "error_code": code,
            "error_status": status,
            "failures": failures,
            "notified": notified,
            "checked_at": to_iso(now),
            "since": since,
            "next_check_at": to_iso(next_check),
            "running_since": None,
            "running_by": None,
        }
        if isinstance(outcome, Ready):
            fields |= {
                "remote_account": outcome.account,
                "scopes": json.dumps(list(outcome.scopes)),
                "expires_at": to_iso(outcome.expires_at) if outcome.expires_at else None,
            }
        assignments = ", ".join(f"{name} = ?" for name in fields)
        db.execute(
            f"UPDATE account_readiness SET {assignments} WHERE account_id = ? AND running_by = ?",
            [*fields.values(), account["id"], token],
        )
        # Every check a person asks for is audited; the scheduler's only when the state changes
        # (checked_at on the row says when it last looked): four checks a day of every account,
        # audited, would grow the chain by 365,000 entries a year at 250 accounts and
        # 146 million at 100,000, for nothing that happened.
        if actor != SCHEDULER or state != was:
            change.audit(
                actor, "account.readiness_checked", f"account:{account['id']}",
                state=state, was=was, error_code=code, error_status=status,
            )  # fmt: skip
        if tell:
            _notify(change, account, tell, reason, since)
    return state


def _notify(change: Changes, account: Mapping[str, Any], event: str, reason: str | None, since: str) -> None:
    """One email to the account's manager and, for a central account, to each press officer,
    through the notifications outbox (delivered by the scheduler)."""
    db = change.context.db.conn
    people = {
        user_id: (name, email)
        for user_id, name, email in db.execute(
            "SELECT u.id, u.name, u.email FROM accounts a JOIN users u ON u.id = a.manager_id "
            "WHERE a.id = ? AND u.disabled_at IS NULL",
            [account["id"]],
        )
    }
    if account["central"]:
        for user_id, name, email in role_holders(change.context.db, "press"):
            people.setdefault(user_id, (name, email))
    where = f"{account['handle']} on {account['platform']}"
    central = " (a central account: incident messages go out through it)" if account["central"] else ""
    stamp = to_iso(change.at)
    if event == "readiness_failing":
        subject = f"Lockdown: {where} is not ready to post"
        text = (
            f"The readiness check of {where}{central} failed at {stamp}; it has not been ready since {since}.\n\n"
            f"The platform said: {reason}\n\n"
            "Posts on it will fail until this is fixed. If its token expired or was revoked, deposit a new one "
            f"(PUT /api/v1/accounts/{account['id']}/connector-secrets), then check it again "
            f"(Check now on its console page, or POST /api/v1/accounts/{account['id']}/check).\n"
        )
    else:
        subject = f"Lockdown: {where} is ready again"
        text = f"The readiness check of {where}{central} passed at {stamp}: it is ready to post again.\n"
    notices = [
        Notice(event, email, subject, f"Dear {name},\n\n{text}", user_id) for user_id, (name, email) in people.items()
    ]
    queue(change, notices)
    change.audit(
        "lockdown", "account.readiness_notified", f"account:{account['id']}", event=event, recipients=len(people)
    )
