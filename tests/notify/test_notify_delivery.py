"""The notification outbox against a real local SMTP server (aiosmtpd) and a real local HTTP
server: delivery, retries with backoff, permanent refusals, the attempt limit, and two
schedulers racing on the same rows."""

from __future__ import annotations

import email
import email.policy
import json
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, Envelope, LoginPassword, Session

from lockdown.notify.delivery import (
    BACKOFF_CAP_SECONDS,
    MAX_ATTEMPTS,
    SMTP_NOT_SET,
    deliver_due,
    notification_backlog,
    smtp_target,
)
from lockdown.settings import Settings
from lockdown.store import audit
from lockdown.store.context import Context
from lockdown.store.db import connect
from lockdown.timeutil import to_iso
from tests.conftest import SECRET, Login, free_port

T0 = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
REFUSED = "gone@livuni.ac.uk"
LATER = "busy@livuni.ac.uk"


class FakeClock:
    """A clock the test moves by hand."""

    def __init__(self, now: datetime = T0) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


@dataclass
class Mailbox:
    """An aiosmtpd handler that keeps what it accepts; refuses one address for good (550) and
    another for now (451)."""

    messages: list[Envelope] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    async def handle_RCPT(self, server: Any, session: Session, envelope: Envelope, address: str, options: Any) -> str:
        if address == REFUSED:
            return "550 5.1.1 no such user"
        if address == LATER:
            return "451 4.3.0 try again later"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Session, envelope: Envelope) -> str:
        with self.lock:
            self.messages.append(envelope)
        return "250 OK"

    def parsed(self) -> list[EmailMessage]:
        with self.lock:
            raw = [m.original_content or b"" for m in self.messages]
        return [email.message_from_bytes(r, _class=EmailMessage, policy=email.policy.default) for r in raw]


@pytest.fixture
def port() -> int:
    return free_port()


@pytest.fixture
def mailbox() -> Mailbox:
    return Mailbox()


def start_smtp(mailbox: Mailbox, port: int, **options: Any) -> Controller:
    controller = Controller(mailbox, hostname="127.0.0.1", port=port, **options)
    controller.start()
    return controller


@pytest.fixture
def smtp_server(mailbox: Mailbox, port: int) -> Iterator[Controller]:
    controller = start_smtp(mailbox, port)
    yield controller
    controller.stop()


def mail_settings(settings: Settings, smtp_url: str | None) -> Settings:
    env = {"LOCKDOWN_DB": str(settings.db_path), "LOCKDOWN_SECRET_KEY": SECRET}
    if smtp_url is not None:
        env["LOCKDOWN_SMTP_URL"] = smtp_url
    env["LOCKDOWN_MAIL_FROM"] = "lockdown@livuni.ac.uk"
    return Settings.from_env(env)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def tctx(ctx: Context, clock: FakeClock) -> Context:
    """The test's context on the migrated database, with a clock the test moves."""
    return Context(ctx.db, ctx.audit_key, clock=clock)


@pytest.fixture
def incident(ctx: Context, make_user: Callable[..., Login]) -> int:
    user = make_user("ermc")
    cursor = ctx.db.conn.execute(
        "INSERT INTO incidents (title, playbook, reason, status, scope, hold_central, "
        "resume_policy, declared_by, declared_at) "
        "VALUES ('Campus emergency', 'default', 'test', 'active', 'all', 1, 'manual', ?, ?)",
        [user.user.id, to_iso(T0 - timedelta(minutes=5))],
    )
    ctx.db.conn.commit()
    return int(cursor.lastrowid or 0)


@pytest.fixture
def add_note(ctx: Context, incident: int) -> Callable[..., int]:
    """Insert a pending notification as the incident code would, due at ``due`` (T0)."""

    def add(
        recipient: str = "press@livuni.ac.uk",
        *,
        channel: str = "email",
        subject: str = "Incident declared: Campus emergency",
        body: str = "All scheduled posts are held.\nCheck Lockdown.",
        due: datetime = T0,
    ) -> int:
        cursor = ctx.db.conn.execute(
            "INSERT INTO notifications (incident_id, event, channel, recipient, subject, body, "
            "state, attempts, next_attempt_at, created_at) "
            "VALUES (?, 'declared', ?, ?, ?, ?, 'pending', 0, ?, ?)",
            [incident, channel, recipient, subject, body, to_iso(due), to_iso(due)],
        )
        ctx.db.conn.commit()
        return int(cursor.lastrowid or 0)

    return add


