"""Settings: read once from the environment, bad values refused with the variable named."""

from __future__ import annotations

import base64
from datetime import datetime
from pathlib import Path

import pytest

from connectors.facebook import FacebookConnector
from connectors.linkedin import LinkedInConnector
from lockdown.hours import HoursError, parse_weekly_hours
from lockdown.posting.dispatch import connectors_for
from lockdown.settings import Settings, SettingsError

KEY = "k" * 40


def test_defaults_follow_the_api_contract() -> None:
    settings = Settings.from_env({})
    assert settings.db_path == Path("instance/lockdown.db")
    assert settings.tick_seconds == 1.0
    assert settings.timezone == "Europe/London"
    assert settings.office_hours is not None
    assert settings.office_hours.text == "Mon-Fri 09:00-17:00"
    assert settings.secret_key is None


def test_settings_are_frozen() -> None:
    settings = Settings.from_env({})
    with pytest.raises(AttributeError):
        settings.tick_seconds = 5  # type: ignore[misc]


@pytest.mark.parametrize(
    ("env", "variable"),
    [
        ({"LOCKDOWN_TICK_SECONDS": "fast"}, "LOCKDOWN_TICK_SECONDS"),
        ({"LOCKDOWN_TICK_SECONDS": "0"}, "LOCKDOWN_TICK_SECONDS"),
        ({"LOCKDOWN_TICK_SECONDS": "-1"}, "LOCKDOWN_TICK_SECONDS"),
        ({"LOCKDOWN_INCIDENT_BUSY_RETRY": "-1"}, "LOCKDOWN_INCIDENT_BUSY_RETRY"),
        ({"LOCKDOWN_INCIDENT_BUSY_RETRY": "forever"}, "LOCKDOWN_INCIDENT_BUSY_RETRY"),
        ({"LOCKDOWN_INCIDENT_BUSY_RETRY": "nan"}, "LOCKDOWN_INCIDENT_BUSY_RETRY"),
        ({"LOCKDOWN_OFFICE_HOURS": "nine to five"}, "LOCKDOWN_OFFICE_HOURS"),
        ({"LOCKDOWN_TIMEZONE": "Mars/Olympus"}, "LOCKDOWN_TIMEZONE"),
        ({"LOCKDOWN_SECRET_KEY": "short"}, "LOCKDOWN_SECRET_KEY"),
        ({"LOCKDOWN_SECRET_KEY_FILE": "/nonexistent/key"}, "LOCKDOWN_SECRET_KEY_FILE"),
        ({"LOCKDOWN_VAULT_KEY": "not base64!"}, "LOCKDOWN_VAULT_KEY"),
        ({"LOCKDOWN_VAULT_KEY": base64.b64encode(b"x" * 16).decode()}, "LOCKDOWN_VAULT_KEY"),
        ({"LOCKDOWN_SMTP_URL": "http://mail"}, "LOCKDOWN_SMTP_URL"),
        ({"LOCKDOWN_SMTP_URL": "smtp://host:notaport"}, "LOCKDOWN_SMTP_URL"),
        ({"LOCKDOWN_LOG_FORMAT": "xml"}, "LOCKDOWN_LOG_FORMAT"),
        ({"LOCKDOWN_METRICS_TOKEN": "short"}, "LOCKDOWN_METRICS_TOKEN"),
        ({"LOCKDOWN_METRICS_TOKEN": "has a space in the middle"}, "LOCKDOWN_METRICS_TOKEN"),
        ({"LOCKDOWN_METRICS_TOKEN_FILE": "/nonexistent/token"}, "LOCKDOWN_METRICS_TOKEN_FILE"),
        ({"LOCKDOWN_TRUSTED_PROXIES": "proxy.example"}, "LOCKDOWN_TRUSTED_PROXIES"),
        ({"LOCKDOWN_TRUSTED_PROXIES": "10.0.0.1/8"}, "LOCKDOWN_TRUSTED_PROXIES"),
        ({"LOCKDOWN_TRUSTED_PROXIES": "127.0.0.1, 10.0.0.0/33"}, "LOCKDOWN_TRUSTED_PROXIES"),
        ({"LOCKDOWN_OUTBOUND_ALLOW": "10.0.0.0/8,not a host"}, "LOCKDOWN_OUTBOUND_ALLOW"),
        ({"LOCKDOWN_OUTBOUND_ALLOW": "10.0.0.0/33"}, "LOCKDOWN_OUTBOUND_ALLOW"),
        ({"LOCKDOWN_CAP_SENDER": "alerts,liverpool.ac.uk"}, "LOCKDOWN_CAP_SENDER"),
        ({"LOCKDOWN_CAP_SENDER": "alerts at liverpool"}, "LOCKDOWN_CAP_SENDER"),
    ],
)
def test_a_bad_value_is_refused_naming_the_variable(env: dict[str, str], variable: str) -> None:
    with pytest.raises(SettingsError, match=variable):
        Settings.from_env(env)


