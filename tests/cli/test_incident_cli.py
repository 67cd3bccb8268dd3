"""The incident commands and playbook checks, through CliRunner."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from lockdown.cli import main
from lockdown.incidents.playbooks import check_playbooks
from lockdown.settings import DEFAULT_PLAYBOOKS, Settings, SettingsError
from tests.conftest import SECRET


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    return {"LOCKDOWN_DB": str(tmp_path / "cli.db"), "LOCKDOWN_SECRET_KEY": SECRET}


def test_declare_status_incidents_and_resolve(env: dict[str, str]) -> None:
    runner = CliRunner()
    for name, role in (("priya", "press"), ("tom", "press"), ("ruth", "ermc"), ("dan", "manager")):
        runner.invoke(main, ["users", "add", name, "--email", f"{name}@livuni.ac.uk", "--role", role], env=env)
    from lockdown.people.users import user_by_email
    from lockdown.register.accounts import register_account
    from lockdown.store import audit
    from lockdown.store.context import Context
    from lockdown.store.db import connect

    db = connect(env["LOCKDOWN_DB"])
    ctx = Context(db, audit.audit_key(SECRET.encode()))
    ruth = user_by_email(db, "ruth@livuni.ac.uk")
    for handle, central in (("@livuni", True), ("@livuni_chem", False)):
        register_account(
            ctx, ruth,
            {"handle": handle, "platform": "x", "unit": "U", "purpose": "P", "monitored_hours": "24/7",
             "manager": "dan@livuni.ac.uk", "central": central},
        )  # fmt: skip
    db.close()
    refused = runner.invoke(main, ["declare", "--title", "T", "--reason", "R", "--as", "ruth@livuni.ac.uk"], env=env)
    assert refused.exit_code == 1
    assert "press" in refused.output
    declared = runner.invoke(
        main, ["declare", "--title", "Fire", "--reason", "Reported", "--as", "priya@livuni.ac.uk"], env=env
    )
    assert declared.exit_code == 0, declared.output
    incident = declared.stdout.strip().splitlines()[0]
    assert "2 accounts held" in declared.output
    status = runner.invoke(main, ["status", "--manager", "dan@livuni.ac.uk"], env=env)
    assert status.stdout.count("HELD") == 2
    assert "2 of 2 accounts held" in status.output
    listed = runner.invoke(main, ["incidents"], env=env).stdout
    assert listed.startswith(f"{incident}\tactive\tlive-incident")
    resolved = runner.invoke(
        main, ["resolve", incident, "--policy", "skip"], env={**env, "LOCKDOWN_USER": "tom@livuni.ac.uk"}
    )
    assert resolved.exit_code == 0, resolved.output
    assert "2 accounts released" in resolved.stdout
    assert runner.invoke(main, ["incidents"], env=env).stdout.strip() == "no active incidents"
    assert runner.invoke(main, ["status", "--held"], env=env).stdout.count("HELD") == 0


def test_playbooks_check_passes_on_the_shipped_playbooks(env: dict[str, str]) -> None:
    result = CliRunner().invoke(main, ["playbooks", "check"], env=env)
    assert result.exit_code == 0, result.output
    assert "live-incident\tall\tresume=review" in result.stdout


@pytest.mark.parametrize(
    ("change", "file", "field"),
    [
        (('accounts = "all"', 'accounts = "everything"'), "live-incident.toml", "scope.accounts"),
        (('policy = "review"', 'policy = "later"'), "live-incident.toml", "resume.policy"),
        (("{central_handle}", "{secret_reason}"), "live-incident.toml", "templates.holding_statement"),
        (('name = "live-incident"', 'name = "other"'), "live-incident.toml", "name"),
        (('tag = "drill"', ""), "exercise.toml", "scope.tag"),
        (('category = "Safety"', 'category = "Police"'), "live-incident.toml", "cap.category"),
        (('urgency = "Immediate"', 'urgency = "Now"'), "live-incident.toml", "cap.urgency"),
        (('severity = "Severe"', 'severity = "severe"'), "live-incident.toml", "cap.severity"),
        (('certainty = "Observed"', "certainty = 3"), "live-incident.toml", "cap.certainty"),
        (('event = "Campus incident"', 'event = " "'), "live-incident.toml", "cap.event"),
    ],
)
def test_a_bad_playbook_is_named_by_file_and_field(
    tmp_path: Path, env: dict[str, str], change: tuple[str, str], file: str, field: str
) -> None:
    folder = tmp_path / "playbooks"
    shutil.copytree(DEFAULT_PLAYBOOKS, folder)
    path = folder / file
    text = path.read_text()
    assert change[0] in text
    path.write_text(text.replace(change[0], change[1], 1))
    problems = check_playbooks(folder)
    assert len(problems) == 1
    assert problems[0].startswith(f"{file}: {field}")
    result = CliRunner().invoke(main, ["playbooks", "check"], env={**env, "LOCKDOWN_PLAYBOOKS": str(folder)})
    assert result.exit_code == 1
    assert f"{file}: {field}" in result.output
    from lockdown.app import create_app

    with pytest.raises(SettingsError, match=field):
        create_app(Settings.from_env({**env, "LOCKDOWN_PLAYBOOKS": str(folder)}))


def test_a_playbook_without_a_cap_table_gets_cap_defaults(tmp_path: Path) -> None:
    from lockdown.incidents.playbooks import CapInfo, parse_playbook

    path = tmp_path / "live-incident.toml"
    text = (DEFAULT_PLAYBOOKS / "live-incident.toml").read_text()
    path.write_text(text[: text.index("[cap]")] + text[text.index("[templates]") :])
    assert parse_playbook(path).cap == CapInfo(
        category="Safety", event="Live incident", urgency="Unknown", severity="Unknown", certainty="Unknown"
    )


def test_the_default_playbook_must_exist(tmp_path: Path) -> None:
    folder = tmp_path / "playbooks"
    folder.mkdir()
    shutil.copy(DEFAULT_PLAYBOOKS / "exercise.toml", folder)
    assert any("live-incident.toml" in problem for problem in check_playbooks(folder))
    shipped = {p.name for p in DEFAULT_PLAYBOOKS.glob("*.toml")}
    assert shipped == {
        "live-incident.toml",
        "compromised-account.toml",
        "severe-weather.toml",
        "exercise.toml",
        "standby-promotion.toml",
    }


def test_a_promotion_playbook_that_would_not_hold_every_account_is_refused(tmp_path: Path) -> None:
    folder = tmp_path / "playbooks"
    folder.mkdir()
    shutil.copy(DEFAULT_PLAYBOOKS / "live-incident.toml", folder)
    text = (DEFAULT_PLAYBOOKS / "standby-promotion.toml").read_text()
    (folder / "standby-promotion.toml").write_text(text.replace("hold_central = true", "hold_central = false"))
    assert any("standby-promotion.toml: scope.accounts must be 'all'" in p for p in check_playbooks(folder))


def test_a_declaration_that_cannot_get_the_write_lock_says_to_try_again(env: dict[str, str]) -> None:
    from tests.api.test_busy_database import write_lock

    runner = CliRunner()
    runner.invoke(main, ["users", "add", "priya", "--email", "priya@livuni.ac.uk", "--role", "press"], env=env)
    impatient = {**env, "LOCKDOWN_BUSY_TIMEOUT": "0.2", "LOCKDOWN_INCIDENT_BUSY_RETRY": "0"}
    with write_lock(Path(env["LOCKDOWN_DB"])):
        result = runner.invoke(
            main, ["declare", "--title", "F", "--reason", "R", "--as", "priya@livuni.ac.uk"], env=impatient
        )
    assert result.exit_code == 1
    assert "busy" in result.output
    assert "try again" in result.output
