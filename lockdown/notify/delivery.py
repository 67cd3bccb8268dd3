"""Delivery of the notification outbox: due ``notifications`` rows go out by email or webhook.

Rows are written (``pending``) in the transaction that declares or resolves an incident; this
module only sends them. Each row is claimed before it is sent, by pushing its
``next_attempt_at`` a lease into the future with a compare-and-set, so two schedulers never send
one row twice; a scheduler that crashes mid-send leaves the row to fall due again when the lease
runs out (a notification delivered twice beats one never delivered). Each result is recorded in
its own transaction with an audit entry, again compare-and-set on ``state`` and ``attempts``.
"""

from __future__ import annotations

import logging
import mailbox
import random
import smtplib
import ssl
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.message import EmailMessage
from email.utils import format_datetime, parseaddr
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from sqlite_utils import Database

from connectors.base import ConnectorError
from connectors.http import new_session, send
from lockdown.settings import Settings
from lockdown.store.context import Context
from lockdown.timeutil import to_iso

log = logging.getLogger(__name__)

ACTOR = "scheduler"
MAX_ATTEMPTS = 8
BACKOFF_BASE_SECONDS = 30.0
BACKOFF_CAP_SECONDS = 1800.0
SMTP_TIMEOUT_SECONDS = 10.0
# Longer than one send can take (each SMTP step may wait SMTP_TIMEOUT_SECONDS; a webhook waits
# 3 s to connect and 15 s to read), so a claim never lapses while its send is under way.
LEASE_SECONDS = 300.0
SMTP_NOT_SET = "LOCKDOWN_SMTP_URL is not set"


@dataclass
class DeliveryReport:
    """What one ``deliver_due`` call did."""

    sent: int = 0
    retried: int = 0
    failed: int = 0
    # Due rows another scheduler claimed or recorded first.
    skipped: int = 0
    # Email notices left waiting, untried, because no mail is configured.
    waiting_for_mail: int = 0

    def add(self, outcome: str) -> None:
        """Count one row's outcome."""
        setattr(self, outcome, getattr(self, outcome) + 1)


@dataclass(frozen=True)
class Notification:
    """One due row of the outbox."""

    id: int
    incident_id: int | None
    event: str
    channel: str
    recipient: str
    subject: str
    body: str
    attempts: int
    created_at: str


