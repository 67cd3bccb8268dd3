"""An idle `lockdown serve --demo` writes nothing to its log after start-up (APScheduler's
per-run lines are off, and Lockdown's jobs log only when they did something); its start-up hint
names the address it really serves on, and its mail lands in an mbox a person can read."""

from __future__ import annotations

import mailbox
import os
import re
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from tests.conftest import LOCKDOWN, free_port

# The tick shortened tenfold, so the window sees about fifty dispatch ticks and five of the
# notification job (which runs at most once a second); measured by hand over a full minute at
# the default tick, see the README's "Logs".
IDLE_WINDOW_SECONDS = 5.0


class Demo:
    """A `lockdown serve --demo` on a free port in its own folder."""

    def __init__(self, folder: Path) -> None:
        self.port = free_port()
        self.folder = folder
        self.out, self.err = folder / "stdout.txt", folder / "stderr.txt"
        env = {key: value for key, value in os.environ.items() if not key.startswith("LOCKDOWN_")}
        env |= {"LOCKDOWN_DB": str(folder / "instance" / "lockdown.db"), "LOCKDOWN_TICK_SECONDS": "0.1"}
        with self.out.open("w") as out, self.err.open("w") as err:
            self.process = subprocess.Popen(
                [LOCKDOWN, "serve", "--demo", "--port", str(self.port)],
                cwd=folder,
                env=env,
                stdout=out,
                stderr=err,
            )
        self.base = f"http://127.0.0.1:{self.port}"

    def wait_until_serving(self) -> None:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            assert self.process.poll() is None, self.err.read_text()
            try:
                requests.get(f"{self.base}/healthz", timeout=2)
                return
            except requests.ConnectionError:
                time.sleep(0.1)
        raise AssertionError("the demo did not start: " + self.err.read_text())

    def log_lines(self) -> list[str]:
        return self.err.read_text().splitlines()

    def token(self, email_start: str) -> str:
        match = re.search(rf"^\s+\S+\s+{re.escape(email_start)}\S*\s+(ld_\S+)$", self.out.read_text(), re.M)
        assert match, self.out.read_text()
        return match.group(1)

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


@pytest.fixture
def demo(tmp_path: Path) -> Iterator[Demo]:
    running = Demo(tmp_path)
    try:
        running.wait_until_serving()
        yield running
    finally:
        running.stop()


def test_an_idle_demo_writes_nothing_to_its_log_after_start_up(demo: Demo) -> None:
    # Start-up has said its piece once /healthz answers; give the scheduler time to run every
    # job a few times before counting.
    time.sleep(1.0)
    after_start = demo.log_lines()

    time.sleep(IDLE_WINDOW_SECONDS)

    assert demo.log_lines() == after_start, "an idle service wrote to its log"
    assert len(after_start) <= 3, after_start  # the start line, waitress's, and nothing per run


def test_the_start_up_hint_names_the_real_address_and_the_demo_mbox(demo: Demo) -> None:
    printed = demo.out.read_text()
    assert f"Console: {demo.base}/ " in printed
    assert f"{demo.base}/api/v1/accounts" in printed
    assert "127.0.0.1:8080" not in printed
    assert f"Demo mail: notices are delivered to the mbox {demo.folder / 'instance' / 'demo-mail.mbox'}" in printed
    assert any(f"on {demo.base}/" in line for line in demo.log_lines())


def test_the_demo_delivers_its_notices_to_the_mbox_with_links_to_its_own_address(demo: Demo) -> None:
    response = requests.post(
        f"{demo.base}/api/v1/incidents",
        json={"title": "Fire in the library", "reason": "Reported 02:10"},
        headers={"Authorization": f"Bearer {demo.token('press.officer@')}"},
        timeout=60,
    )
    assert response.status_code == 201, response.text
    path = demo.folder / "instance" / "demo-mail.mbox"
    deadline = time.monotonic() + 30
    asked: list[str] = []
    while time.monotonic() < deadline and not asked:
        time.sleep(0.5)
        if path.exists():
            box = mailbox.mbox(path)
            try:
                asked = [
                    message.get_payload(decode=True).decode()
                    for message in box
                    if message["To"] == "press.deputy@demo.livuni.ac.uk" and "Approval needed" in message["Subject"]
                ]
            finally:
                box.close()
    assert asked, "the deputy's approval request did not reach the demo's mbox"
    assert f"{demo.base}/incidents/{response.json()['id']}/messages/" in asked[0]
