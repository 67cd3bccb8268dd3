"""The sign-in form after a mistake: the email stays, the wrong field is named, and a forgotten
authenticator code is asked for (not counted against the person) without telling a stranger
anything a wrong password would not."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.console.console_kit import MANAGER, PRESS, Site, make_site, sign_in_form

UNKNOWN = "nobody@livuni.ac.uk"


@pytest.fixture
def site(tmp_path: Path) -> Iterator[Site]:
    yield from make_site(tmp_path)


def alerts(page: str) -> list[str]:
    """The text of every alert on the page, tags stripped."""
    return [re.sub(r"<[^>]+>", "", found).strip() for found in re.findall(r'role="alert"[^>]*>(.*?)</p>', page)]


def invalid_fields(page: str) -> set[str]:
    return set(re.findall(r'<input id="([a-z]+)"[^>]*aria-invalid="true"', page))


def failures(site: Site) -> int:
    return int(site.ctx.db.conn.execute("SELECT COUNT(*) FROM sign_in_attempts WHERE ok = 0").fetchone()[0])


def test_a_wrong_password_keeps_the_email_and_says_email_or_password(site: Site) -> None:
    answer = sign_in_form(site.app, MANAGER, password="not the password")()
    page = answer.get_data(as_text=True)
    assert answer.status_code == 401
    assert alerts(page) == ["The email or password is wrong"]
    assert f'value="{MANAGER}"' in page, "the email is kept"
    assert "not the password" not in page, "the password never comes back"
    assert invalid_fields(page) == {"email", "password"}


def test_an_unknown_email_gets_exactly_the_wrong_password_page(site: Site) -> None:
    wrong_password = sign_in_form(site.app, MANAGER, password="not the password")().get_data(as_text=True)
    unknown = sign_in_form(site.app, UNKNOWN, password="not the password")().get_data(as_text=True)

    def without_email_and_token(page: str) -> str:
        return re.sub(r'value="[^"]*"', "", page)

    assert without_email_and_token(unknown) == without_email_and_token(wrong_password)


def test_a_blank_code_asks_for_it_by_name_keeps_the_email_and_is_not_counted(site: Site) -> None:
    for _ in range(8):  # more than any limit allows failures
        answer = sign_in_form(site.app, PRESS, code="")()
        page = answer.get_data(as_text=True)
        assert answer.status_code == 401
        assert alerts(page) == ["Error: Enter the 6-digit code from your authenticator app"]
        assert invalid_fields(page) == {"code"}
        assert f'value="{PRESS}"' in page
    assert failures(site) == 0
    known = site.ctx.db.conn.execute("SELECT COUNT(*) FROM sign_in_attempts WHERE ok = 1").fetchone()[0]
    assert known == 0, "a blank code is no success: its address must not become one the person signs in from"
    assert sign_in_form(site.app, PRESS, code=site.totp[PRESS].now())().status_code == 302


def test_a_wrong_code_names_the_code_field_and_counts(site: Site) -> None:
    code = site.totp[PRESS].now()
    wrong = "000000" if code != "000000" else "111111"
    page = sign_in_form(site.app, PRESS, code=wrong)().get_data(as_text=True)
    assert alerts(page) == ["Error: The authenticator code is wrong or was used already"]
    assert invalid_fields(page) == {"code"}
    assert failures(site) == 1


def test_a_blank_code_with_a_wrong_password_says_only_email_or_password_and_counts(site: Site) -> None:
    # Asked for the code only once the password is right: otherwise a stranger could learn who
    # is press or ERMC, or try passwords for free by leaving the code out.
    for email in (PRESS, UNKNOWN):
        page = sign_in_form(site.app, email, password="not the password", code="")().get_data(as_text=True)
        assert alerts(page) == ["The email or password is wrong"]
    assert failures(site) == 2
    statuses = [sign_in_form(site.app, PRESS, password="guess", code="")().status_code for _ in range(5)]
    assert statuses == [401, 401, 401, 401, 429], "blank codes do not make password guesses free"


def test_a_manager_needs_no_code(site: Site) -> None:
    assert sign_in_form(site.app, MANAGER, code="")().status_code == 302
