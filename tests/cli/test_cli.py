"""The CLI through CliRunner, and as a real subprocess against a real database and server."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import time
from pathlib import Path

import pytest
import requests
from click.testing import CliRunner

from lockdown.cli import main
from tests.conftest import LOCKDOWN, SECRET, VAULT_KEY, free_port


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    return {"LOCKDOWN_DB": str(tmp_path / "cli.db"), "LOCKDOWN_SECRET_KEY": SECRET, "LOCKDOWN_VAULT_KEY": VAULT_KEY}


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


def test_init_creates_and_then_reports_an_up_to_date_database(runner: CliRunner, env: dict[str, str]) -> None:
    first = runner.invoke(main, ["init"], env=env)
    assert first.exit_code == 0, first.output
    assert "applied m001_users" in first.output
    again = runner.invoke(main, ["init"], env=env)
    assert "up to date" in again.output
    mode = sqlite3.connect(env["LOCKDOWN_DB"]).execute("PRAGMA journal_mode").fetchone()[0]
    assert mode == "wal"


def test_users_add_prints_only_the_token(runner: CliRunner, env: dict[str, str]) -> None:
    result = runner.invoke(
        main,
        [
            "users",
            "add",
            "Priya Shah",
            "--email",
            "Priya@LivUni.ac.uk",
            "--role",
            "press",
            "--role",
            "ermc",
        ],
        env=env,
    )
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("ld_")
    listed = runner.invoke(main, ["users", "list"], env=env).stdout
    assert "priya@livuni.ac.uk\tPriya Shah\termc,press\tactive" in listed
    stored = sqlite3.connect(env["LOCKDOWN_DB"]).execute("SELECT token_hash FROM users").fetchone()[0]
    assert lines[0] not in stored
    assert len(stored) == 64


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["users", "add", "X", "--email", "not-an-email", "--role", "press"], "not an email"),
        (["users", "add", "X", "--email", "x@livuni.ac.uk", "--role", "admin"], "admin"),
        (["users", "add", "X", "--email", "x@livuni.ac.uk"], "--role"),
        (["users", "disable", "nobody@livuni.ac.uk"], "no user"),
    ],
)
def test_bad_user_commands_fail_with_a_message(
    runner: CliRunner, env: dict[str, str], args: list[str], message: str
) -> None:
    result = runner.invoke(main, args, env=env)
    assert result.exit_code != 0
    assert message in result.output


def test_a_duplicate_user_is_refused(runner: CliRunner, env: dict[str, str]) -> None:
    args = ["users", "add", "X", "--email", "x@livuni.ac.uk", "--role", "press"]
    runner.invoke(main, args, env=env)
    result = runner.invoke(main, args, env=env)
    assert result.exit_code == 1
    assert "exists already" in result.output


def test_disabling_a_user_stops_their_token(runner: CliRunner, env: dict[str, str], tmp_path: Path) -> None:
    from lockdown.app import create_app
    from lockdown.settings import Settings

    token = runner.invoke(
        main, ["users", "add", "X", "--email", "x@livuni.ac.uk", "--role", "ermc"], env=env
    ).stdout.strip()
    client = create_app(Settings.from_env(env)).test_client()
    assert client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"}).status_code == 200
    assert runner.invoke(main, ["users", "disable", "x@livuni.ac.uk"], env=env).exit_code == 0
    assert client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"}).status_code == 401
    assert "disabled" in runner.invoke(main, ["users", "list"], env=env).stdout


def test_a_new_token_replaces_the_old(runner: CliRunner, env: dict[str, str]) -> None:
    from lockdown.app import create_app
    from lockdown.settings import Settings

    old = runner.invoke(
        main, ["users", "add", "X", "--email", "x@livuni.ac.uk", "--role", "ermc"], env=env
    ).stdout.strip()
    new = runner.invoke(main, ["users", "token", "x@livuni.ac.uk"], env=env).stdout.strip()
    client = create_app(Settings.from_env(env)).test_client()
    assert client.get("/api/v1/me", headers={"Authorization": f"Bearer {old}"}).status_code == 401
    assert client.get("/api/v1/me", headers={"Authorization": f"Bearer {new}"}).status_code == 200


def test_commands_refuse_to_run_without_a_secret_key(runner: CliRunner, tmp_path: Path) -> None:
    result = runner.invoke(
        main,
        ["users", "list"],
        env={"LOCKDOWN_DB": str(tmp_path / "x.db"), "LOCKDOWN_SECRET_KEY": ""},
    )
    assert result.exit_code == 1
    assert "LOCKDOWN_SECRET_KEY" in result.output


def test_a_bad_setting_is_named(runner: CliRunner, env: dict[str, str]) -> None:
    result = runner.invoke(main, ["users", "list"], env={**env, "LOCKDOWN_TICK_SECONDS": "soon"})
    assert result.exit_code == 1
    assert "LOCKDOWN_TICK_SECONDS" in result.output


def test_audit_verify_and_head(runner: CliRunner, env: dict[str, str]) -> None:
    runner.invoke(main, ["users", "add", "X", "--email", "x@livuni.ac.uk", "--role", "ermc"], env=env)
    head = runner.invoke(main, ["audit", "head"], env=env).stdout.strip()
    assert len(head) == 64
    ok = runner.invoke(main, ["audit", "verify", "--expect-head", head], env=env)
    assert ok.exit_code == 0
    assert head in ok.stdout
    with sqlite3.connect(env["LOCKDOWN_DB"]) as conn:
        conn.execute("DROP TRIGGER audit_log_no_update")
        conn.execute("UPDATE audit_log SET actor = 'mallory'")
    bad = runner.invoke(main, ["audit", "verify"], env=env)
    assert bad.exit_code == 1
    assert "entry 1" in bad.output


def test_the_audit_key_comes_from_the_settings_not_the_database(runner: CliRunner, env: dict[str, str]) -> None:
    runner.invoke(main, ["users", "add", "X", "--email", "x@livuni.ac.uk", "--role", "ermc"], env=env)
    other_key = {**env, "LOCKDOWN_SECRET_KEY": "another-installation-key-0123456789abcdef"}
    assert runner.invoke(main, ["audit", "verify"], env=other_key).exit_code == 1


def test_demo_seeds_a_register_and_prints_working_tokens(runner: CliRunner, tmp_path: Path) -> None:
    env = {"LOCKDOWN_DB": str(tmp_path / "demo" / "lockdown.db"), "LOCKDOWN_SECRET_KEY": ""}
    result = runner.invoke(main, ["demo"], env=env)
    assert result.exit_code == 0, result.output
    key_file = tmp_path / "demo" / "demo-secret.key"
    assert oct(key_file.stat().st_mode & 0o777) == "0o600"
    tokens = [word for word in result.stdout.split() if word.startswith("ld_")]
    assert len(tokens) >= 5
    conn = sqlite3.connect(env["LOCKDOWN_DB"])
    accounts, central, platforms = conn.execute(
        "SELECT COUNT(*), SUM(central), COUNT(DISTINCT platform) FROM accounts"
    ).fetchone()
    assert 240 <= accounts <= 260
    assert central >= 5
    assert platforms >= 6
    # A second start issues fresh tokens and does not seed twice.
    again = runner.invoke(main, ["demo"], env=env)
    assert conn.execute("SELECT COUNT(*) FROM accounts").fetchone()[0] == accounts
    assert set(tokens).isdisjoint(word for word in again.stdout.split() if word.startswith("ld_"))


def test_the_installed_command_against_a_real_database_and_a_running_server(tmp_path: Path) -> None:
    env = {
        **os.environ,
        "LOCKDOWN_DB": str(tmp_path / "real.db"),
        "LOCKDOWN_SECRET_KEY": SECRET,
        "LOCKDOWN_VAULT_KEY": VAULT_KEY,
    }
    run = subprocess.run(
        [LOCKDOWN, "users", "add", "Ruth", "--email", "ruth@livuni.ac.uk", "--role", "ermc"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    token = run.stdout.strip()
    subprocess.run(
        [LOCKDOWN, "users", "add", "Dan", "--email", "dan@livuni.ac.uk", "--role", "manager"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    port = free_port()
    log = (tmp_path / "serve.log").open("w")
    server = subprocess.Popen([LOCKDOWN, "serve", "--port", str(port)], env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        base = f"http://127.0.0.1:{port}"
        for _ in range(100):
            try:
                health = requests.get(f"{base}/healthz", timeout=2)
                break
            except requests.ConnectionError:
                time.sleep(0.1)
        else:
            pytest.fail("the server did not start: " + (tmp_path / "serve.log").read_text())
        assert health.json()["ok"] is True
        assert "waitress" in health.headers.get("Server", "")
        headers = {"Authorization": f"Bearer {token}"}
        created = requests.post(
            f"{base}/api/v1/accounts",
            json={
                "handle": "@livuni_news",
                "platform": "x",
                "unit": "ERMC",
                "purpose": "News",
                "monitored_hours": "24/7",
                "manager": "dan@livuni.ac.uk",
                "central": True,
            },
            headers=headers,
            timeout=10,
        )
        assert created.status_code == 201, created.text
        listed = requests.get(f"{base}/api/v1/accounts", headers=headers, timeout=10).json()
        assert [a["handle"] for a in listed["items"]] == ["@livuni_news"]
        assert requests.get(f"{base}/openapi.json", timeout=10).json()["openapi"].startswith("3.")
    finally:
        server.terminate()
        server.wait(timeout=10)
        log.close()
    verify = subprocess.run([LOCKDOWN, "audit", "verify"], env=env, capture_output=True, text=True, timeout=60)
    assert verify.returncode == 0, verify.stderr
    assert "3 entries" in verify.stdout


def test_posts_import_list_and_resolving_an_unknown_post(
    runner: CliRunner, env: dict[str, str], tmp_path: Path
) -> None:
    from datetime import UTC, datetime, timedelta

    from lockdown.store import audit
    from lockdown.store.context import Context
    from lockdown.store.db import connect

    for name, role in (("ruth", "ermc"), ("dan", "manager"), ("amira", "manager")):
        runner.invoke(main, ["users", "add", name, "--email", f"{name}@livuni.ac.uk", "--role", role], env=env)
    db = connect(env["LOCKDOWN_DB"])
    ctx = Context(db, audit.audit_key(SECRET.encode()))
    from lockdown.people.users import user_by_email
    from lockdown.register.accounts import register_account

    ruth = user_by_email(db, "ruth@livuni.ac.uk")
    account = register_account(
        ctx,
        ruth,
        {
            "handle": "@livuni_a",
            "platform": "x",
            "unit": "U",
            "purpose": "P",
            "monitored_hours": "24/7",
            "manager": "dan@livuni.ac.uk",
            "editors": ["amira@livuni.ac.uk"],
        },
    )
    soon = (datetime.now(UTC) + timedelta(days=1)).isoformat()
    csv_file = tmp_path / "posts.csv"
    csv_file.write_text(f"account_id,body,scheduled_at\n{account['id']},First,{soon}\n{account['id']},Second,{soon}\n")
    imported = runner.invoke(main, ["posts", "import", str(csv_file), "--as", "amira@livuni.ac.uk"], env=env)
    assert imported.exit_code == 0, imported.output
    batch = imported.stdout.strip()
    assert len(batch) == 32
    listed = runner.invoke(main, ["posts", "list", "--state", "pending_review"], env=env).stdout.splitlines()
    assert [line.split("\t")[1] for line in listed] == ["pending_review", "pending_review"]
    bad = tmp_path / "bad.csv"
    bad.write_text(f"account_id,body,scheduled_at\n{account['id']},Late,2020-01-01T00:00:00Z\n")
    refused = runner.invoke(main, ["posts", "import", str(bad), "--as", "amira@livuni.ac.uk"], env=env)
    assert refused.exit_code == 1
    assert "line 2, scheduled_at" in refused.output
    post_id = int(listed[0].split("\t")[0])
    db.execute("UPDATE posts SET state = 'unknown' WHERE id = ?", [post_id])
    marked = runner.invoke(
        main,
        [
            "posts",
            "mark-published",
            str(post_id),
            "--remote-id",
            "1850",
            "--as",
            "dan@livuni.ac.uk",
        ],
        env=env,
    )
    assert marked.exit_code == 0, marked.output
    assert "published (1850)" in marked.stdout
    other = int(listed[1].split("\t")[0])
    db.execute("UPDATE posts SET state = 'needs_review' WHERE id = ?", [other])
    later = (datetime.now(UTC) + timedelta(days=2)).isoformat()
    moved = runner.invoke(
        main,
        ["posts", "reschedule", str(other), "--at", later, "--as", "dan@livuni.ac.uk"],
        env=env,
    )
    assert moved.exit_code == 0, moved.output
    assert "scheduled" in moved.stdout
    db.close()
