"""The vault tests' fixtures: a clock at 02:00 on a Tuesday and the world built on it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.vault.vault_kit import NIGHT, Clock, make_world


@pytest.fixture
def clock() -> Clock:
    return Clock(NIGHT)


@pytest.fixture
def world(tmp_path: Path, clock: Clock) -> Iterator[dict[str, Any]]:
    yield from make_world(tmp_path, clock)
