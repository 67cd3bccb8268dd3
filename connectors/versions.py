"""The platform API versions an installation speaks, given to connectors as data.

The installation's settings (``LOCKDOWN_LINKEDIN_VERSION``, ``LOCKDOWN_GRAPH_VERSION``) choose
them; the dispatcher hands them to a connector beside the account's own settings, under the
keys below, which no account may set (they are not declared connector settings).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

# LinkedIn keeps each monthly version about a year (Migrations page); 202607 (July 2026) is
# supported until about July 2027.
DEFAULT_LINKEDIN_VERSION = "202607"
# Graph API changelog: v25.0 came out 2026-02-18 and is available until 2028-07-29 (v21.0,
# used before, ends 2027-01-21).
DEFAULT_GRAPH_VERSION = "v25.0"
LINKEDIN_VERSION_KEY = "linkedin_version"
GRAPH_VERSION_KEY = "graph_version"

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
