"""Readiness in /metrics: accounts by state, platform and central, the central accounts not
ready, and the age of the oldest check, in valid Prometheus text."""

from __future__ import annotations

from datetime import timedelta

from flask.testing import FlaskClient

from connectors.base import ConnectorError
from lockdown.readiness.checks import add_missing_rows, check_now
from lockdown.register.accounts import register_account
from lockdown.settings import Settings
from lockdown.store.context import Context
from tests.conftest import Login, account_payload
from tests.ops.test_metrics import scrape, value
from tests.readiness.test_checks import Clock, Platform, runner


def test_a_fresh_installation_has_no_accounts_to_be_ready(client: FlaskClient) -> None:
    samples = scrape(client)

    assert value(samples, "lockdown_central_accounts_not_ready") == 0
    assert value(samples, "lockdown_readiness_oldest_check_age_seconds") == 0
    assert not [key for key in samples if key[0] == "lockdown_accounts_readiness"]


def test_accounts_are_counted_by_readiness_state_platform_and_central(
    client: FlaskClient, ctx: Context, settings: Settings, ermc: Login, manager: Login
) -> None:
    central = register_account(ctx, ermc.user, account_payload(manager.email, handle="@livuni", central=True))
    ready = register_account(ctx, ermc.user, account_payload(manager.email))
    register_account(ctx, ermc.user, account_payload(manager.email, platform="mastodon"))
    clock = Clock(ctx, at=ctx.now() - timedelta(minutes=10))
    check_now(
        clock.ctx, runner(settings, Platform(ConnectorError("expired", permanent=True))), ermc.user, central["id"]
    )
    clock.advance(minutes=5)
    check_now(clock.ctx, runner(settings, Platform()), ermc.user, ready["id"])
    add_missing_rows(ctx, timedelta(hours=6))

    samples = scrape(client)

    assert value(samples, "lockdown_accounts_readiness", state="failing", platform="x", central="true") == 1
    assert value(samples, "lockdown_accounts_readiness", state="ready", platform="x", central="true") == 0
    assert value(samples, "lockdown_accounts_readiness", state="ready", platform="x", central="false") == 1
    assert value(samples, "lockdown_accounts_readiness", state="unchecked", platform="mastodon", central="false") == 1
    assert value(samples, "lockdown_central_accounts_not_ready") == 1
    assert 590 <= value(samples, "lockdown_readiness_oldest_check_age_seconds") <= 700


def test_accounts_never_checked_make_the_oldest_check_infinitely_old(
    client: FlaskClient, ctx: Context, ermc: Login, manager: Login
) -> None:
    register_account(ctx, ermc.user, account_payload(manager.email, handle="@livuni", central=True))

    samples = scrape(client)

    assert value(samples, "lockdown_readiness_oldest_check_age_seconds") == float("inf")
    assert value(samples, "lockdown_central_accounts_not_ready") == 1
    assert value(samples, "lockdown_accounts_readiness", state="unchecked", platform="x", central="true") == 1
