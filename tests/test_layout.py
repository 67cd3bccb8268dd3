"""The layout is the architecture: import-linter's contracts (pyproject.toml) hold, they fail when
broken, and the README's Layout section names exactly the packages in the tree."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
LINT_IMPORTS = str(Path(sys.executable).with_name("lint-imports"))


def lint_imports(tree: Path) -> subprocess.CompletedProcess[str]:
    """Run import-linter on the checkout at ``tree`` (its own packages first on the path)."""
    env = {"PYTHONPATH": str(tree), "PATH": "/usr/bin:/bin"}
    return subprocess.run(
        [LINT_IMPORTS, "--no-cache", "--no-logo"], cwd=tree, env=env, capture_output=True, text=True, timeout=120
    )


def test_the_import_contracts_hold() -> None:
    result = lint_imports(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


@pytest.fixture
def copy_of_the_tree(tmp_path: Path) -> Path:
    for package in ("lockdown", "connectors"):
        shutil.copytree(ROOT / package, tmp_path / package, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path)
    return tmp_path


def test_the_contracts_fail_when_a_service_imports_flask_a_connector_lockdown_or_a_domain_a_face(
    copy_of_the_tree: Path,
) -> None:
    breaches = {
        "lockdown/posting/posts.py": "import flask",
        "connectors/x.py": "import lockdown.store.db",
        "lockdown/incidents/declare.py": "import lockdown.api.state",
        "lockdown/posting/dispatch.py": "import lockdown.clock.health",
        # Readiness and incidents are siblings: the Declare page (a face) shows both.
        "lockdown/readiness/checks.py": "import lockdown.incidents.declare",
    }
    for path, line in breaches.items():
        module = copy_of_the_tree / path
        module.write_text(module.read_text() + f"\n{line}  # noqa\n")
    result = lint_imports(copy_of_the_tree)
    out = " ".join(result.stdout.split())
    assert result.returncode == 1, out
    assert "Contracts: 0 kept, 3 broken." in out
    for shown in (
        "lockdown.posting.posts -> flask",
        "connectors.x -> lockdown.store.db",
        "lockdown.incidents.declare -> lockdown.api.state",
        "lockdown.posting.dispatch -> lockdown.clock.health",
        "lockdown.readiness.checks -> lockdown.incidents.declare",
    ):
        assert shown in out, f"{shown!r} not reported:\n{result.stdout}"


def _readme_layout() -> str:
    text = (ROOT / "README.md").read_text()
    section = text.split("\n## Layout\n", 1)[1].split("\n## ", 1)[0]
    return section.split("```", 2)[1]


def test_the_readme_layout_names_every_package_and_no_other() -> None:
    tree = {f"{path.parent.relative_to(ROOT).as_posix()}/" for path in (ROOT / "lockdown").glob("*/__init__.py")} | {
        "lockdown/"
    }
    named = set(re.findall(r"^(lockdown/[a-z_]*/?)\s", _readme_layout(), flags=re.M))
    assert named == tree


def test_the_readme_layout_lists_the_shared_base_modules_that_exist() -> None:
    base = {path.stem for path in (ROOT / "lockdown").glob("*.py")} - {"__init__"}
    layout = _readme_layout()
    line = next(line for line in layout.splitlines() if line.startswith("lockdown/ "))
    block = layout[layout.index(line) :].split("\nlockdown/", 2)[0]
    assert set(re.findall(r"\b([a-z_]+)\.py\b", block)) == {f"{name}" for name in base}
