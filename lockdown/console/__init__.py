"""The web console: server-rendered pages over the same services as the API."""

from lockdown.console import (
    audit_pages,
    cap_pages,
    credential_pages,
    escalation_pages,
    incident_pages,
    media_pages,
    post_pages,
    provider_pages,
    readiness_pages,
    register_pages,
    views,
    wording,
)
from lockdown.console.blueprint import bp

__all__ = [
    "audit_pages",
    "bp",
    "cap_pages",
    "credential_pages",
    "escalation_pages",
    "incident_pages",
    "media_pages",
    "post_pages",
    "provider_pages",
    "readiness_pages",
    "register_pages",
    "views",
    "wording",
]
