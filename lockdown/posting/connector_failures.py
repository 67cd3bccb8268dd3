"""Failed connector calls, counted as rows in the transaction that records each failure, so that
/metrics (which only reads them) counts every process's sends."""

from __future__ import annotations

import sqlite3
from datetime import datetime

from connectors.base import ConnectorError
from lockdown.timeutil import to_iso

FAILURE_KINDS = ("permanent", "transient", "ambiguous")


def failure_kind(exc: ConnectorError) -> str:
    """How a connector failure is counted, in the dispatcher's order: ambiguous before permanent."""
    if exc.ambiguous:
        return "ambiguous"
    return "permanent" if exc.permanent else "transient"


def record_connector_failure(
    conn: sqlite3.Connection,
    *,
    post_id: int | None,
    account_id: int,
    platform: str,
    connector: str,
    kind: str,
    at: datetime,
) -> None:
    """Count one failed connector call; called inside the transaction that records the failure."""
    if kind not in FAILURE_KINDS:
        raise ValueError(f"kind must be one of {', '.join(FAILURE_KINDS)}, got {kind!r}")
    conn.execute(
        "INSERT INTO connector_failures (at, post_id, account_id, platform, connector, kind) VALUES (?, ?, ?, ?, ?, ?)",
        [to_iso(at), post_id, account_id, platform, connector, kind],
    )
