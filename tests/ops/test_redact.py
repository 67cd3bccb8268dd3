"""Secret redaction in logs: every kind of secret is replaced, ordinary text is left alone, logging never breaks."""

from __future__ import annotations

import io
import itertools
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from lockdown.ops.redact import REDACTED, SecretRedactor, install, redact

API_TOKEN = "ld_" + "Xy7-Qp2_Lm9Rt4Vw8Zk3Nb6"
TOTP_SEED = "JBSWY3DPEHPK3PXP"
BASE64_KEY = "q3J0aF8yVk9tN3BYcUxzZEJ3cjRnTjVrY2ZtUWhBZTE="
HEX_DIGEST = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
_names = itertools.count()


@dataclass
class Capture:
    """A logger whose records reach a StreamHandler into a StringIO and, by propagation, pytest's caplog."""

    logger: logging.Logger
    handler: logging.StreamHandler[io.StringIO]
    caplog: pytest.LogCaptureFixture
    where: str

    def output(self) -> str:
        """What reached the handlers that the redactor was placed on."""
        stream = self.handler.stream.getvalue()
        return {"stream": stream, "caplog": self.caplog.text, "install": stream + self.caplog.text}[self.where]


@pytest.fixture(params=["stream", "caplog", "install"])
def capture(request: pytest.FixtureRequest, caplog: pytest.LogCaptureFixture) -> Iterator[Capture]:
    logger = logging.getLogger(f"lockdown.test_redact.{next(_names)}")
    logger.setLevel(logging.DEBUG)
    handler = logging.StreamHandler(io.StringIO())
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s %(message)s"))
    logger.addHandler(handler)
    where: str = request.param
    if where == "stream":
        handler.addFilter(SecretRedactor())
    elif where == "caplog":
        caplog.handler.addFilter(SecretRedactor())
    else:
        install(logger)
    yield Capture(logger, handler, caplog, where)
    logger.removeHandler(handler)
    for filterer in (logger, caplog.handler, *logging.getLogger().handlers):
        for found in [f for f in filterer.filters if isinstance(f, SecretRedactor)]:
            filterer.removeFilter(found)


@pytest.mark.parametrize(
    ("message", "args", "secrets"),
    [
        ("connecting with %s", ({"user": "press", "password": "hunter2"},), ["hunter2"]),
        ("settings %s", ({"smtp_password": "s3cr3t!", "mail_from": "press@example.ac.uk"},), ["s3cr3t!"]),
        ("request headers %s", ({"Authorization": "Bearer abc.def"},), ["abc.def"]),
        ("Authorization: %s", ("Bearer abc.def",), ["abc.def"]),
        ("calling with Authorization: Basic %s", ("dXNlcjpodW50ZXIy",), ["dXNlcjpodW50ZXIy"]),
        ("issued %s to %s", (API_TOKEN, "@livuni_chem"), [API_TOKEN]),
        ("enrolled seed %s for %s", (TOTP_SEED, "@livuni_chem"), [TOTP_SEED]),
        ("mail via %s", ("smtp://user:hunter2@mail:25",), ["hunter2"]),
        ("page_access_token=%s app_password=%s", ("EAAGm0PX4ZCpsBA", "abcdefghijklmnop"), ["EAAGm0PX4ZCp", "abcdefgh"]),
        ('{"consumer_secret": "%s", "totp_secret": "%s"}', ("cs-123", "ts-456"), ["cs-123", "ts-456"]),
        ("GET /callback?code=1&access_token=%s&state=2", ("tok_abc123",), ["tok_abc123"]),
        ("Cookie: session=%s; csrftoken=%s", ("sess123", "csrf456"), ["sess123", "csrf456"]),
        ("vault key %s digest %s", (BASE64_KEY, HEX_DIGEST), [BASE64_KEY, HEX_DIGEST]),
    ],
)
def test_secrets_in_arguments_are_redacted(
    capture: Capture, message: str, args: tuple[Any, ...], secrets: list[str]
) -> None:
    capture.logger.warning(message, *args)
    output = capture.output()
    assert output
    for secret in secrets:
        assert secret not in output
    assert REDACTED in output


def test_a_url_keeps_everything_but_its_password(capture: Capture) -> None:
    capture.logger.info("mail via %s", "smtp://user:hunter2@mail:25")
    assert "smtp://user:[redacted]@mail:25" in capture.output()


def test_an_exception_message_is_redacted(capture: Capture) -> None:
    try:
        raise ValueError("login refused for {'user': 'press', 'password': 'hunter2'}")
    except ValueError:
        capture.logger.exception("smtp login failed for %s", "press")
    output = capture.output()
    assert "hunter2" not in output
    assert REDACTED in output
    assert "smtp login failed for press" in output
    assert "Traceback (most recent call last)" in output
    assert "ValueError: login refused" in output


