"""Reading and writing CSV as spreadsheets make it: UTF-8 with or without a BOM, physical line
numbers for errors, and formula cells neutralised on the way out (and restored on the way in)."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from typing import Any

from lockdown.errors import InvalidInput

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
MAX_ERRORS_SHOWN = 100


def neutralise(cell: str) -> str:
    """Make a cell that a spreadsheet would run as a formula read as text instead."""
    return "'" + cell if cell.startswith(FORMULA_STARTS) else cell


def unneutralise(cell: str) -> str:
    """Undo ``neutralise`` on a cell read back in."""
    return cell[1:] if cell.startswith("'") and cell[1:].startswith(FORMULA_STARTS) else cell


def decode(body: bytes) -> str:
    """The CSV's text; a spreadsheet's BOM is not part of the first header."""
    try:
        return body.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InvalidInput(f"the CSV is not UTF-8 (byte {exc.start}); save it as 'CSV UTF-8'", field="body") from None


def records(text: str) -> Iterator[tuple[int, dict[str, str] | None, list[str]]]:
    """Yield (first physical line, row or None if its cell count is wrong, header), starting
    with (1, None, header) for the header line. Blank lines are skipped."""
    reader = csv.reader(io.StringIO(text, newline=""))
    header: list[str] = []
    line = 1
    for cells in reader:
        if not header:
            header = [name.strip().lower() for name in cells]
            yield 1, None, header
        elif any(cell.strip() for cell in cells):
            row = dict(zip(header, cells, strict=False)) if len(cells) == len(header) else None
            yield line, row, header
        line = reader.line_num + 1


def header_errors(header: list[str], required: tuple[str, ...], known: tuple[str, ...]) -> list[dict[str, Any]]:
    """Missing, unknown and repeated columns, as line-1 errors."""
    # A repeated column would silently let its last cell win (``manager,manager``).
    repeated = sorted({name for name in header if name and header.count(name) > 1})
    errors = [
        {"line": 1, "field": name, "message": f"the header has the {name} column {header.count(name)} times"}
        for name in repeated
    ]
    errors += [
        {"line": 1, "field": name, "message": f"the header has no {name} column"}
        for name in required
        if name not in header
    ]
    errors += [
        {
            "line": 1,
            "field": name,
            "message": f"{name!r} is not a column; columns: {', '.join(known)}",
        }
        for name in header
        if name not in known
    ]
    return errors


def refuse(errors: list[dict[str, Any]]) -> None:
    """Raise one 400 listing every error by line and field; nothing was written."""
    if not errors:
        return
    first = errors[0]
    more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
    raise InvalidInput(
        f"line {first['line']}, {first['field']}: {first['message']}{more}; nothing was imported",
        field="body",
        errors=errors[:MAX_ERRORS_SHOWN],
        error_count=len(errors),
    )
