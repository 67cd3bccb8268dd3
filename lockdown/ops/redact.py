"""A logging filter that redacts secrets: a second line of defence in case code logs one by mistake."""

from __future__ import annotations

import contextlib
import logging
import re

REDACTED = "[redacted]"

# Key names are matched as parts of a longer name too (smtp_password, X-Api-Key, client_secret).
_SECRET_NAME = re.compile(
    r"password|passwd|passphrase|secret|token|api[_-]?key|authorization|totp|cookie|session|private[_-]?key",
    re.IGNORECASE,
)
# A whole key token then its separator; possessive and anchored at token starts so scanning stays linear.
_KEY = re.compile(r"""(?<![A-Za-z0-9_.-])["']?(?P<name>[A-Za-z0-9_.-]++)["']?\s*+[:=]\s*+""")
_SCHEMES = r"(?:Bearer|Basic|Digest|Token)\s+"
# A quoted value keeps its quotes; an unquoted one keeps an auth scheme so "Authorization: Bearer x" stays readable;
# an unclosed quote (a truncated message) is redacted to the end of the line rather than let through.
_VALUE = re.compile(
    r"""(?P<bytes>b?)(?P<quote>["'])(?:\\.|(?!(?P=quote))[^\\\r\n])*+(?P=quote)"""
    rf"""|(?!(?:{_SCHEMES})?\[redacted\])(?P<scheme>{_SCHEMES})?[^\s,;&'"}}\])]++"""
    r"""|(?P<open>b?["'])[^\r\n]*+""",
    re.IGNORECASE,
)
# A Cookie header holds several name=value pairs, all of them secret, up to the end of the line.
_COOKIE_HEADER = re.compile(r"""(?P<head>\b(?:set-)?cookie\s*+:\s*+)(?![\s"'\[])[^\r\n]++""", re.IGNORECASE)
_AUTH_SCHEME = re.compile(r"\b(?P<scheme>Bearer|Basic)\s++(?!\[redacted\])[A-Za-z0-9._~+/=-]++", re.IGNORECASE)
_URL_PASSWORD = re.compile(
    r"(?P<head>(?<![A-Za-z0-9+.-])[A-Za-z][A-Za-z0-9+.-]*+://[^\s:/@]*+:)(?!\[redacted\]@)[^\s/@]++@"
)
_API_TOKEN = re.compile(r"\bld_[A-Za-z0-9_-]{20,}+")
_BASE32 = re.compile(r"\b[A-Z2-7]{16,}+=*+(?![A-Za-z0-9])")
_BLOB = re.compile(r"(?<![A-Za-z0-9+/_-])[A-Za-z0-9+/_-]{40,}+={0,2}(?![A-Za-z0-9+/_=-])")
_HEX = re.compile(r"[0-9a-fA-F]+")


def _value(match: re.Match[str]) -> str:
    if match["quote"] is not None:
        return f"{match['bytes']}{match['quote']}{REDACTED}{match['quote']}"
    if match["open"] is not None:
        return f"{match['open']}{REDACTED}"
    return f"{match['scheme'] or ''}{REDACTED}"


def _redact_pairs(text: str) -> str:
    """Redact the value after each key whose name looks secret."""
    pieces, done = [], 0
    for key in _KEY.finditer(text):
        if key.start() < done or not _SECRET_NAME.search(key["name"]):
            continue
        value = _VALUE.match(text, key.end())
        if value is None:
            continue
        pieces += [text[done : key.end()], _value(value)]
        done = value.end()
    return "".join([*pieces, text[done:]])


def _blob(match: re.Match[str]) -> str:
    text = match[0]
    if _HEX.fullmatch(text):
        return REDACTED
    # Random base64 mixes cases and digits and has few slashes; file paths and snake_case names do not.
    mixed = any(c.isdigit() for c in text) and any(c.isupper() for c in text) and any(c.islower() for c in text)
    if mixed and not text.startswith("/") and text.count("/") <= 2:
        return REDACTED
    return text


def redact(text: str) -> str:
    """``text`` with anything that looks like a secret replaced by ``[redacted]``."""
    text = _URL_PASSWORD.sub(rf"\g<head>{REDACTED}@", text)
    text = _COOKIE_HEADER.sub(rf"\g<head>{REDACTED}", text)
    text = _redact_pairs(text)
    text = _AUTH_SCHEME.sub(rf"\g<scheme> {REDACTED}", text)
    text = _API_TOKEN.sub(REDACTED, text)
    text = _BASE32.sub(REDACTED, text)
    return _BLOB.sub(_blob, text)


class SecretRedactor(logging.Filter):
    """Rewrites each record's message and exception text with secrets redacted; never drops or breaks a record."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Redact the record in place and let it through."""
        # A filter that raised would break logging itself, so an unredactable record goes through as it is.
        with contextlib.suppress(Exception):
            self._redact_record(record)
        return True

    @staticmethod
    def _redact_record(record: logging.LogRecord) -> None:
        """Replace message, arguments and exception text with their redacted, already-formatted forms."""
        try:
            message = record.getMessage()
        except Exception:
            # logging would report the bad format with its arguments on stderr; the arguments' values cannot be told
            # apart from secrets once separated from their message, so only their types are kept.
            args = record.args if isinstance(record.args, tuple) else (record.args,)
            kinds = ", ".join(type(arg).__name__ for arg in args)
            message = f"{record.msg!s} (arguments that did not fit the message: {kinds})"
        record.msg = redact(message)
        record.args = None
        if record.exc_info:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
            # Formatters would format the exception again from exc_info, unredacted; the text alone is enough.
            record.exc_info = None
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        if record.stack_info:
            record.stack_info = redact(record.stack_info)


def install(logger: logging.Logger | None = None) -> None:
    """Add a SecretRedactor to ``logger`` (default root), its handlers and the root logger's handlers, once each."""
    target = logger if logger is not None else logging.getLogger()
    # A logger's own filters see only records logged on it, not ones propagated from children, so handlers need it too.
    for filterer in (target, *target.handlers, *logging.getLogger().handlers):
        if not any(isinstance(existing, SecretRedactor) for existing in filterer.filters):
            filterer.addFilter(SecretRedactor())