@pytest.mark.parametrize(
    ("message", "args", "expected"),
    [
        ("posted %s to %s", ("1854321987654321098", "@livuni_chem"), "posted 1854321987654321098 to @livuni_chem"),
        ("scheduled for %s", ("2026-11-24T10:15:00+00:00",), "scheduled for 2026-11-24T10:15:00+00:00"),
        ("lockdown %s: %d accounts held", ("started", 12), "lockdown started: 12 accounts held"),
        ("user %s signed in", ("press.officer@liverpool.ac.uk",), "user press.officer@liverpool.ac.uk signed in"),
        ("post %s is held (%s)", ("42", "ok"), "post 42 is held (ok)"),
        ("see https://%s/posts?page=%d", ("example.ac.uk", 2), "see https://example.ac.uk/posts?page=2"),
        ("100%% of %s", ("posts",), "100% of posts"),
    ],
)
def test_ordinary_text_passes_unchanged(capture: Capture, message: str, args: tuple[Any, ...], expected: str) -> None:
    capture.logger.info(message, *args)
    assert expected in capture.output()
    assert REDACTED not in capture.output()
    assert redact(expected) == expected


@pytest.mark.parametrize(
    "text",
    [
        "@livuni_chem posted 1854321987654321098 at 2026-11-24T10:15:00Z",
        "Playbook 'campus-incident' paused 7 accounts",
        'File "/work/main/.venv/lib/python3.11/site-packages/werkzeug/serving.py", line 363, in run_wsgi',
        "test_a_bad_value_is_refused_naming_the_variable_in_settings",
        "LOCKDOWN_SECRET_KEY (or LOCKDOWN_SECRET_KEY_FILE) is not set",
        "id 123e4567-e89b-12d3-a456-426614174000 ok",
    ],
)
def test_redact_leaves_ordinary_text_alone(text: str) -> None:
    assert redact(text) == text


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("{'password': 'hunter2', 'user': 'bob'}", "{'password': '[redacted]', 'user': 'bob'}"),
        ('{"api_key": "abc\\"def", "n": 1}', '{"api_key": "[redacted]", "n": 1}'),
        ("PASSWORD=hunter2 next", "PASSWORD=[redacted] next"),
        ("passwd: hunter2", "passwd: [redacted]"),
        ("X-Api-Key: zzz", "X-Api-Key: [redacted]"),
        ("apikey=zzz otp_secret=yyy", "apikey=[redacted] otp_secret=[redacted]"),
        ("password=b'hunter2'", "password=b'[redacted]'"),
        ("password='truncated message", "password='[redacted]"),
        ("Authorization: Bearer abc.def", "Authorization: Bearer [redacted]"),
        ("sent Bearer abc.def upstream", "sent Bearer [redacted] upstream"),
        ("Set-Cookie: sid=abc; HttpOnly\nnext line", "Set-Cookie: [redacted]\nnext line"),
        ("https://bot:s3cr3t@api.example.com/v2", "https://bot:[redacted]@api.example.com/v2"),
        (f"token {API_TOKEN} issued", "token [redacted] issued"),
        (f"seed {TOTP_SEED}.", "seed [redacted]."),
        (f"key={BASE64_KEY}", "key=[redacted]"),
        (f"sha256 {HEX_DIGEST}", "sha256 [redacted]"),
    ],
)
def test_redact(text: str, expected: str) -> None:
    assert redact(text) == expected
    assert redact(expected) == expected


def test_a_malformed_record_does_not_raise() -> None:
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "count %d for password=%s", ("many", "hunter2"), None)
    assert SecretRedactor().filter(record) is True
    assert "hunter2" not in record.getMessage()
    assert record.getMessage() == "count %d for password=[redacted] (arguments that did not fit the message: str, str)"


def test_a_record_that_cannot_be_read_is_let_through() -> None:
    class Unprintable:
        def __str__(self) -> str:
            raise RuntimeError("no")

    record = logging.LogRecord("x", logging.INFO, __file__, 1, Unprintable(), None, None)
    assert SecretRedactor().filter(record) is True


def test_a_malformed_message_is_logged_redacted_instead_of_a_logging_error(
    capture: Capture, capsys: pytest.CaptureFixture[str]
) -> None:
    capture.logger.info("count %d", "password=hunter2")
    assert "hunter2" not in capture.output()
    assert "count %d" in capture.output()
    assert "(arguments that did not fit the message: str)" in capture.output()
    if capture.where != "caplog":  # with the redactor on caplog's handler only, the stream handler still fails
        assert "Logging error" not in capsys.readouterr().err


def test_install_is_idempotent() -> None:
    logger = logging.getLogger(f"lockdown.test_redact.{next(_names)}")
    handler = logging.StreamHandler(io.StringIO())
    logger.addHandler(handler)
    try:
        install(logger)
        install(logger)
        for filterer in (logger, handler, *logging.getLogger().handlers):
            assert sum(isinstance(f, SecretRedactor) for f in filterer.filters) == 1
    finally:
        logger.removeHandler(handler)
        for filterer in logging.getLogger().handlers:
            for found in [f for f in filterer.filters if isinstance(f, SecretRedactor)]:
                filterer.removeFilter(found)
