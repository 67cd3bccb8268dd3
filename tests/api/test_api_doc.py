"""docs/API.md, the interface contract kept in the repository, cannot drift from what is
served: every path of /openapi.json is named in it, and the README links it."""

from __future__ import annotations

from pathlib import Path

from flask.testing import FlaskClient

ROOT = Path(__file__).resolve().parents[2]
CONTRACT = ROOT / "docs" / "API.md"


def test_every_served_path_is_in_the_contract(client: FlaskClient) -> None:
    served = client.get("/openapi.json").get_json()["paths"]
    text = CONTRACT.read_text(encoding="utf-8")
    missing = [
        f"{method.upper()} {path}"
        for path, operations in served.items()
        for method in operations
        if method in ("get", "post", "put", "patch", "delete") and f"{method.upper()} {path}`" not in text
    ]
    assert not missing, f"served but not in docs/API.md: {missing}"


def test_the_readme_links_the_contract_in_the_repository() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "](docs/API.md)" in readme
    assert "../shared/API.md" not in readme
