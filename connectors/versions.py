"""The platform API versions an installation speaks, given to connectors as data.

The installation's settings (``LOCKDOWN_LINKEDIN_VERSION``, ``LOCKDOWN_GRAPH_VERSION``) choose
them; the dispatcher hands them to a connector beside the account's own settings, under the
keys below, which no account may set (they are not declared connector settings).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

# LinkedIn keeps each monthly version about a year (Migrations page); 202607 (July 2026) is
# supported until about July 2027.
DEFAULT_LINKEDIN_VERSION = "202607"
# Graph API changelog: v25.0 came out 2026-02-18 and is available until 2028-07-29 (v21.0,
# used before, ends 2027-01-21).
DEFAULT_GRAPH_VERSION = "v25.0"
LINKEDIN_VERSION_KEY = "linkedin_version"
GRAPH_VERSION_KEY = "graph_version"

# Meta's Graph API changelog (https://developers.facebook.com/docs/graph-api/changelog/versions/),
# "Available until", as published on 2026-11-29. v26.0 (2026-07-29) has no date yet; a version
# newer than the newest listed is unknown here, one older than the oldest listed has ended.
GRAPH_ENDS = {
    "v13.0": date(2024, 5, 28),
    "v14.0": date(2024, 9, 17),
    "v15.0": date(2024, 11, 20),
    "v16.0": date(2025, 5, 14),
    "v17.0": date(2025, 9, 12),
    "v18.0": date(2026, 1, 26),
    "v19.0": date(2026, 5, 21),
    "v20.0": date(2026, 9, 24),
    "v21.0": date(2027, 1, 21),
    "v22.0": date(2027, 5, 20),
    "v23.0": date(2027, 10, 8),
    "v24.0": date(2028, 2, 18),
    "v25.0": date(2028, 7, 29),
}
# LinkedIn publishes no table: it supports each monthly version "for a minimum of one year"
# (Marketing API versioning page) and then sunsets it (202411 ended 2025-11-17). The rule used
# here: a version YYYYMM ends about the 15th of the same month a year later, a few days early
# rather than late.
LINKEDIN_SUPPORT_DAY = 15
# Readiness warns this long before a configured version's end.
WARN_BEFORE = timedelta(days=60)

_LINKEDIN = re.compile(r"20\d\d(0[1-9]|1[0-2])(\.\d\d)?")
_GRAPH = re.compile(r"v\d{1,3}\.\d")


def check_linkedin_version(value: str) -> str:
    """A LinkedIn-Version header value (YYYYMM, or YYYYMM.NN for a patch); ValueError if not."""
    if not _LINKEDIN.fullmatch(value):
        raise ValueError(f"a LinkedIn version is YYYYMM, such as {DEFAULT_LINKEDIN_VERSION}, got {value!r}")
    return value


def check_graph_version(value: str) -> str:
    """A Graph API version path segment (``v25.0``); ValueError if not."""
    if not _GRAPH.fullmatch(value):
        raise ValueError(f"a Graph API version is like {DEFAULT_GRAPH_VERSION}, got {value!r}")
    return value


@dataclass(frozen=True)
class ApiVersions:
    """The API versions connectors send, checked when made."""

    linkedin: str = DEFAULT_LINKEDIN_VERSION
    graph: str = DEFAULT_GRAPH_VERSION

    def __post_init__(self) -> None:
        check_linkedin_version(self.linkedin)
        check_graph_version(self.graph)

    def as_settings(self) -> dict[str, str]:
        """These versions as the keys a connector reads beside its account's settings."""
        return {LINKEDIN_VERSION_KEY: self.linkedin, GRAPH_VERSION_KEY: self.graph}


def linkedin_version(settings: Mapping[str, Any]) -> str:
    """The LinkedIn version given with a connector's settings, or the default."""
    return str(settings.get(LINKEDIN_VERSION_KEY) or DEFAULT_LINKEDIN_VERSION)


def graph_version(settings: Mapping[str, Any]) -> str:
    """The Graph API version given with a connector's settings, or the default."""
    return str(settings.get(GRAPH_VERSION_KEY) or DEFAULT_GRAPH_VERSION)


def linkedin_version_end(version: str) -> date:
    """About when LinkedIn stops serving a version: the 15th of its month, a year on (see above)."""
    year, month = int(version[:4]), int(version[4:6])
    return date(year + 1, month, LINKEDIN_SUPPORT_DAY)


def graph_version_end(version: str) -> date | None:
    """When Meta ends a Graph API version, as its changelog publishes it; None when unknown."""
    if version in GRAPH_ENDS:
        return GRAPH_ENDS[version]
    number = _graph_number(version)
    oldest = min(GRAPH_ENDS, key=_graph_number)
    if number < _graph_number(oldest):
        return GRAPH_ENDS[oldest]  # ended no later than the oldest listed
    return None


def _graph_number(version: str) -> tuple[int, int]:
    major, _, minor = version.lstrip("v").partition(".")
    return int(major), int(minor or 0)


def version_warnings(kind: str, versions: ApiVersions, today: date) -> list[str]:
    """What a connector of this kind should be warned of about its API version: its end within
    WARN_BEFORE, or passed. Empty for kinds that speak no versioned API here."""
    if kind == "linkedin":
        name, value, setting, about = "LinkedIn-Version", versions.linkedin, "LOCKDOWN_LINKEDIN_VERSION", "about "
        end: date | None = linkedin_version_end(versions.linkedin)
    elif kind in ("facebook", "instagram"):
        name, value, setting, about = "Graph API", versions.graph, "LOCKDOWN_GRAPH_VERSION", ""
        end = graph_version_end(versions.graph)
    else:
        return []
    if end is None:
        return []
    if today >= end:
        return [
            f"ENDED: {name} {value} reached its end {about}{end.isoformat()}; calls may fail or behave "
            f"differently: set {setting} to a current version now"
        ]
    if end - today <= WARN_BEFORE:
        days = (end - today).days
        return [f"{name} {value} ends {about}{end.isoformat()} (in {days} days): set {setting} to a newer version"]
    return []
