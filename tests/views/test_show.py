"""`assetflow show` as text and CSV, from an AssetHead built by hand."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime

import pytest

from assetflow.errors import UsageError
from assetflow.services.reading import AssetHead
from assetflow.views.show import CELL_WIDTH, cell_text, head_csv, head_text

T0 = datetime(2026, 3, 4, 3, 0, tzinfo=UTC)


def head(**changes: object) -> AssetHead:
    fields: dict[str, object] = {
        "asset": "orders",
        "partition": None,
        "kind": "parquet",
        "run_id": "1c2d3e4f" + "0" * 24,
        "materialized_at": T0,
        "limit": 2,
        "columns": (("id", "int64"), ("at", "timestamp[us, tz=UTC]")),
        "rows": ((1, T0), (2, None)),
        "total": 5,
    }
    fields.update(changes)
    return AssetHead(**fields)  # type: ignore[arg-type]


def test_the_text_says_what_is_shown_and_how_much_more_there_is():
    assert head_text(head()) == (
        "orders: parquet, materialized by run 1c2d3e4f at 2026-03-04 03:00:00 UTC\n"
        "\n"
        "id  at\n"
        "1   2026-03-04 03:00:00+00:00\n"
        "2   null\n"
        "\n"
        "Showing the first 2 of 5 rows (--limit N for more)."
    )


def test_every_row_shown_says_so():
    text = head_text(head(total=2, partition="2026-03-03", is_newest_partition=True))
    assert text.splitlines()[0].startswith("orders[2026-03-03]: parquet")
    assert text.splitlines()[1] == "(the newest stored partition; --partition KEY shows another)"
    assert text.endswith("\n2 rows.")


def test_a_cell_is_one_line_cut_to_the_cell_width():
    assert cell_text("two\nlines") == "two\\nlines"
    assert cell_text(float("nan")) == "null"
    assert len(cell_text("x" * 100)) == CELL_WIDTH
    assert cell_text({"a": [1, 2]}) == '{"a": [1, 2]}'


def test_a_json_value_is_shown_as_indented_json():
    text = head_text(head(kind="json", columns=(), rows=(), value={"a": 1}, total=1))
    assert '{\n  "a": 1\n}' in text
    assert text.endswith("1 item.")


def test_csv_has_a_header_and_empty_nulls():
    rows = list(csv.reader(io.StringIO(head_csv(head()))))
    assert rows == [["id", "at"], ["1", "2026-03-04T03:00:00+00:00"], ["2", ""]]


def test_csv_of_a_value_that_is_not_rows_is_refused():
    with pytest.raises(UsageError, match="--csv: asset 'orders' stores a json value"):
        head_csv(head(kind="json", columns=(), rows=(), value={"a": 1}))
