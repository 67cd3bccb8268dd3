"""Logs of the long-running commands: text by default, one JSON object per line on request, and
secrets redacted in either form."""

from __future__ import annotations

import io
import json
import logging
import os
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from lockdown.ops.logs import JsonFormatter, configure_logging
from lockdown.settings import Settings, SettingsError
from tests.conftest import LOCKDOWN, SECRET, VAULT_KEY


@pytest.fixture
def root_logging() -> Iterator[None]:
    """Put the root logger and its handlers back as they were (configure_logging changes them)."""
    root = logging.getLogger()
    level, handlers, filters = root.level, list(root.handlers), list(root.filters)
    handler_filters = {handler: list(handler.filters) for handler in handlers}
    yield
    root.setLevel(level)
    root.handlers[:] = handlers
    root.filters[:] = filters
    for handler, kept in handler_filters.items():
        handler.filters[:] = kept


def record(message: str, *args: object, exc: BaseException | None = None) -> logging.LogRecord:
    exc_info = (type(exc), exc, exc.__traceback__) if exc else None
    return logging.LogRecord("lockdown.posting.dispatch", logging.WARNING, __file__, 1, message, args, exc_info)


def test_a_record_is_one_json_line_with_time_level_logger_and_message() -> None:
    line = JsonFormatter().format(record("post %s failed", 42))
    assert "\n" not in line
    entry = json.loads(line)
    assert entry["level"] == "WARNING"
    assert entry["logger"] == "lockdown.posting.dispatch"
    assert entry["message"] == "post 42 failed"
    assert entry["time"].endswith("Z")
    assert "exception" not in entry


def test_an_exception_is_kept_in_its_own_field() -> None:
    try:
        raise RuntimeError("the platform went away")
    except RuntimeError as exc:
        entry = json.loads(JsonFormatter().format(record("sending failed", exc=exc)))
    assert entry["message"] == "sending failed"
    assert "RuntimeError: the platform went away" in entry["exception"]
    assert "Traceback" in entry["exception"]


@pytest.mark.usefixtures("root_logging")
def test_secrets_are_redacted_in_json_output_too() -> None:
    stream = io.StringIO()
    configure_logging("json", stream)
    log = logging.getLogger("lockdown.test_logs")
    log.info("connecting with password=%s", "hunter2-correct-horse")
    try:
        raise ValueError("Authorization: Bearer ld_abcdefghijklmnopqrstuvwxyz0123")
    except ValueError:
        log.exception("request failed")
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    assert [entry["message"] for entry in lines] == ["connecting with password=[redacted]", "request failed"]
    assert "ld_abcdefghijklmnopqrstuvwxyz0123" not in lines[1]["exception"]
    assert "[redacted]" in lines[1]["exception"]
    assert "hunter2" not in stream.getvalue()


@pytest.mark.usefixtures("root_logging")
def test_text_is_the_default_and_is_redacted() -> None:
    stream = io.StringIO()
    configure_logging(Settings.from_env({}).log_format, stream)
    logging.getLogger("lockdown.test_logs").info("token=%s", "abcdefghijklmnop1234")
    line = stream.getvalue().strip()
    assert line.endswith("INFO lockdown.test_logs: token=[redacted]")
    with pytest.raises(json.JSONDecodeError):
        json.loads(line)


@pytest.mark.parametrize(("raw", "expected"), [("json", "json"), ("JSON", "json"), ("text", "text"), ("", "text")])
def test_the_log_format_is_read_from_the_environment(raw: str, expected: str) -> None:
    assert Settings.from_env({"LOCKDOWN_LOG_FORMAT": raw}).log_format == expected


def test_an_unknown_log_format_is_refused_naming_the_variable() -> None:
    with pytest.raises(SettingsError, match="LOCKDOWN_LOG_FORMAT must be one of text, json, got 'xml'"):
        Settings.from_env({"LOCKDOWN_LOG_FORMAT": "xml"})


def test_the_scheduler_logs_only_json_lines_when_asked(tmp_path: Path) -> None:
    env = {
        **os.environ,
        "LOCKDOWN_DB": str(tmp_path / "logs.db"),
        "LOCKDOWN_SECRET_KEY": SECRET,
        "LOCKDOWN_VAULT_KEY": VAULT_KEY,
        "LOCKDOWN_LOG_FORMAT": "json",
        "LOCKDOWN_TICK_SECONDS": "0.1",
    }
    errors = tmp_path / "scheduler.err"
    with errors.open("w") as sink:
        scheduler = subprocess.Popen([LOCKDOWN, "scheduler"], env=env, stdout=subprocess.DEVNULL, stderr=sink)
        try:
            deadline = time.monotonic() + 30
            while "Lockdown scheduler on" not in errors.read_text() and time.monotonic() < deadline:
                time.sleep(0.05)
        finally:
            scheduler.send_signal(signal.SIGINT)
            try:
                scheduler.wait(timeout=20)
            except subprocess.TimeoutExpired:
                # A pytest started in the background inherits SIGINT ignored, and so would this
                # child: end it rather than leave a scheduler running, and say why.
                scheduler.kill()
                scheduler.wait()
                pytest.fail("the scheduler ignored SIGINT (was pytest started with SIGINT ignored?)")
    lines = errors.read_text().splitlines()
    entries = [json.loads(line) for line in lines]
    assert any(entry["message"].startswith("Lockdown scheduler on") for entry in entries), lines
    assert all({"time", "level", "logger", "message"} <= entry.keys() for entry in entries)