class DeliveryError(Exception):
    """A send that did not succeed. ``permanent``: trying again cannot help (fail now).
    ``server_level``: the mail server itself could not be used (connect, TLS, login), so every
    other email in this run would fail the same way. ``keep_trying``: a missing setting, not a
    delivery attempt that failed, so the attempt limit does not give the row up."""

    def __init__(
        self,
        message: str,
        *,
        permanent: bool,
        server_level: bool = False,
        keep_trying: bool = False,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.permanent = permanent
        self.server_level = server_level
        self.keep_trying = keep_trying
        self.retry_after = retry_after


def backoff_seconds(attempts: int, retry_after: float | None, rng: random.Random) -> float:
    """30 s doubling per attempt, jittered to 50-100 %, capped at 30 minutes; never sooner
    than the receiver asked (within the cap)."""
    exponential = min(BACKOFF_CAP_SECONDS, BACKOFF_BASE_SECONDS * 2 ** max(0, attempts - 1))
    jittered = exponential * rng.uniform(0.5, 1.0)
    return float(min(BACKOFF_CAP_SECONDS, max(jittered, retry_after or 0.0)))


def notification_backlog(db: Database) -> int:
    """How many notifications are still pending (for health and metrics)."""
    row = db.conn.execute("SELECT COUNT(*) FROM notifications WHERE state = 'pending'").fetchone()
    return int(row[0])


def deliver_due(ctx: Context, settings: Settings, *, limit: int = 50) -> DeliveryReport:
    """Send pending notifications that are due, oldest first, and record each result."""
    report = DeliveryReport()
    rng = random.Random()  # noqa: S311 - jitter, not a secret
    if not settings.mail_configured:
        report.waiting_for_mail = _hold_email(ctx)
    # Once the mail server cannot be reached, the other emails of this run are not tried, so a
    # server that times out costs one timeout per run rather than one per row.
    server_down: DeliveryError | None = None
    for note in _due(ctx, limit, email=settings.mail_configured):
        if not _claim(ctx, note):
            report.skipped += 1
            continue
        if note.channel == "email" and server_down is not None:
            failure: DeliveryError | None = DeliveryError(
                server_down.message, permanent=False, keep_trying=server_down.keep_trying
            )
        else:
            failure = _attempt(note, settings, ctx.now())
        if failure is None:
            report.add(_record_sent(ctx, note))
            continue
        if note.channel == "email" and failure.server_level:
            server_down = failure
        report.add(_record_failure(ctx, note, failure, rng))
    return report


# -- the steps ----------------------------------------------------------------------------------


def _due(ctx: Context, limit: int, *, email: bool = True) -> list[Notification]:
    rows = ctx.db.conn.execute(
        "SELECT id, incident_id, event, channel, recipient, subject, body, attempts, created_at "
        "FROM notifications WHERE state = 'pending' AND next_attempt_at <= ? "
        + ("" if email else "AND channel != 'email' ")
        + "ORDER BY next_attempt_at, id LIMIT ?",
        [to_iso(ctx.now()), limit],
    ).fetchall()
    return [Notification(*row) for row in rows]


def waiting_for_mail(db: Database) -> int:
    """How many email notices the scheduler found it could not send because no mail is
    configured, and left waiting (for /healthz and the console's banner)."""
    row = db.conn.execute(
        "SELECT COUNT(*) FROM notifications WHERE state = 'pending' AND channel = 'email' AND error = ?",
        [SMTP_NOT_SET],
    ).fetchone()
    return int(row[0])


def _hold_email(ctx: Context) -> int:
    """With no mail configured, email notices are not tried (trying cannot succeed, and each
    try used to log a warning and an audit entry): each is marked once with why it waits, and
    stays pending, due, to go out at the first run after mail is configured. Returns how many
    wait."""
    unmarked = ctx.db.conn.execute(
        "SELECT 1 FROM notifications WHERE state = 'pending' AND channel = 'email' AND error IS NOT ? LIMIT 1",
        [SMTP_NOT_SET],
    ).fetchone()
    if unmarked:
        with ctx.change(allow_empty=True):
            ctx.db.conn.execute(
                "UPDATE notifications SET error = ? WHERE state = 'pending' AND channel = 'email' AND error IS NOT ?",
                [SMTP_NOT_SET, SMTP_NOT_SET],
            )
    return waiting_for_mail(ctx.db)


def _claim(ctx: Context, note: Notification) -> bool:
    """Take the row for this run by moving it a lease into the future; False if another
    scheduler got there first. Not audited: the result, recorded next, is."""
    with ctx.change(allow_empty=True) as change:
        cursor = ctx.db.conn.execute(
            "UPDATE notifications SET next_attempt_at = ? "
            "WHERE id = ? AND state = 'pending' AND attempts = ? AND next_attempt_at <= ?",
            [
                to_iso(change.at + timedelta(seconds=LEASE_SECONDS)),
                note.id,
                note.attempts,
                to_iso(change.at),
            ],
        )
        return cursor.rowcount == 1


def _attempt(note: Notification, settings: Settings, now: datetime) -> DeliveryError | None:
    """Send one notification; None when it went, else why not. Never raises."""
    try:
        if note.channel == "email":
            send_email(settings, note, now)
        elif note.channel == "webhook":
            send_webhook(note)
        else:
            return DeliveryError(f"unknown channel {note.channel!r}", permanent=True)
    except DeliveryError as exc:
        return exc
    except Exception as exc:
        # A bug must not stop the outbox or lose the row: it is logged and tried again later.
        log.exception("sending notification %s failed unexpectedly", note.id)
        return DeliveryError(f"internal error while sending: {exc!r}", permanent=False)
    return None


def _record_sent(ctx: Context, note: Notification) -> str:
    with ctx.change(allow_empty=True) as change:
        cursor = ctx.db.conn.execute(
            "UPDATE notifications SET state = 'sent', attempts = attempts + 1, sent_at = ?, "
            "error = NULL WHERE id = ? AND state = 'pending' AND attempts = ?",
            [to_iso(change.at), note.id, note.attempts],
        )
        if cursor.rowcount != 1:
            return "skipped"
        change.audit(
            ACTOR, "notification.sent", f"notification:{note.id}",
            **_details(note, None), attempt=note.attempts + 1,
        )  # fmt: skip
    log.info("notification %s sent by %s to %s", note.id, note.channel, _shown(note))
    return "sent"


def _record_failure(ctx: Context, note: Notification, failure: DeliveryError, rng: random.Random) -> str:
    attempts = note.attempts + 1
    message = _redact(note, failure.message)
    with ctx.change(allow_empty=True) as change:
        next_at: str | None = None
        if failure.permanent:
            outcome, error = "failed", message
        elif failure.keep_trying or attempts < MAX_ATTEMPTS:
            outcome, error = "retried", message
            wait = backoff_seconds(attempts, failure.retry_after, rng)
            next_at = to_iso(change.at + timedelta(seconds=wait))
        else:
            outcome, error = "failed", f"gave up after {attempts} attempts: {message}"
        state = "pending" if outcome == "retried" else "failed"
        cursor = ctx.db.conn.execute(
            "UPDATE notifications SET state = ?, attempts = ?, error = ?, "
            "next_attempt_at = COALESCE(?, next_attempt_at) "
            "WHERE id = ? AND state = 'pending' AND attempts = ?",
            [state, attempts, error, next_at, note.id, note.attempts],
        )
        if cursor.rowcount != 1:
            return "skipped"
        extra: dict[str, Any] = {"attempt": attempts}
        if next_at is not None:
            extra["next_attempt_at"] = next_at
        action = "notification.retry" if outcome == "retried" else "notification.failed"
        change.audit(ACTOR, action, f"notification:{note.id}", **_details(note, error), **extra)
    log.warning("notification %s by %s to %s %s: %s", note.id, note.channel, _shown(note), outcome, error)
    return outcome


def _details(note: Notification, error: str | None) -> dict[str, Any]:
    return {
        "incident_id": note.incident_id,
        "channel": note.channel,
        "recipient": _shown(note),
        "error": error,
    }


def _shown(note: Notification) -> str:
    """The recipient as it may be logged and audited. A webhook URL is a credential (anyone
    holding a Slack or Teams hook URL can post to the channel), and the audit trail can never
    be edited, so only its scheme and host are kept there."""
    if note.channel != "webhook":
        return note.recipient
    parts = urlsplit(note.recipient)
    try:
        port = f":{parts.port}" if parts.port else ""
    except ValueError:
        port = ""
    return f"{parts.scheme}://{parts.hostname or '?'}{port}/…"


def _redact(note: Notification, message: str) -> str:
    """An error message without the webhook URL's secret part (requests quotes the path)."""
    if note.channel != "webhook":
        return message
    parts = urlsplit(note.recipient)
    message = message.replace(note.recipient, _shown(note))
    path = parts.path + (f"?{parts.query}" if parts.query else "")
    if len(path) > 1:
        message = message.replace(path, "/…")
    return message


# -- email --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SmtpTarget:
    """Where and how to connect, read from ``LOCKDOWN_SMTP_URL``."""

    host: str
    port: int
    ssl: bool
    starttls: bool
    username: str | None
    password: str | None


def smtp_target(url: str) -> SmtpTarget:
    """Read ``smtp://host:port[?starttls=1]`` or ``smtps://user:pass@host:port``."""
    parts = urlsplit(url)
    secure = parts.scheme == "smtps"
    starttls = parse_qs(parts.query).get("starttls", [""])[-1].lower() in ("1", "true", "yes")
    return SmtpTarget(
        host=parts.hostname or "localhost",
        port=parts.port or (465 if secure else 25),
        ssl=secure,
        starttls=starttls and not secure,
        username=unquote(parts.username) if parts.username else None,
        password=unquote(parts.password) if parts.password is not None else None,
    )


def build_email(settings: Settings, note: Notification, now: datetime) -> EmailMessage:
    """The plain-text message for one email notification."""
    domain = parseaddr(settings.mail_from)[1].rpartition("@")[2] or "localhost"
    message = EmailMessage()
    message["From"] = settings.mail_from
    message["To"] = note.recipient
    # A subject is one header line; a line break in it would be refused (or be an injection).
    message["Subject"] = " ".join(note.subject.split())
    message["Date"] = format_datetime(now)
    # The same on every attempt, so a mail client can drop the duplicate of a resend after a
    # lost answer.
    stamp = "".join(ch for ch in note.created_at if ch.isdigit())
    message["Message-ID"] = f"<lockdown.notification.{note.id}.{stamp}@{domain}>"
    if note.incident_id is not None:
        message["X-Lockdown-Incident"] = str(note.incident_id)
    # Tells mail servers not to send out-of-office replies to an automatic message.
    message["Auto-Submitted"] = "auto-generated"
    message.set_content(note.body)
    return message


def send_email(settings: Settings, note: Notification, now: datetime) -> None:
    """Send one email notification, or raise DeliveryError saying whether to try again."""
    if settings.smtp_url is None and settings.mail_mbox is None:
        raise DeliveryError(SMTP_NOT_SET, permanent=False, server_level=True, keep_trying=True)
    try:
        message = build_email(settings, note, now)
    except ValueError as exc:
        # A malformed address or header cannot get better by waiting.
        raise DeliveryError(f"cannot build the email: {exc}", permanent=True) from exc
    if settings.smtp_url is None:
        assert settings.mail_mbox is not None
        append_to_mbox(settings.mail_mbox, message)
        return
    target = smtp_target(settings.smtp_url)
    where = f"{target.host}:{target.port}"
    sender = parseaddr(settings.mail_from)[1] or settings.mail_from
    smtp = _connect(target)
    try:
        smtp.send_message(message, from_addr=sender, to_addrs=[note.recipient])
    except smtplib.SMTPRecipientsRefused as exc:
        code, reply = next(iter(exc.recipients.values()), (0, b""))
        text = f"the mail server refused {note.recipient}: {code} {_text(reply)}"
        raise DeliveryError(text, permanent=500 <= code < 600) from exc
    except smtplib.SMTPDataError as exc:
        text = f"the mail server refused the message: {exc.smtp_code} {_text(exc.smtp_error)}"
        raise DeliveryError(text, permanent=500 <= exc.smtp_code < 600) from exc
    except smtplib.SMTPResponseException as exc:
        # Sender refused and the like: the installation's mail setup, not this recipient, so
        # it is tried again (and fixed meanwhile) rather than failed.
        text = f"the mail server at {where} answered {exc.smtp_code} {_text(exc.smtp_error)}"
        raise DeliveryError(text, permanent=False) from exc
    except (smtplib.SMTPException, OSError) as exc:
        # Disconnects, timeouts, refused connections, TLS trouble: all worth another try.
        raise DeliveryError(f"mail server {where}: {_describe(exc)}", permanent=False) from exc
    finally:
        _quit(smtp)


def append_to_mbox(path: Path, message: EmailMessage) -> None:
    """Deliver a message into an mbox file (any mail client, or ``mutt -f``, reads it), locked
    against another process appending at the same time."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        box = mailbox.mbox(path)
        box.lock()
        try:
            box.add(message)
            box.flush()
        finally:
            box.unlock()
            box.close()
    except (OSError, mailbox.Error) as exc:
        raise DeliveryError(f"cannot write to the mbox {path}: {exc}", permanent=False, server_level=True) from exc


def _quit(smtp: smtplib.SMTP) -> None:
    """Say goodbye and close; the message is already accepted (or not), so a failure to say
    goodbye must not turn a delivered message into a retry."""
    try:
        smtp.quit()
    except (smtplib.SMTPException, OSError):
        pass
    finally:
        smtp.close()


def _connect(target: SmtpTarget) -> smtplib.SMTP:
    """An SMTP session ready to send; failures here are the server's, not one message's."""
    where = f"{target.host}:{target.port}"
    smtp: smtplib.SMTP | None = None
    try:
        if target.ssl:
            smtp = smtplib.SMTP_SSL(
                target.host,
                target.port,
                timeout=SMTP_TIMEOUT_SECONDS,
                context=ssl.create_default_context(),
            )
        else:
            smtp = smtplib.SMTP(target.host, target.port, timeout=SMTP_TIMEOUT_SECONDS)
        if target.starttls:
            smtp.ehlo()
            smtp.starttls(context=ssl.create_default_context())
            smtp.ehlo()
        if target.username is not None:
            smtp.login(target.username, target.password or "")
    except (smtplib.SMTPException, OSError) as exc:
        if smtp is not None:
            smtp.close()
        raise DeliveryError(
            f"cannot use the mail server at {where}: {_describe(exc)}",
            permanent=False,
            server_level=True,
        ) from exc
    return smtp


def _describe(exc: BaseException) -> str:
    if isinstance(exc, smtplib.SMTPResponseException):
        return f"{exc.smtp_code} {_text(exc.smtp_error)}"
    if isinstance(exc, TimeoutError):
        return f"no answer within {SMTP_TIMEOUT_SECONDS:g} s"
    return str(exc) or type(exc).__name__


def _text(reply: bytes | str) -> str:
    return reply.decode("utf-8", "replace") if isinstance(reply, bytes) else str(reply)


# -- webhook ------------------------------------------------------------------------------------


def send_webhook(note: Notification) -> None:
    """POST one notification as JSON (Slack and Teams incoming webhooks read ``text``)."""
    payload = {
        "incident_id": note.incident_id,
        "event": note.event,
        "subject": note.subject,
        "text": note.body,
    }
    # The operator set this URL in the environment (LOCKDOWN_NOTIFY_WEBHOOK_URL); nobody can
    # type it through the API, so it is not held to the connectors' outbound policy.
    session = new_session(outbound=None)
    try:
        send(
            session,
            "POST",
            note.recipient,
            json=payload,
            # Lets a receiver that de-duplicates drop a resend after a lost answer.
            headers={"Idempotency-Key": f"lockdown-notification-{note.id}-{note.created_at}"},
        )
    except ConnectorError as exc:
        # An answer lost after sending ("ambiguous") is retried too: a duplicate message in a
        # channel is better than a missing one.
        raise DeliveryError(exc.message, permanent=exc.permanent, retry_after=exc.retry_after) from exc
    finally:
        session.close()
