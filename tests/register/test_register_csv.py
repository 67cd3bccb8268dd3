"""CSV import (all or nothing, errors by line and field) and export (formula-safe)."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from typing import Any

import pytest
from flask.testing import FlaskClient

from lockdown.csv_io import neutralise
from tests.conftest import Login, count_rows

HEADER = "handle,platform,unit,purpose,monitored_hours,manager,editors,central,connector,naming_exception\n"


def upload(client: FlaskClient, login: Login, text: str | bytes) -> Any:
    data = text.encode() if isinstance(text, str) else text
    return client.post("/api/v1/accounts/import", data=data, content_type="text/csv", headers=login.headers)


def row(manager: str, handle: str, **cells: str) -> str:
    values = {
        "handle": handle,
        "platform": "x",
        "unit": "Chemistry",
        "purpose": "News",
        "monitored_hours": "Mon-Fri 09:00-17:00",
        "manager": manager,
        "editors": "",
        "central": "false",
        "connector": "",
        "naming_exception": "",
    }
    values.update(cells)
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerow(values.values())
    return out.getvalue()


def test_a_valid_csv_registers_every_row(client: FlaskClient, ermc: Login, manager: Login, ctx: Any) -> None:
    text = HEADER + row(manager.email, "@livuni_a") + row(manager.email, "@livuni_b", platform="facebook")
    response = upload(client, ermc, text)
    assert response.status_code == 201, response.json
    assert response.json["created"] == 2
    handles = [a["handle"] for a in client.get("/api/v1/accounts", headers=ermc.headers).json["items"]]
    assert handles == ["@livuni_a", "@livuni_b"]
    actions = [r[0] for r in ctx.db.conn.execute("SELECT action FROM audit_log ORDER BY seq")]
    assert actions[-3:] == ["account.register", "account.register", "account.import"]


def test_a_bad_row_names_its_physical_line_and_field_and_nothing_is_written(
    client: FlaskClient, ermc: Login, manager: Login, ctx: Any
) -> None:
    # Line 2's quoted purpose spans two physical lines, so the bad record starts on line 4.
    text = (
        HEADER
        + row(manager.email, "@livuni_ok", purpose="Research news\nand events")
        + row(manager.email, "@livuni_bad", monitored_hours="sometimes")
    )
    before = (count_rows(ctx, "accounts"), count_rows(ctx, "audit_log"))
    response = upload(client, ermc, text)
    assert response.status_code == 400
    error = response.json["error"]
    assert error["errors"] == [{"line": 4, "field": "monitored_hours", "message": error["errors"][0]["message"]}]
    assert error["message"].startswith("line 4, monitored_hours:")
    assert (count_rows(ctx, "accounts"), count_rows(ctx, "audit_log")) == before


def test_every_bad_row_is_reported(client: FlaskClient, ermc: Login, manager: Login) -> None:
    text = (
        HEADER
        + row(manager.email, "@chem")
        + row(manager.email, "@livuni_ok")
        + row("nobody@livuni.ac.uk", "@livuni_x", platform="myspace")
    )
    errors = upload(client, ermc, text).json["error"]["errors"]
    assert [(e["line"], e["field"]) for e in errors] == [
        (2, "handle"),
        (4, "platform"),
        (4, "manager"),
    ]


def test_a_duplicate_inside_the_file_names_both_lines(client: FlaskClient, ermc: Login, manager: Login) -> None:
    text = HEADER + row(manager.email, "@livuni_a") + row(manager.email, "@livuni_b") + row(manager.email, "LIVUNI_A")
    errors = upload(client, ermc, text).json["error"]["errors"]
    assert [(e["line"], e["field"]) for e in errors] == [(4, "handle")]
    assert "line 2" in errors[0]["message"]


def test_a_duplicate_against_the_register_is_refused(
    client: FlaskClient, ermc: Login, manager: Login, register: Callable[..., dict[str, Any]]
) -> None:
    existing = register(manager, handle="@livuni_taken")
    response = upload(
        client,
        ermc,
        HEADER + row(manager.email, "@livuni_new") + row(manager.email, "@livuni_taken"),
    )
    assert response.status_code == 400
    (error,) = response.json["error"]["errors"]
    assert (error["line"], error["field"]) == (3, "handle")
    assert f"account {existing['id']}" in error["message"]


def test_a_byte_order_mark_and_quoted_commas_are_read_as_a_spreadsheet_writes_them(
    client: FlaskClient, ermc: Login, manager: Login
) -> None:
    text = "\ufeff" + HEADER + row(manager.email, "@livuni_a", unit="Earth, Ocean and Ecology")
    response = upload(client, ermc, text.encode("utf-8"))
    assert response.status_code == 201, response.json
    account = client.get(f"/api/v1/accounts/{response.json['ids'][0]}", headers=ermc.headers).json
    assert account["unit"] == "Earth, Ocean and Ecology"
    assert account["handle"] == "@livuni_a"


def test_editors_central_and_connector_columns(
    client: FlaskClient, ermc: Login, manager: Login, make_user: Callable[..., Login]
) -> None:
    one, two = make_user("manager"), make_user("manager")
    text = HEADER + row(
        manager.email,
        "@livuni_a",
        editors=f"{one.email}; {two.email}",
        central="TRUE",
        connector='{"kind": "webhook", "url": "http://127.0.0.1:9/hook"}',
    )
    response = upload(client, ermc, text)
    assert response.status_code == 201, response.json
    account = client.get(f"/api/v1/accounts/{response.json['ids'][0]}", headers=ermc.headers).json
    assert sorted(account["editors"]) == sorted([one.email, two.email])
    assert account["central"] is True
    # The URL is a credential: kept as a connector secret, shown masked (#12).
    assert account["connector"] == {"kind": "webhook", "url": "http://127.0.0.1:9/…"}
    secrets = client.get(f"/api/v1/accounts/{account['id']}/connector-secrets", headers=ermc.headers).json
    assert [(s["name"], s["set"]) for s in secrets["secrets"]] == [("url", True)]


@pytest.mark.parametrize(
    ("text", "field", "line"),
    [
        ("", "body", None),
        ("handle,platform\n", "unit", 1),
        (HEADER.replace("unit", "department"), "department", 1),
        (HEADER, "body", None),
    ],
)
def test_header_problems_are_named(client: FlaskClient, ermc: Login, text: str, field: str, line: int | None) -> None:
    error = upload(client, ermc, text).json["error"]
    if line is None:
        assert error["field"] == field
    else:
        assert (line, field) in [(e["line"], e["field"]) for e in error["errors"]]


def test_a_row_with_the_wrong_number_of_cells_is_named(client: FlaskClient, ermc: Login, manager: Login) -> None:
    text = HEADER + row(manager.email, "@livuni_a") + "@livuni_b,x,Chem\n"
    errors = upload(client, ermc, text).json["error"]["errors"]
    assert [(e["line"], e["field"]) for e in errors] == [(3, "row")]


def test_a_file_that_is_not_utf8_is_refused(client: FlaskClient, ermc: Login, manager: Login) -> None:
    text = (HEADER + row(manager.email, "@livuni_a", unit="Café")).encode("latin-1")
    error = upload(client, ermc, text).json["error"]
    assert error["field"] == "body"
    assert "UTF-8" in error["message"]


def test_ten_thousand_rows_import_in_one_request(client: FlaskClient, ermc: Login, manager: Login, ctx: Any) -> None:
    lines = [HEADER] + [
        row(manager.email, f"@livuni_unit{n}", platform=("x", "facebook")[n % 2]) for n in range(10_000)
    ]
    response = upload(client, ermc, "".join(lines))
    assert response.status_code == 201, response.json
    assert response.json["created"] == 10_000
    assert count_rows(ctx, "accounts") == 10_000
    assert client.get("/api/v1/audit/verify", headers=ermc.headers).json["ok"] is True


def test_export_neutralises_formulas_and_re_imports(
    client: FlaskClient,
    ermc: Login,
    manager: Login,
    register: Callable[..., dict[str, Any]],
    ctx: Any,
) -> None:
    register(
        manager,
        handle="@livuni_x",
        unit='=HYPERLINK("http://evil")',
        purpose="+1 555",
        central=True,
    )
    register(manager, handle="livuni_y", unit="-Dept", purpose="@everyone, welcome")
    response = client.get("/api/v1/accounts/export", headers=ermc.headers)
    assert response.status_code == 200
    assert response.mimetype == "text/csv"
    cells = [cell for line in csv.reader(io.StringIO(response.get_data(as_text=True))) for cell in line]
    assert not [c for c in cells if c[:1] in ("=", "+", "-", "@")]
    assert '\'=HYPERLINK("http://evil")' in cells
    assert "'@livuni_x" in cells
    # Archive both, then import the export: the same register comes back.
    for account in client.get("/api/v1/accounts", headers=ermc.headers).json["items"]:
        client.delete(f"/api/v1/accounts/{account['id']}", headers=ermc.headers)
    again = upload(client, ermc, response.get_data())
    assert again.status_code == 201, again.json
    items = client.get("/api/v1/accounts", headers=ermc.headers).json["items"]
    assert [(a["handle"], a["unit"], a["purpose"], a["central"]) for a in items] == [
        ("@livuni_x", '=HYPERLINK("http://evil")', "+1 555", True),
        ("livuni_y", "-Dept", "@everyone, welcome", False),
    ]


@pytest.mark.parametrize(
    ("cell", "safe"),
    [
        ("=1+1", "'=1+1"),
        ("+44", "'+44"),
        ("-3", "'-3"),
        ("@x", "'@x"),
        ("\tx", "'\tx"),
        ("plain", "plain"),
        ("", ""),
    ],
)
def test_neutralise(cell: str, safe: str) -> None:
    assert neutralise(cell) == safe


def test_a_repeated_column_is_refused_naming_it_and_nothing_is_written(
    client: FlaskClient, ermc: Login, manager: Login, make_user: Callable[..., Login], ctx: Any
) -> None:
    # With the column twice, the last cell used to win: here the second manager, unseen by a reviewer.
    other = make_user("manager")
    text = HEADER.replace("manager,", "manager,manager,", 1) + row(manager.email, "@livuni_twice").replace(
        manager.email, f"{manager.email},{other.email}", 1
    )
    before = count_rows(ctx, "accounts")
    response = upload(client, ermc, text)
    assert response.status_code == 400, response.json
    assert response.json["error"]["errors"][0] == {
        "line": 1,
        "field": "manager",
        "message": "the header has the manager column 2 times",
    }
    assert count_rows(ctx, "accounts") == before


def test_a_post_csv_with_a_repeated_column_is_refused(client: FlaskClient, ermc: Login, manager: Login) -> None:
    text = "account_id,body,body,scheduled_at\n1,Hello,Goodbye,2030-01-01T09:00:00Z\n"
    response = client.post("/api/v1/posts/import", data=text.encode(), content_type="text/csv", headers=ermc.headers)
    assert response.status_code == 400, response.json
    assert response.json["error"]["errors"][0]["field"] == "body"
    assert "2 times" in response.json["error"]["message"]