def test_good_values_are_read() -> None:
    keys = [base64.b64encode(bytes([n]) * 32).decode() for n in (1, 2)]
    settings = Settings.from_env(
        {
            "LOCKDOWN_TICK_SECONDS": "0.25",
            "LOCKDOWN_OFFICE_HOURS": "none",
            "LOCKDOWN_TIMEZONE": "UTC",
            "LOCKDOWN_SECRET_KEY": KEY,
            "LOCKDOWN_VAULT_KEY": ",".join(keys),
            "LOCKDOWN_SMTP_URL": "smtp://127.0.0.1:8025",
            "LOCKDOWN_INCIDENT_BUSY_RETRY": "0",
        }
    )
    assert settings.tick_seconds == 0.25
    assert settings.incident_busy_retry_seconds == 0, "0 turns the retry off"
    assert settings.office_hours is None
    assert settings.vault_keys == (b"\x01" * 32, b"\x02" * 32)
    assert settings.require_secret_key() == KEY.encode()


def test_trusted_proxies_are_addresses_or_networks_and_none_by_default() -> None:
    assert Settings.from_env({}).trusted_proxies == ()
    proxies = Settings.from_env({"LOCKDOWN_TRUSTED_PROXIES": " 127.0.0.1, 10.0.0.0/8 ,::1,"}).trusted_proxies
    assert [str(network) for network in proxies] == ["127.0.0.1/32", "10.0.0.0/8", "::1/128"]


def test_secrets_can_come_from_files(tmp_path: Path) -> None:
    (tmp_path / "secret").write_text(KEY + "\n")
    (tmp_path / "vault").write_text(base64.b64encode(b"\x03" * 32).decode() + "\n\n")
    settings = Settings.from_env(
        {
            "LOCKDOWN_SECRET_KEY_FILE": str(tmp_path / "secret"),
            "LOCKDOWN_VAULT_KEY_FILE": str(tmp_path / "vault"),
        }
    )
    assert settings.secret_key == KEY.encode()
    assert settings.vault_keys == (b"\x03" * 32,)


def test_without_a_secret_key_a_start_is_refused_with_what_to_do() -> None:
    with pytest.raises(SettingsError, match=r"LOCKDOWN_SECRET_KEY.*--demo"):
        Settings.from_env({}).require_secret_key()


def test_demo_generates_a_key_file_readable_by_its_owner_only(tmp_path: Path) -> None:
    env = {"LOCKDOWN_DB": str(tmp_path / "db" / "lockdown.db")}
    first = Settings.from_env(env, demo=True)
    key_file = tmp_path / "db" / "demo-secret.key"
    assert key_file.stat().st_mode & 0o777 == 0o600
    assert Settings.from_env(env, demo=True).secret_key == first.secret_key
    assert len(first.require_secret_key()) >= 32