def row(ctx: Context, note_id: int) -> dict[str, Any]:
    cursor = ctx.db.conn.execute("SELECT * FROM notifications WHERE id = ?", [note_id])
    names = [d[0] for d in cursor.description]
    return dict(zip(names, cursor.fetchone(), strict=True))


def actions(ctx: Context, note_id: int) -> list[str]:
    entries = audit.list_entries(ctx.db, subject=f"notification:{note_id}")
    return [e["action"] for e in entries]


def assert_chain_ok(ctx: Context) -> None:
    assert audit.verify(ctx.db, ctx.audit_key).ok


# -- email ---------------------------------------------------------------------------------------


@pytest.mark.usefixtures("smtp_server")
def test_due_email_is_delivered_and_recorded(
    tctx: Context, settings: Settings, port: int, mailbox: Mailbox, add_note: Callable[..., int]
) -> None:
    note = add_note()
    not_due = add_note("later@livuni.ac.uk", due=T0 + timedelta(minutes=1))

    report = deliver_due(tctx, mail_settings(settings, f"smtp://127.0.0.1:{port}"))

    assert (report.sent, report.retried, report.failed) == (1, 0, 0)
    [message] = mailbox.parsed()
    assert message["From"] == "lockdown@livuni.ac.uk"
    assert message["To"] == "press@livuni.ac.uk"
    assert message["Subject"] == "Incident declared: Campus emergency"
    assert message["X-Lockdown-Incident"] == str(row(tctx, note)["incident_id"])
    assert message["Message-ID"].endswith("@livuni.ac.uk>")
    assert message["Date"]
    # Wire line endings are CRLF.
    body = message.get_content().replace("\r\n", "\n")
    assert body == "All scheduled posts are held.\nCheck Lockdown.\n"
    assert mailbox.messages[0].rcpt_tos == ["press@livuni.ac.uk"]

    sent = row(tctx, note)
    assert (sent["state"], sent["attempts"], sent["sent_at"], sent["error"]) == (
        "sent", 1, to_iso(T0), None,
    )  # fmt: skip
    assert actions(tctx, note) == ["notification.sent"]
    # The row not yet due is untouched.
    waiting = row(tctx, not_due)
    assert (waiting["state"], waiting["attempts"]) == ("pending", 0)
    assert waiting["next_attempt_at"] == to_iso(T0 + timedelta(minutes=1))
    assert notification_backlog(tctx.db) == 1
    # Nothing more is due, so a second run sends nothing again.
    assert deliver_due(tctx, mail_settings(settings, f"smtp://127.0.0.1:{port}")).sent == 0
    assert len(mailbox.messages) == 1
    assert_chain_ok(tctx)


def test_smtp_down_is_retried_then_delivered_when_back(
    tctx: Context,
    settings: Settings,
    port: int,
    mailbox: Mailbox,
    clock: FakeClock,
    add_note: Callable[..., int],
) -> None:
    note = add_note()
    second = add_note("ermc@livuni.ac.uk")
    config = mail_settings(settings, f"smtp://127.0.0.1:{port}")

    report = deliver_due(tctx, config)  # nothing listens on the port

    assert (report.sent, report.retried, report.failed) == (0, 2, 0)
    for note_id in (note, second):
        waiting = row(tctx, note_id)
        assert waiting["state"] == "pending"
        assert waiting["attempts"] == 1
        assert waiting["next_attempt_at"] > to_iso(T0)
        # First backoff: 30 s with jitter 0.5-1.0.
        assert waiting["next_attempt_at"] <= to_iso(T0 + timedelta(seconds=30))
        assert f"127.0.0.1:{port}" in waiting["error"]
        assert actions(tctx, note_id) == ["notification.retry"]
    entry = audit.list_entries(tctx.db, subject=f"notification:{note}")[0]
    assert entry["actor"] == "scheduler"
    assert entry["details"]["recipient"] == "press@livuni.ac.uk"
    assert entry["details"]["channel"] == "email"
    assert entry["details"]["error"] == row(tctx, note)["error"]

    controller = start_smtp(mailbox, port)
    try:
        # Not yet due: the server is up but the clock has not moved.
        assert deliver_due(tctx, config).sent == 0
        clock.advance(31)
        report = deliver_due(tctx, config)
    finally:
        controller.stop()

    assert report.sent == 2
    assert sorted(m["To"] for m in mailbox.parsed()) == ["ermc@livuni.ac.uk", "press@livuni.ac.uk"]
    done = row(tctx, note)
    assert (done["state"], done["attempts"], done["sent_at"]) == ("sent", 2, to_iso(clock.now))
    assert actions(tctx, note) == ["notification.retry", "notification.sent"]
    assert notification_backlog(tctx.db) == 0
    assert_chain_ok(tctx)


