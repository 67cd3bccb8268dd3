"""A manager's accounts, one line each: the hold and the platform first, held accounts on top,
counts worded for 0, 1 and many; no Acknowledge once an incident is resolved."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from lockdown.console.wording import plural
from lockdown.timeutil import to_iso
from tests.console.console_kit import ERMC, MANAGER, PRESS, MovedClock, Site, form_post, make_site, signed_in

START = datetime(2026, 11, 29, 1, 0, tzinfo=UTC)


@pytest.fixture
def clock() -> MovedClock:
    return MovedClock(START)


@pytest.fixture
def site(tmp_path: Path, clock: MovedClock) -> Iterator[Site]:
    yield from make_site(tmp_path, clock=clock)


def api(site: Site, who: str, path: str, **body: Any) -> Any:
    answer = site.app.test_client().post(path, json=body, headers={"Authorization": f"Bearer {site.tokens[who]}"})
    return answer


def scheduled(site: Site, handle: str, *hours: float) -> None:
    """Approved posts on the account, due that many hours from now."""
    account_id = site.ctx.db.conn.execute("SELECT id FROM accounts WHERE handle = ?", [handle]).fetchone()[0]
    for n, hour in enumerate(hours):
        when = to_iso(site.clock() + timedelta(hours=hour))
        post = api(
            site,
            MANAGER,
            "/api/v1/posts",
            account_id=account_id,
            body=f"Post number {n + 1} on {handle}",
            scheduled_at=when,
        )
        assert post.status_code == 201, post.json
        assert api(site, ERMC, f"/api/v1/posts/{post.json['id']}/approve").status_code == 200


def declare(site: Site, **body: Any) -> int:
    answer = api(site, PRESS, "/api/v1/incidents", title="Fire", reason="R", **body)
    assert answer.status_code == 201, answer.json
    return int(answer.json["id"])


def lines(page: str) -> list[str]:
    """Each account's line as it reads (the summary's words only, not what it opens)."""
    rows = page.split('<ul class="rows"', 1)[1].split('<li class="row')[1:]
    shown = []
    for row in rows:
        row = re.sub(r'<span class="visually-hidden">.*?</span>', "", row)
        row = re.sub(r"</summary>.*?</details>", "", row, flags=re.S)
        shown.append(" ".join(re.sub(r"<[^>]+>", " ", row.split(">", 1)[1]).split()))
    return shown


def test_each_account_is_one_line_held_first_with_the_platform_named(site: Site, clock: MovedClock) -> None:
    scheduled(site, "@livuni_chem", 0.5, 1.5, 2.5, 30)
    scheduled(site, "@livuni", 0.5)
    declare(site, playbook="compromised-account", account_id=2)
    clock.now += timedelta(hours=2)
    page = signed_in(site, MANAGER).get("/my-accounts").get_data(as_text=True)
    assert lines(page) == [
        "HELD · X · @livuni_chem 4 posts waiting",
        "Posting · X · @livuni — 1 post scheduled",
        "Posting · X · @livuni_phys — nothing scheduled",
    ]
    assert "2 posts fell due during the hold and wait. 2 later posts will wait too while the hold lasts." in " ".join(
        page.split()
    )
    assert "Waiting on X · @livuni_chem:" in page, "the held posts name the platform: handles repeat across them"


@pytest.mark.parametrize(
    ("due", "sentence"),
    [
        ((), "No posts fell due during the hold."),
        ((0.5,), "1 post fell due during the hold and waits."),
        ((0.5, 1, 1.5), "3 posts fell due during the hold and wait."),
    ],
)
def test_the_sentences_read_for_none_one_and_many(
    site: Site, clock: MovedClock, due: tuple[float, ...], sentence: str
) -> None:
    scheduled(site, "@livuni_phys", *due)
    declare(site)
    clock.now += timedelta(hours=2)
    page = " ".join(signed_in(site, MANAGER).get("/my-accounts").get_data(as_text=True).split())
    assert sentence in page
    assert "later post" not in page, "no sentence about later posts when there are none"
    assert " 0 " not in re.sub(r"<[^>]+>", " ", page), "no count of zero"


def test_acknowledge_is_not_offered_on_a_resolved_incident_and_is_refused(site: Site) -> None:
    incident = declare(site)
    dan = signed_in(site, MANAGER)
    page = dan.get("/my-accounts").get_data(as_text=True)
    assert f"Acknowledge incident {incident}</button>" in page
    assert api(site, PRESS, f"/api/v1/incidents/{incident}/resolve").status_code == 200
    page = dan.get("/my-accounts").get_data(as_text=True)
    assert "Acknowledge" not in page
    refused = form_post(dan, "/my-accounts", f"/incidents/{incident}/ack", {})
    assert refused.status_code == 409
    assert "nothing left to acknowledge" in refused.get_data(as_text=True)
    by_api = api(site, MANAGER, f"/api/v1/incidents/{incident}/ack")
    assert by_api.status_code == 409
    assert by_api.json["error"]["code"] == "conflict"
    assert site.ctx.db.conn.execute("SELECT COUNT(*) FROM acknowledgements").fetchone()[0] == 0


def test_an_acknowledgement_made_before_the_all_clear_is_still_answered_after_it(site: Site) -> None:
    incident = declare(site)
    first = api(site, MANAGER, f"/api/v1/incidents/{incident}/ack")
    assert first.status_code == 200
    api(site, PRESS, f"/api/v1/incidents/{incident}/resolve")
    again = api(site, MANAGER, f"/api/v1/incidents/{incident}/ack")
    assert (again.status_code, again.json["acknowledged_at"]) == (200, first.json["acknowledged_at"])


@pytest.mark.parametrize(
    ("count", "words", "said"),
    [
        (0, ("post",), "0 posts"),
        (1, ("post",), "1 post"),
        (3, ("post",), "3 posts"),
        (1, ("waits", "wait"), "1 waits"),
        (2, ("person", "people"), "2 people"),
    ],
)
def test_plural_agrees_with_the_count(count: int, words: tuple[str, ...], said: str) -> None:
    assert plural(count, *words) == said


def test_plural_words_zero_and_gives_a_verb_alone() -> None:
    assert plural(0, "post", none="No posts") == "No posts"
    assert plural(1, "post", none="No posts") == "1 post"
    assert plural(1, "waits", "wait", number=False) == "waits"
    assert plural(4, "waits", "wait", number=False) == "wait"
