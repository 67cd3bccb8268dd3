"""Sign-in under attack, through the console's form: an authenticator code works once and failed
attempts are counted exactly, even when sent in parallel (real threads on a real SQLite file);
a stranger slows a person's sign-in down but cannot lock them out."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from werkzeug.test import TestResponse

from tests.console.console_kit import MANAGER, PRESS, MovedClock, Send, Site, make_site, sign_in_form

START = datetime(2026, 11, 24, 2, 0, 10, tzinfo=UTC)
# Far enough apart that each round has a fresh authenticator code and none of the round before's
# failures in its 15-minute window.
NEXT_ROUND = timedelta(minutes=16)


@pytest.fixture
def clock() -> MovedClock:
    return MovedClock(START)


@pytest.fixture
def site(tmp_path: Path, clock: MovedClock) -> Iterator[Site]:
    yield from make_site(tmp_path, clock=clock)


def all_at_once(sends: list[Send]) -> list[int]:
    """Send every prepared form at the same moment, one thread each; the statuses in order."""
    barrier = threading.Barrier(len(sends))

    def send(one: Send) -> int:
        barrier.wait()
        return one().status_code

    with ThreadPoolExecutor(max_workers=len(sends)) as pool:
        return list(pool.map(send, sends))


def test_one_authenticator_code_signs_in_once_however_many_send_it_at_once(site: Site, clock: MovedClock) -> None:
    signed_in = []
    for round_ in range(5):
        clock.now += NEXT_ROUND
        code = site.totp[PRESS].at(clock.now)
        statuses = all_at_once(
            [sign_in_form(site.app, PRESS, code=code, address=f"10.6.{round_}.{n}") for n in range(6)]
        )
        signed_in.append(statuses.count(302))
    assert signed_in == [1] * 5


def test_forty_parallel_wrong_passwords_are_checked_five_times_whatever_the_emails_case_or_spacing(
    site: Site, clock: MovedClock
) -> None:
    spellings = ["dan@livuni.ac.uk", "Dan@LivUni.ac.uk", " dan@livuni.ac.uk ", "DAN@LIVUNI.AC.UK\t"]
    checked = []
    for _ in range(2):
        clock.now += NEXT_ROUND
        statuses = all_at_once(
            [sign_in_form(site.app, spellings[n % 4], password=f"guess {n}", address="198.51.100.7") for n in range(40)]
        )
        assert set(statuses) <= {401, 429}
        checked.append(statuses.count(401))
    assert checked == [5, 5]
    failures = site.ctx.db.conn.execute("SELECT COUNT(*) FROM audit_log WHERE action = 'user.sign_in_failed'")
    assert failures.fetchone()[0] == 10, "each checked guess is audited"


def retry_after(response: TestResponse) -> int:
    assert response.status_code == 429, response.get_data(as_text=True)
    seconds = int(response.headers["Retry-After"])
    assert 0 < seconds <= 60, "a delay, not a lock-out"
    return seconds


def test_a_stranger_slows_a_person_down_but_cannot_lock_them_out(site: Site, clock: MovedClock) -> None:
    assert sign_in_form(site.app, MANAGER, address="10.7.0.1")().status_code == 302  # Dan's desk
    # A stranger guessing from four addresses, each until it is stopped, waiting whenever told to
    # wait a minute or less.
    checked = 0
    for address in ("203.0.113.1", "203.0.113.2", "203.0.113.3", "203.0.113.4"):
        for _ in range(50):
            response = sign_in_form(site.app, MANAGER, password="a guess", address=address)()
            checked += response.status_code == 401
            wait = int(response.headers.get("Retry-After", 901)) if response.status_code == 429 else 0
            if wait > 60:
                break
            clock.now += timedelta(seconds=wait)
    assert checked == 20, "each of the stranger's addresses is checked five times, then stopped"
    # Dan at his desk is not delayed by the stranger's failures.
    assert sign_in_form(site.app, MANAGER, address="10.7.0.1")().status_code == 302
    # On his phone, from an address he never signed in from, he waits a minute at most; then he is in.
    phone = sign_in_form(site.app, MANAGER, address="10.7.9.9")()
    clock.now += timedelta(seconds=retry_after(phone))
    assert sign_in_form(site.app, MANAGER, address="10.7.9.9")().status_code == 302


def test_five_wrong_passwords_from_one_address_stop_that_address_for_that_email(site: Site) -> None:
    statuses = [
        sign_in_form(site.app, MANAGER, password="not it", address="198.51.100.8")().status_code for _ in range(6)
    ]
    assert statuses == [401] * 5 + [429]
    refused = sign_in_form(site.app, MANAGER, address="198.51.100.8")()
    assert refused.status_code == 429
    assert "Too many failed sign-ins" in refused.get_data(as_text=True)
    assert int(refused.headers["Retry-After"]) > 60, "the address waits out the window"


def test_a_flood_of_failures_for_one_email_still_answers_with_a_wait_not_a_server_error(
    site: Site, clock: MovedClock
) -> None:
    # Sixty failures from sixty addresses: the doubling delay must stop at its cap, not overflow.
    stamp = clock.now.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    site.ctx.db.conn.executemany(
        "INSERT INTO sign_in_attempts (email, address, at, ok) VALUES (?, ?, ?, 0)",
        [(MANAGER, f"198.51.100.{n}", stamp) for n in range(60)],
    )
    site.ctx.db.conn.commit()
    refused = sign_in_form(site.app, MANAGER, password="a guess", address="203.0.113.77")()
    assert refused.status_code == 429, refused.get_data(as_text=True)[:200]
    assert 0 < int(refused.headers["Retry-After"]) <= 60