@pytest.mark.usefixtures("smtp_server")
def test_permanent_refusal_fails_at_once(
    tctx: Context, settings: Settings, port: int, mailbox: Mailbox, add_note: Callable[..., int]
) -> None:
    refused = add_note(REFUSED)
    fine = add_note()

    report = deliver_due(tctx, mail_settings(settings, f"smtp://127.0.0.1:{port}"))

    assert (report.sent, report.retried, report.failed) == (1, 0, 1)
    failed = row(tctx, refused)
    assert (failed["state"], failed["attempts"]) == ("failed", 1)
    assert "550" in failed["error"]
    assert "no such user" in failed["error"]
    assert actions(tctx, refused) == ["notification.failed"]
    assert [m["To"] for m in mailbox.parsed()] == ["press@livuni.ac.uk"]
    assert row(tctx, fine)["state"] == "sent"
    assert_chain_ok(tctx)


@pytest.mark.usefixtures("smtp_server")
def test_transient_refusals_give_up_after_the_limit(
    tctx: Context, settings: Settings, port: int, clock: FakeClock, add_note: Callable[..., int]
) -> None:
    note = add_note(LATER)
    config = mail_settings(settings, f"smtp://127.0.0.1:{port}")
    previous = to_iso(T0)

    for attempt in range(1, MAX_ATTEMPTS):
        assert deliver_due(tctx, config).retried == 1
        waiting = row(tctx, note)
        assert (waiting["state"], waiting["attempts"]) == ("pending", attempt)
        assert "451" in waiting["error"]
        due = waiting["next_attempt_at"]
        assert previous < due <= to_iso(clock.now + timedelta(seconds=BACKOFF_CAP_SECONDS))
        previous = due
        clock.advance(BACKOFF_CAP_SECONDS)

    report = deliver_due(tctx, config)

    assert (report.retried, report.failed) == (0, 1)
    failed = row(tctx, note)
    assert (failed["state"], failed["attempts"]) == ("failed", MAX_ATTEMPTS)
    assert failed["error"].startswith(f"gave up after {MAX_ATTEMPTS} attempts")
    assert actions(tctx, note) == ["notification.retry"] * (MAX_ATTEMPTS - 1) + ["notification.failed"]
    clock.advance(BACKOFF_CAP_SECONDS)
    assert deliver_due(tctx, config) == type(report)()
    assert_chain_ok(tctx)


def test_with_no_mail_configured_email_waits_untried_marked_once_and_goes_out_when_configured(
    tctx: Context, settings: Settings, clock: FakeClock, port: int, mailbox: Mailbox, add_note: Callable[..., int]
) -> None:
    note = add_note()
    config = mail_settings(settings, None)
    assert not config.mail_configured

    for _ in range(MAX_ATTEMPTS + 3):
        report = deliver_due(tctx, config)
        assert (report.sent, report.retried, report.failed, report.waiting_for_mail) == (0, 0, 0, 1)
        waiting = row(tctx, note)
        # Not tried: no attempt counted, no backoff, still due for the first run with mail.
        assert (waiting["state"], waiting["attempts"], waiting["error"]) == ("pending", 0, SMTP_NOT_SET)
        assert waiting["next_attempt_at"] == to_iso(T0)
        clock.advance(BACKOFF_CAP_SECONDS)
    # Nothing about each run in the audit trail: a missing setting is a state, not an event.
    assert actions(tctx, note) == []

    controller = start_smtp(mailbox, port)
    try:
        report = deliver_due(tctx, mail_settings(settings, f"smtp://127.0.0.1:{port}"))
    finally:
        controller.stop()
    assert (report.sent, report.waiting_for_mail) == (1, 0)
    assert row(tctx, note)["state"] == "sent"
    assert len(mailbox.parsed()) == 1
    assert_chain_ok(tctx)


