"""How a Graph API error (Facebook Pages, Instagram) reads: permanent, or later and how much later.

The Graph API answers most failures with HTTP 400, rate limits included, so the error's ``code``,
``error_subcode`` and ``is_transient`` decide, not the status alone.
"""

from __future__ import annotations

import json
from typing import Any

import requests

from connectors.base import ConnectorError
from connectors.http import retry_after_seconds

# Codes that say "later": -2/-1/1/2 server trouble, 4/17/32/341/613 rate limits, 9 Instagram's
# publishing limit (https://developers.facebook.com/docs/graph-api/guides/error-handling).
TRANSIENT_CODES = frozenset({-2, -1, 1, 2, 4, 9, 17, 32, 341, 613})
# Business use case rate limits (80001 Pages, 80002 Instagram, ... 80014): https://developers.
# facebook.com/docs/graph-api/overview/rate-limiting#buc-rate-limits
BUSINESS_USE_CASE_CODES = range(80000, 80100)
# Code 4 with this subcode: the action was suspected as spam; a retry repeats it.
SUSPECTED_SPAM = 2207051
# Code 9 with this subcode: the account's publishing quota for a moving 24-hour window is spent.
PUBLISHING_QUOTA = 2207042
PUBLISHING_WINDOW_SECONDS = 24 * 3600.0


def business_use_case_wait(response: requests.Response) -> float | None:
    """Seconds until access is regained, from ``X-Business-Use-Case-Usage`` (the longest
    ``estimated_time_to_regain_access``, given in minutes), or None if it says nothing."""
    try:
        usage: Any = json.loads(response.headers.get("X-Business-Use-Case-Usage") or "null")
    except ValueError:
        return None
    minutes = [
        entry.get("estimated_time_to_regain_access")
        for entries in (usage.values() if isinstance(usage, dict) else [])
        if isinstance(entries, list)
        for entry in entries
        if isinstance(entry, dict)
    ]
    waits = [float(m) * 60 for m in minutes if isinstance(m, int | float) and not isinstance(m, bool) and m > 0]
    return max(waits, default=None)


def graph_error(exc: ConnectorError, response: requests.Response) -> ConnectorError:
    """The HTTP mapping, corrected by the Graph error's own code, subcode and ``is_transient``."""
    try:
        error = response.json().get("error") or {}
    except (ValueError, AttributeError):
        return exc
    if not isinstance(error, dict):
        return exc
    code, subcode = error.get("code"), error.get("error_subcode")
    said = ", ".join(f"{k} {v}" for k, v in (("code", code), ("subcode", subcode)) if v)
    message = f"{exc.message} ({said})" if said else exc.message
    business = isinstance(code, int) and code in BUSINESS_USE_CASE_CODES
    transient = not exc.permanent or error.get("is_transient") is True or code in TRANSIENT_CODES or business
    if subcode == SUSPECTED_SPAM:
        transient = False
    retry_after = None
    if transient:
        waits = [retry_after_seconds(response)]
        if business:
            waits.append(business_use_case_wait(response))
        if code == 9 and subcode == PUBLISHING_QUOTA:
            # The quota frees as the moving window passes; a full window is the wait that
            # is sure to find room, where quick retries would only spend the attempts.
            waits.append(PUBLISHING_WINDOW_SECONDS)
        retry_after = max((wait for wait in waits if wait is not None), default=None)
    return ConnectorError(message, permanent=not transient, status=exc.status, retry_after=retry_after)
