"""``lockdown readiness``: checks now, prints one row per account, and exits 1 when a central
account is not ready."""

from __future__ import annotations

from typing import Any

from click.testing import CliRunner

from lockdown.cli import main
from lockdown.register.accounts import register_account
from lockdown.settings import Settings
from lockdown.store.context import Context
from tests.conftest import LOOPBACK, SECRET, VAULT_KEY, Login, account_payload


def _env(settings: Settings) -> dict[str, str]:
    return {
        "LOCKDOWN_DB": str(settings.db_path),
        "LOCKDOWN_SECRET_KEY": SECRET,
        "LOCKDOWN_VAULT_KEY": VAULT_KEY,
        "LOCKDOWN_OUTBOUND_ALLOW": LOOPBACK,
    }


def _rows(output: str) -> dict[str, list[str]]:
    lines = [line.split("\t") for line in output.strip().splitlines()]
    assert lines[0] == ["id", "account", "platform", "central", "state", "reason", "checked"]
    return {line[1]: line for line in lines[1:]}


def test_readiness_checks_every_account_and_exits_0_when_the_central_ones_are_ready(
    ctx: Context, settings: Settings, ermc: Login, manager: Login
) -> None:
    register_account(ctx, ermc.user, account_payload(manager.email, handle="@livuni", central=True))
    register_account(ctx, ermc.user, account_payload(manager.email, handle="@livuni_chem"))

    result = CliRunner().invoke(main, ["readiness"], env=_env(settings))

    assert result.exit_code == 0, result.output
    rows = _rows(result.stdout)
    assert [rows[h][4] for h in ("@livuni", "@livuni_chem")] == ["ready", "ready"]
    assert list(rows) == ["@livuni", "@livuni_chem"]  # central accounts first
    assert rows["@livuni"][6] == "under a minute ago"


def test_readiness_exits_1_and_names_the_reason_when_a_central_account_fails(
    ctx: Context, settings: Settings, ermc: Login, manager: Login
) -> None:
    connector: dict[str, Any] = {"kind": "mastodon", "base_url": "https://social.example"}
    central = register_account(
        ctx,
        ermc.user,
        account_payload(manager.email, handle="@livuni", platform="mastodon", central=True, connector=connector),
    )

    result = CliRunner().invoke(main, ["readiness", "--account", str(central["id"])], env=_env(settings))

    assert result.exit_code == 1
    row = _rows(result.stdout)["@livuni"]
    assert row[4] == "failing"
    assert "no access_token in the vault" in row[5]


def test_readiness_no_check_prints_what_was_recorded_and_a_never_checked_central_account_fails(
    ctx: Context, settings: Settings, ermc: Login, manager: Login
) -> None:
    register_account(ctx, ermc.user, account_payload(manager.email, handle="@livuni", central=True))

    result = CliRunner().invoke(main, ["readiness", "--no-check"], env=_env(settings))

    assert result.exit_code == 1
    assert _rows(result.stdout)["@livuni"][4:] == ["unchecked", "", "never"]


def test_readiness_of_a_non_central_account_that_fails_exits_1_when_asked_for_alone(
    ctx: Context, settings: Settings, ermc: Login, manager: Login
) -> None:
    connector = {"kind": "mastodon", "base_url": "https://social.example"}
    account = register_account(ctx, ermc.user, account_payload(manager.email, platform="mastodon", connector=connector))
    register_account(ctx, ermc.user, account_payload(manager.email, handle="@livuni", central=True))

    alone = CliRunner().invoke(main, ["readiness", "--account", str(account["id"])], env=_env(settings))
    everyone = CliRunner().invoke(main, ["readiness"], env=_env(settings))

    assert alone.exit_code == 1
    assert everyone.exit_code == 0, everyone.output  # the central account is ready
