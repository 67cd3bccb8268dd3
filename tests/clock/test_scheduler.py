"""The scheduler as it runs: inside `lockdown serve`, and alone as `lockdown scheduler`."""

from __future__ import annotations

import os
import subprocess
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import requests

from tests.conftest import LOCKDOWN, SECRET, VAULT_KEY, free_port


def _wait_for(url: str, log: Path) -> None:
    for _ in range(150):
        try:
            requests.get(url, timeout=2)
            return
        except requests.ConnectionError:
            time.sleep(0.1)
    raise AssertionError("the server did not start: " + log.read_text())


def _users(env: dict[str, str]) -> dict[str, str]:
    tokens = {}
    for name, role in (("ruth", "ermc"), ("dan", "manager"), ("amira", "manager")):
        out = subprocess.run(
            [
                LOCKDOWN,
                "users",
                "add",
                name.title(),
                "--email",
                f"{name}@livuni.ac.uk",
                "--role",
                role,
            ],
            env=env,
            capture_output=True,
            text=True,
            check=True,
            timeout=60,
        )
        tokens[name] = out.stdout.strip()
    return tokens


def _schedule_soon(base: str, tokens: dict[str, str], seconds: float) -> tuple[int, str]:
    def auth(name: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {tokens[name]}"}

    account = requests.post(
        f"{base}/api/v1/accounts",
        json={
            "handle": "@livuni_news",
            "platform": "x",
            "unit": "ERMC",
            "purpose": "News",
            "monitored_hours": "24/7",
            "manager": "dan@livuni.ac.uk",
            "editors": ["amira@livuni.ac.uk"],
        },
        headers=auth("ruth"),
        timeout=10,
    ).json()
    when = (datetime.now(UTC) + timedelta(seconds=seconds)).isoformat()
    post = requests.post(
        f"{base}/api/v1/posts",
        json={
            "account_id": account["id"],
            "body": "Graduation week starts Monday",
            "scheduled_at": when,
        },
        headers=auth("amira"),
        timeout=10,
    ).json()
    approved = requests.post(f"{base}/api/v1/posts/{post['id']}/approve", headers=auth("dan"), timeout=10)
    assert approved.json()["state"] == "scheduled", approved.text
    return post["id"], tokens["dan"]


def _await_published(base: str, post_id: int, token: str) -> dict[str, Any]:
    for _ in range(600):
        post: dict[str, Any] = requests.get(
            f"{base}/api/v1/posts/{post_id}",
            headers={"Authorization": f"Bearer {token}"},
            timeout=10,
        ).json()
        # "publishing" is the moment between the claim and the platform's answer: not an outcome yet.
        if post["state"] not in ("scheduled", "publishing"):
            return post
        time.sleep(0.1)
    raise AssertionError(f"post {post_id} was not published: {post}")


def test_serve_runs_the_scheduler_and_publishes_an_approved_post_on_time(tmp_path: Path) -> None:
    env = {
        **os.environ,
        "LOCKDOWN_DB": str(tmp_path / "s.db"),
        "LOCKDOWN_SECRET_KEY": SECRET,
        "LOCKDOWN_VAULT_KEY": VAULT_KEY,
        "LOCKDOWN_TICK_SECONDS": "0.2",
    }
    tokens = _users(env)
    port = free_port()
    log_path = tmp_path / "serve.log"
    with log_path.open("w") as log:
        server = subprocess.Popen(
            [LOCKDOWN, "serve", "--port", str(port)], env=env, stdout=log, stderr=subprocess.STDOUT
        )
        try:
            base = f"http://127.0.0.1:{port}"
            _wait_for(f"{base}/healthz", log_path)
            post_id, token = _schedule_soon(base, tokens, seconds=2)
            post = _await_published(base, post_id, token)
            assert post["state"] == "published"
            assert post["remote_id"] == f"outbox-{post_id}"
            assert post["dispatched_at"] >= post["scheduled_at"]
            assert requests.get(f"{base}/healthz", timeout=5).json()["scheduler"]["last_tick"] is not None
        finally:
            server.terminate()
            server.wait(timeout=15)


def test_no_scheduler_serves_only_and_the_scheduler_command_publishes(tmp_path: Path) -> None:
    env = {
        **os.environ,
        "LOCKDOWN_DB": str(tmp_path / "s.db"),
        "LOCKDOWN_SECRET_KEY": SECRET,
        "LOCKDOWN_VAULT_KEY": VAULT_KEY,
        "LOCKDOWN_TICK_SECONDS": "0.2",
    }
    tokens = _users(env)
    port = free_port()
    log_path = tmp_path / "serve.log"
    with log_path.open("w") as log:
        web = subprocess.Popen(
            [LOCKDOWN, "serve", "--no-scheduler", "--port", str(port)],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        scheduler = None
        try:
            base = f"http://127.0.0.1:{port}"
            _wait_for(f"{base}/healthz", log_path)
            post_id, token = _schedule_soon(base, tokens, seconds=1)
            time.sleep(2)
            headers = {"Authorization": f"Bearer {token}"}
            assert (
                requests.get(f"{base}/api/v1/posts/{post_id}", headers=headers, timeout=5).json()["state"]
                == "scheduled"
            )
            scheduler = subprocess.Popen([LOCKDOWN, "scheduler"], env=env, stdout=log, stderr=subprocess.STDOUT)
            assert _await_published(base, post_id, token)["state"] == "published"
        finally:
            for process in (web, scheduler):
                if process is not None:
                    process.terminate()
                    process.wait(timeout=15)
