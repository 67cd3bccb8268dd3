"""Lexicon validation for the tests: values checked by ``@atproto/lexicon`` (the validator the
PDS itself runs) against the official documents copied into tests/specs/atproto-lexicons."""

from __future__ import annotations

import json
import shutil
import subprocess
from typing import Any

from tests.pds.server import HERE, missing

LEXICONS = HERE.parent / "specs" / "atproto-lexicons"


def validate(checks: list[tuple[str, str, Any]]) -> list[str | None]:
    """For each (kind, nsid, value), kind ``record``, ``input`` (an XRPC procedure's body),
    ``params`` (a query's parameters, typed) or ``output`` (an XRPC method's JSON answer):
    None when the value is valid, else the validator's message."""
    node = shutil.which("node")
    if node is None or not (HERE / "node_modules" / "@atproto" / "lexicon").is_dir():
        missing("@atproto/lexicon is not installed in tests/pds/node_modules")
    payload = json.dumps([{"kind": kind, "nsid": nsid, "value": value} for kind, nsid, value in checks])
    done = subprocess.run(
        [str(node), str(HERE / "validate-lexicon.js"), str(LEXICONS)],
        input=payload,
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    results: list[str | None] = json.loads(done.stdout)
    return results
