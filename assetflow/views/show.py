"""`assetflow show`: the head of a stored value as a table for people, or as CSV."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import math
from typing import TYPE_CHECKING, Any

from assetflow.errors import UsageError
from assetflow.textwidth import cut
from assetflow.views.text import short, table, when

if TYPE_CHECKING:
    from assetflow.services.reading import AssetHead

#: Cells wider than this (in terminal columns) are cut in the table.
CELL_WIDTH = 40
#: How a missing value (SQL NULL, None, NaN) looks in the table.
NULL_TEXT = "null"


def head_text(head: AssetHead) -> str:
    """A line saying what is shown (which partition, written by which run), then the rows
    as a table (a JSON value as indented JSON), then how many more there are."""
    label = head.asset if head.partition is None else f"{head.asset}[{head.partition}]"
    lines = [
        f"{label}: {head.kind}, materialized by run {short(head.run_id)} at "
        f"{when(head.materialized_at)} UTC"
    ]
    if head.is_newest_partition:
        lines.append("(the newest stored partition; --partition KEY shows another)")
    lines.append("")
    if head.is_table:
        names = [name for name, _ in head.columns]
        rows = [[cell_text(value) for value in row] for row in head.rows]
        lines.append(table([cut(name, CELL_WIDTH) for name in names], rows))
        unit = "rows"
    elif head.kind == "none" or (head.value is None and head.total is None):
        lines.append(
            "It stores nothing: its storage kind is 'none' (it writes its data elsewhere)."
            if head.kind == "none"
            else NULL_TEXT
        )
        return "\n".join(lines)
    else:
        lines.append(json.dumps(head.value, indent=2, ensure_ascii=False, default=str))
        unit = "items"
    lines.append("")
    lines.append(_count_line(head, unit))
    return "\n".join(lines)


def _count_line(head: AssetHead, unit: str) -> str:
    shown = head.shown
    if head.total is None or shown >= head.total:
        return f"{shown} {unit if shown != 1 else unit[:-1]}."
    return f"Showing the first {shown:,} of {head.total:,} {unit} (--limit N for more)."


def cell_text(value: Any) -> str:
    """One value as a table cell: one line, at most CELL_WIDTH terminal columns."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return NULL_TEXT
    if isinstance(value, dt.datetime):
        text = value.isoformat(sep=" ")
    elif isinstance(value, dict | list):
        text = json.dumps(value, ensure_ascii=False, default=str)
    else:
        text = str(value)
    text = text.replace("\r", "\\r").replace("\n", "\\n").replace("\t", "\\t")
    return cut(text, CELL_WIDTH)


def head_csv(head: AssetHead) -> str:
    """The rows as CSV with a header row (RFC 4180 quoting); a missing value is empty.

    Raises:
        UsageError: The asset stores a value that is not rows (not a table, nor a JSON
            list of records).
    """
    if not head.is_table:
        raise UsageError(
            f"--csv: asset '{head.asset}' stores a {head.kind} value that is not rows (a "
            "table, or a JSON list of records), so it has no CSV form.",
            hint=f"Use --json instead: assetflow show {head.asset} --json",
        )
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow([name for name, _ in head.columns])
    writer.writerows([_csv_cell(value) for value in row] for row in head.rows)
    return out.getvalue()


def _csv_cell(value: Any) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    if isinstance(value, dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False, default=str)
    return str(value)