def test_with_no_mail_configured_the_webhook_still_goes_out(
    tctx: Context, settings: Settings, add_note: Callable[..., int], hook: Hook
) -> None:
    mail = add_note()
    webhook = add_note(f"{hook.url}/ok/T000/B000/secret-token", channel="webhook")

    report = deliver_due(tctx, mail_settings(settings, None))

    assert (report.sent, report.waiting_for_mail) == (1, 1)
    assert (row(tctx, webhook)["state"], row(tctx, mail)["state"]) == ("sent", "pending")


def test_an_mbox_receives_email_where_a_person_can_read_it(
    tctx: Context, settings: Settings, add_note: Callable[..., int], tmp_path: Any
) -> None:
    import mailbox as mailboxes

    note = add_note()
    path = tmp_path / "mail" / "notices.mbox"
    config = replace(mail_settings(settings, None), mail_mbox=path)

    assert deliver_due(tctx, config).sent == 1

    box = mailboxes.mbox(path)
    try:
        [message] = list(box)
    finally:
        box.close()
    assert message["To"] == "press@livuni.ac.uk"
    assert message["Subject"] == "Incident declared: Campus emergency"
    assert "All scheduled posts are held." in message.get_payload()
    assert row(tctx, note)["state"] == "sent"


def test_login_with_url_encoded_password(
    tctx: Context, settings: Settings, port: int, mailbox: Mailbox, add_note: Callable[..., int]
) -> None:
    seen: list[tuple[bytes, bytes]] = []

    def authenticator(server: Any, session: Session, envelope: Envelope, mechanism: str, data: Any) -> AuthResult:
        assert isinstance(data, LoginPassword)
        seen.append((data.login, data.password))
        return AuthResult(success=data.password == b"p@ss:word/1")

    note = add_note()
    # Plain-text AUTH is allowed here only because the test server is local.
    controller = start_smtp(mailbox, port, authenticator=authenticator, auth_require_tls=False)
    try:
        url = f"smtp://mailer%40livuni.ac.uk:p%40ss%3Aword%2F1@127.0.0.1:{port}"
        report = deliver_due(tctx, mail_settings(settings, url))
    finally:
        controller.stop()

    assert report.sent == 1
    assert seen == [(b"mailer@livuni.ac.uk", b"p@ss:word/1")]
    assert row(tctx, note)["state"] == "sent"


def test_smtp_url_forms() -> None:
    plain = smtp_target("smtp://mail.livuni.ac.uk:25")
    assert (plain.host, plain.port, plain.ssl, plain.starttls, plain.username) == (
        "mail.livuni.ac.uk", 25, False, False, None,
    )  # fmt: skip
    assert smtp_target("smtp://mail.livuni.ac.uk:587?starttls=1").starttls
    secure = smtp_target("smtps://u%20x:p%25w@mail.livuni.ac.uk:465")
    assert (secure.ssl, secure.starttls, secure.username, secure.password) == (
        True, False, "u x", "p%w",
    )  # fmt: skip


# -- webhook -------------------------------------------------------------------------------------


@dataclass
class Hook:
    """A local incoming-webhook receiver: ``/broken/...`` answers 500, ``/gone/...`` 404,
    anything else 200."""

    url: str
    received: list[tuple[str, dict[str, Any]]]


