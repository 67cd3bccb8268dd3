"""The served /openapi.json is the reviewed document in ``tests/openapi.snapshot.json``.

API.md promises to extend the interface and never break it, so a change to the document must be
seen: a refactoring leaves it byte-for-byte the same, and an extension updates the snapshot in the
same commit (regenerate it with ``UPDATE_OPENAPI_SNAPSHOT=1 pytest tests/api/test_openapi_document.py``).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from flask.testing import FlaskClient

SNAPSHOT = Path(__file__).with_name("openapi.snapshot.json")


def test_the_served_openapi_document_is_the_reviewed_snapshot(client: FlaskClient) -> None:
    served = json.dumps(client.get("/openapi.json").get_json(), indent=1, sort_keys=True) + "\n"
    if os.environ.get("UPDATE_OPENAPI_SNAPSHOT"):
        SNAPSHOT.write_text(served)
    assert served == SNAPSHOT.read_text(), "the API document changed; see this module's docstring"