def test_the_app_factory_refuses_to_start_without_a_key(tmp_path: Path) -> None:
    from lockdown.app import create_app

    with pytest.raises(SettingsError, match="LOCKDOWN_SECRET_KEY"):
        create_app(Settings.from_env({"LOCKDOWN_DB": str(tmp_path / "x.db")}))
    assert not (tmp_path / "x.db").exists(), "nothing is written before the settings are valid"


@pytest.mark.parametrize(
    ("text", "moment", "inside"),
    [
        ("Mon-Fri 09:00-17:00", datetime(2026, 11, 23, 9, 0), True),  # a Monday
        ("Mon-Fri 09:00-17:00", datetime(2026, 11, 23, 17, 0), False),
        ("Mon-Fri 09:00-17:00", datetime(2026, 11, 22, 12, 0), False),  # a Sunday
        ("Mon,Wed 08:00-10:00; Sat 10:00-14:00", datetime(2026, 11, 25, 9, 59), True),
        ("Mon,Wed 08:00-10:00; Sat 10:00-14:00", datetime(2026, 11, 24, 9, 0), False),
        ("Mon,Wed 08:00-10:00; Sat 10:00-14:00", datetime(2026, 11, 28, 13, 0), True),
        ("Sat-Sun 00:00-24:00", datetime(2026, 11, 29, 23, 59), True),
        ("24/7", datetime(2026, 11, 24, 3, 0), True),
    ],
)
def test_weekly_hours(text: str, moment: datetime, inside: bool) -> None:
    assert parse_weekly_hours(text).contains(moment) is inside


@pytest.mark.parametrize(
    "text",
    [
        "",
        "Mon-Fri",
        "Mon-Fri 9:00-17:00",
        "Funday 09:00-10:00",
        "Mon 10:00-09:00",
        "Mon 09:60-10:00",
        "Sun-Mon 09:00-10:00",
    ],
)
def test_unreadable_hours_are_refused(text: str) -> None:
    with pytest.raises(HoursError):
        parse_weekly_hours(text)


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("LOCKDOWN_LINKEDIN_VERSION", "2026-07"),
        ("LOCKDOWN_LINKEDIN_VERSION", "202613"),
        ("LOCKDOWN_GRAPH_VERSION", "25"),
    ],
)
def test_an_api_version_that_is_not_one_is_refused_naming_the_variable(variable: str, value: str) -> None:
    with pytest.raises(SettingsError, match=variable):
        Settings.from_env({variable: value})


def test_api_versions_reach_the_connectors_the_dispatcher_builds() -> None:
    settings = Settings.from_env({"LOCKDOWN_LINKEDIN_VERSION": "202610", "LOCKDOWN_GRAPH_VERSION": "v26.0"})

    build = connectors_for(settings)
    linkedin = build("linkedin", {"kind": "linkedin", "author": "urn:li:organization:1"}, {"access_token": "t"})
    facebook = build("facebook", {"kind": "facebook", "page_id": "1"}, {"page_access_token": "t"})

    assert isinstance(linkedin, LinkedInConnector)
    assert isinstance(facebook, FacebookConnector)
    assert linkedin.headers["LinkedIn-Version"] == "202610"
    assert facebook.graph_url == "https://graph.facebook.com/v26.0"


def test_media_settings_are_read_and_a_bad_rule_is_named(tmp_path: Path) -> None:
    base = {"LOCKDOWN_DB": str(tmp_path / "l.db")}
    chosen = Settings.from_env(
        {
            **base,
            "LOCKDOWN_ALT_TEXT": "warn",
            "LOCKDOWN_MEDIA_GRACE_HOURS": "2",
            "LOCKDOWN_PUBLIC_URL": "https://x.ac.uk",
        }
    )
    assert (chosen.alt_text_rule, chosen.media_grace_hours, chosen.public_url_given) == ("warn", 2.0, True)
    assert not Settings.from_env(base).public_url_given, "the default address is no public address"
    with pytest.raises(SettingsError, match="LOCKDOWN_ALT_TEXT"):
        Settings.from_env({**base, "LOCKDOWN_ALT_TEXT": "sometimes"})
