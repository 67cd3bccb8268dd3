"""The errors services raise; the API, console and CLI each turn them into their own answer."""

from __future__ import annotations

from typing import Any


class LockdownError(Exception):
    """Base of every error a person can act on: an HTTP status, a code and a message."""

    status = 400
    code = "bad_request"

    def __init__(self, message: str, *, field: str | None = None, **extra: Any) -> None:
        super().__init__(message)
        self.message = message
        self.field = field
        self.extra = extra

    def body(self) -> dict[str, Any]:
        """The JSON error object for this error."""
        error: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.field:
            error["field"] = self.field
        error.update(self.extra)
        return {"error": error}

    def headers(self) -> dict[str, str]:
        """HTTP headers that go with this error's answer."""
        return {}


class InvalidInput(LockdownError):
    """Bad input: the field is named."""

    status, code = 400, "invalid_input"


class Unauthorized(LockdownError):
    """No valid credentials."""

    status, code = 401, "unauthorized"


class Forbidden(LockdownError):
    """Valid credentials, but not for this role or this account."""

    status, code = 403, "forbidden"


class NotFound(LockdownError):
    """No such object."""

    status, code = 404, "not_found"


class Conflict(LockdownError):
    """The object exists already or is in the wrong state."""

    status, code = 409, "conflict"


class RuleBroken(LockdownError):
    """Well-formed input that breaks a rule of the policy."""

    status, code = 422, "rule_broken"


class TooManyAttempts(LockdownError):
    """Too many failed attempts: wait before trying again."""

    status, code = 429, "too_many_attempts"

    def headers(self) -> dict[str, str]:
        """Retry-After, when the refusal says how long to wait (``retry_after`` seconds)."""
        wait = self.extra.get("retry_after")
        return {"Retry-After": str(wait)} if isinstance(wait, int) else {}


class AccountHeld(LockdownError):
    """The account is held by an active incident."""

    status, code = 423, "account_held"


class DatabaseBusy(LockdownError):
    """Other changes held the database's write lock for longer than this request could wait."""

    status, code = 503, "busy"
    # Long enough for a queue of short writes to drain, short enough that a person retrying by
    # hand does not notice it.
    retry_after_seconds = 2

    def __init__(self, message: str | None = None) -> None:
        super().__init__(
            message
            or "the database is busy with other changes and this request could not wait longer for its turn; "
            "try again in a few seconds"
        )

    def headers(self) -> dict[str, str]:
        """When to try again."""
        return {"Retry-After": str(self.retry_after_seconds)}
