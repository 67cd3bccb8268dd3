"""Logging for the long-running commands: text for people, or one JSON object per line for a
log collector (LOCKDOWN_LOG_FORMAT=json). Secrets are redacted either way (lockdown.ops.redact)."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from typing import Any, TextIO

from lockdown.ops.redact import install as install_redactor

TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


class JsonFormatter(logging.Formatter):
    """A record as one line of JSON: time (UTC), level, logger, message, and exception if any."""

    def format(self, record: logging.LogRecord) -> str:
        """The record's JSON line."""
        line: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        # The redactor replaces exc_info with redacted exc_text; format exc_info only if it did not run.
        exception = self.formatException(record.exc_info) if record.exc_info else record.exc_text
        if exception:
            line["exception"] = exception
        if record.stack_info:
            line["stack"] = record.stack_info
        return json.dumps(line, ensure_ascii=False, default=str)


def configure_logging(log_format: str, stream: TextIO | None = None) -> logging.Handler:
    """Send INFO and above to stderr (or ``stream``) in ``log_format`` ('text' or 'json'), redacted."""
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter() if log_format == "json" else logging.Formatter(TEXT_FORMAT))
    root = logging.getLogger()
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    # Puts the redactor on the new handler too: records propagated from other loggers pass only there.
    install_redactor()
    return handler