@pytest.fixture
def hook() -> Iterator[Hook]:
    received: list[tuple[str, dict[str, Any]]] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            received.append((self.path, json.loads(self.rfile.read(length))))
            status = 200
            if self.path.startswith("/broken"):
                status = 500
            elif self.path.startswith("/gone"):
                status = 404
            self.send_response(status)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok" if status == 200 else b"no")

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield Hook(f"http://127.0.0.1:{server.server_address[1]}", received)
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def test_webhook_delivered_and_500_retried(
    tctx: Context, settings: Settings, hook: Hook, incident: int, add_note: Callable[..., int]
) -> None:
    ok = add_note(f"{hook.url}/ok/T000/B000/secret-token", channel="webhook")
    broken = add_note(f"{hook.url}/broken/T111/B111/other-secret", channel="webhook")

    report = deliver_due(tctx, mail_settings(settings, None))

    assert (report.sent, report.retried, report.failed) == (1, 1, 0)
    assert hook.received[0] == (
        "/ok/T000/B000/secret-token",
        {
            "incident_id": incident,
            "event": "declared",
            "subject": "Incident declared: Campus emergency",
            "text": "All scheduled posts are held.\nCheck Lockdown.",
        },
    )
    assert row(tctx, ok)["state"] == "sent"
    retried = row(tctx, broken)
    assert (retried["state"], retried["attempts"]) == ("pending", 1)
    assert "500" in retried["error"]
    assert retried["next_attempt_at"] > to_iso(T0)
    assert actions(tctx, broken) == ["notification.retry"]
    # The hook URL is a credential: the audit trail keeps its host only.
    trail = json.dumps(audit.list_entries(tctx.db))
    assert "secret" not in trail
    [entry] = audit.list_entries(tctx.db, subject=f"notification:{broken}")
    assert entry["details"]["recipient"].startswith(hook.url)
    assert_chain_ok(tctx)


def test_webhook_permanent_errors_fail_at_once(
    tctx: Context, settings: Settings, hook: Hook, add_note: Callable[..., int]
) -> None:
    # A 404 (hook deleted) or a malformed URL cannot improve: permanent. Nothing listening is
    # transient.
    gone = add_note(f"{hook.url}/gone/T222/B222/old-token", channel="webhook")
    bad = add_note("not a url", channel="webhook")
    down = add_note(f"http://127.0.0.1:{free_port()}/hook", channel="webhook")

    report = deliver_due(tctx, mail_settings(settings, None))

    assert (report.sent, report.retried, report.failed) == (0, 1, 2)
    failed = row(tctx, gone)
    assert (failed["state"], failed["attempts"]) == ("failed", 1)
    assert "404" in failed["error"]
    assert actions(tctx, gone) == ["notification.failed"]
    assert row(tctx, bad)["state"] == "failed"
    assert row(tctx, down)["state"] == "pending"
    assert "old-token" not in json.dumps(audit.list_entries(tctx.db))
    assert_chain_ok(tctx)


# -- concurrency ---------------------------------------------------------------------------------


@pytest.mark.usefixtures("smtp_server")
def test_racing_schedulers_send_each_notification_once(
    tctx: Context, settings: Settings, port: int, mailbox: Mailbox, add_note: Callable[..., int]
) -> None:
    count = 30
    ids = [add_note(f"person{n}@livuni.ac.uk", subject=f"Notice {n}") for n in range(count)]
    config = mail_settings(settings, f"smtp://127.0.0.1:{port}")
    start = threading.Barrier(2)
    reports: list[Any] = []

    def scheduler() -> None:
        db = connect(settings.db_path)
        try:
            start.wait(timeout=5)
            reports.append(deliver_due(Context(db, tctx.audit_key, clock=tctx.clock), config))
        finally:
            db.close()

    threads = [threading.Thread(target=scheduler) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    assert len(reports) == 2
    assert sum(r.sent for r in reports) == count
    assert sum(r.retried + r.failed for r in reports) == 0
    subjects = sorted(m["Subject"] for m in mailbox.parsed())
    assert subjects == sorted(f"Notice {n}" for n in range(count))
    for note_id in ids:
        assert row(tctx, note_id)["state"] == "sent"
        assert actions(tctx, note_id) == ["notification.sent"]
    assert_chain_ok(tctx)
