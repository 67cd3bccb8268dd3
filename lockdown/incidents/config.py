"""What incident code needs from the settings: the playbooks, and where people are sent."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

from lockdown.incidents.playbooks import Playbook, PlaybookError, load_playbooks
from lockdown.posting.media import MediaConfig, media_config
from lockdown.settings import Settings, SettingsError


@dataclass(frozen=True)
class IncidentConfig:
    """What incident code needs from the settings: playbooks and where people are sent."""

    playbooks: dict[str, Playbook]
    public_url: str = "http://127.0.0.1:8080"
    # The CAP alerts' <sender>; empty: public_url's host.
    cap_sender: str = ""
    notify_webhook_url: str | None = None
    resume_interval: timedelta = field(default_factory=lambda: timedelta(minutes=10))
    timezone: str = "Europe/London"
    # How long declaring and resolving keep retrying on a busy database, beyond the busy timeout.
    busy_retry_seconds: float = 30.0
    # Where media are kept and how they are checked (None: a message may carry none).
    media: MediaConfig | None = None
    # CAP alerts to playbooks (LOCKDOWN_CAP_PLAYBOOKS), each playbook checked to exist.
    cap_rules: tuple[tuple[str, str, str], ...] = ()
    cap_default_playbook: str = "live-incident"


def incident_config(settings: Settings) -> IncidentConfig:
    """Load and check the playbooks (refusing to start on a bad one) with the settings."""
    try:
        loaded = load_playbooks(settings.playbooks_dir)
    except PlaybookError as exc:
        raise SettingsError(f"LOCKDOWN_PLAYBOOKS: {exc}") from None
    for playbook in (*(rule[2] for rule in settings.cap_rules), settings.cap_default_playbook):
        found = loaded.get(playbook)
        if found is None or playbook == "standby-promotion" or found.named_account == "required":
            usable = sorted(n for n, p in loaded.items() if n != "standby-promotion" and p.named_account != "required")
            raise SettingsError(
                f"LOCKDOWN_CAP_PLAYBOOKS: {playbook!r} is not a playbook a CAP alert can declare; "
                f"one of {', '.join(usable)} (a playbook that needs a named account cannot be)"
            )
    return IncidentConfig(
        playbooks=loaded,
        public_url=settings.public_url,
        cap_sender=settings.cap_sender,
        notify_webhook_url=settings.notify_webhook_url,
        resume_interval=timedelta(seconds=settings.resume_interval_seconds),
        timezone=settings.timezone,
        busy_retry_seconds=settings.incident_busy_retry_seconds,
        media=media_config(settings),
        cap_rules=settings.cap_rules,
        cap_default_playbook=settings.cap_default_playbook,
    )
