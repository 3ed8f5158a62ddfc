"""Writing outputs and reading them back: every kind, pandas 3 dtypes, and what is recorded."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from datetime import date
from pathlib import Path
from typing import Annotated, Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from pydantic import BaseModel

from assetflow.errors import StoreError, WriteError
from assetflow.io import StoredOutput, read_output, write_output
from assetflow.io.versions import data_version
from tests.pandas_versions import ARROW_STR, DATETIME_UNIT, STR_DTYPE

# Run again in CI against the oldest supported pandas (see .ci/run).
pytestmark = pytest.mark.oldest_pandas


class Order(BaseModel):
    id: int
    placed: date
    amount: float


def pandas3_frame() -> pd.DataFrame:
    """Every dtype a pandas 3 user returns, with missing values, on a non-default index."""
    return pd.DataFrame(
        {
            "name": pd.Series(["a", None, "ccc", ""], dtype="str").array,
            "kind": pd.Categorical(["x", "y", None, "x"], categories=["z", "y", "x"]),
            "level": pd.Categorical(
                ["lo", "hi", "lo", "hi"], categories=["lo", "hi"], ordered=True
            ),
            "at": pd.date_range("2026-03-28", periods=4, freq="D", tz="Europe/Paris"),
            "naive": pd.date_range("2026-03-01", periods=4, freq="min"),
            "count": pd.array([1, None, 3, 4], dtype="Int64"),
            "amount": [1.5, np.nan, -0.25, 2.0],
            "flag": pd.array([True, None, False, True], dtype="boolean"),
            "label": pd.array(["p", None, "q", "r"], dtype="string"),
        },
        index=pd.Index([10, 20, 30, 40], name="row"),
    )


def test_a_pandas3_frame_round_trips_exactly(tmp_path: Path) -> None:
    frame = pandas3_frame()
    stored = write_output("orders", frame, "parquet", tmp_path)
    back = read_output("parquet", stored.path)
    pd.testing.assert_frame_equal(back, frame)
    assert str(back["name"].dtype) == STR_DTYPE
    assert list(back["kind"].cat.categories) == ["z", "y", "x"]
    assert back["level"].cat.ordered
    assert str(back["at"].dtype) == f"datetime64[{DATETIME_UNIT}, Europe/Paris]"
    assert str(back["count"].dtype) == "Int64"
    assert back.index.name == "row"


@pytest.mark.parametrize(
    "index", [pd.RangeIndex(0, 8, 2, name="n"), pd.Index(["a", "b", "c", "d"], name="key")]
)
def test_a_named_index_is_kept_as_the_index(tmp_path: Path, index: pd.Index) -> None:
    frame = pd.DataFrame({"a": [1, 2, 3, 4]}, index=index)
    stored = write_output("indexed", frame, "parquet", tmp_path)
    assert [name for name, _ in stored.columns] == ["a", index.name]
    pd.testing.assert_frame_equal(read_output("parquet", stored.path), frame)


@pytest.mark.parametrize(
    "index", [pd.RangeIndex(5, 9), pd.RangeIndex(0, 8, 2), pd.Index([7, 3, 9, 1])]
)
def test_row_labels_are_not_stored(tmp_path: Path, index: pd.Index) -> None:
    """What filtering, sorting and concat leave (unnamed integer labels) is not data: it
    is neither a column (``__index_level_0__``) nor a schema change between partitions."""
    frame = pd.DataFrame({"a": [1, 2, 3, 4]}, index=index)
    stored = write_output("filtered", frame, "parquet", tmp_path)
    assert stored.columns == (("a", "int64"),)
    assert (
        stored.data_version
        == write_output("plain", frame.reset_index(drop=True), "parquet", tmp_path).data_version
    )
    pd.testing.assert_frame_equal(read_output("parquet", stored.path), frame.reset_index(drop=True))


def test_an_unnamed_index_of_data_is_a_column_named_as_reset_index_names_it(
    tmp_path: Path,
) -> None:
    days = pd.DatetimeIndex(["2026-03-01", "2026-03-02"]).as_unit("us")
    frame = pd.DataFrame({"a": [1, 2]}, index=days)
    stored = write_output("series", frame, "parquet", tmp_path)
    assert [name for name, _ in stored.columns] == ["a", "index"]
    back = read_output("parquet", stored.path)
    pd.testing.assert_frame_equal(back, frame.rename_axis("index"))
    levels = pd.MultiIndex.from_tuples([("x", 1), ("y", 2)], names=["key", None])
    stored = write_output("levels", frame.set_axis(levels), "parquet", tmp_path)
    assert [name for name, _ in stored.columns] == ["a", "key", "level_1"]
    assert "__index_level" not in str(stored.columns)


def test_a_default_index_is_not_stored_as_a_column(tmp_path: Path) -> None:
    frame = pd.DataFrame({"a": [1, 2], "b": ["x", "y"]})
    stored = write_output("plain", frame, "parquet", tmp_path)
    assert stored.columns == (("a", "int64"), ("b", ARROW_STR))
    pd.testing.assert_frame_equal(read_output("parquet", stored.path), frame)


def test_stored_output_describes_the_file_and_the_data(tmp_path: Path) -> None:
    frame = pandas3_frame()
    stored = write_output("orders", frame, "parquet", tmp_path)
    assert stored.kind == "parquet"
    assert stored.path == tmp_path / "orders.parquet"
    assert stored.rows == 4
    assert stored.bytes == stored.path.stat().st_size
    assert ("name", ARROW_STR) in stored.columns
    assert ("kind", f"dictionary<values={ARROW_STR}, indices=int8, ordered=0>") in stored.columns
    assert ("row", "int64") in stored.columns  # the index is stored, so it is listed
    assert stored.data_version == data_version(frame)


def test_the_version_is_the_version_of_what_is_stored(tmp_path: Path) -> None:
    stored = write_output("orders", pandas3_frame(), "parquet", tmp_path)
    as_table = read_output("parquet", stored.path, as_type=pa.Table)
    assert data_version(as_table) == stored.data_version
    assert data_version(read_output("parquet", stored.path)) == stored.data_version


@pytest.mark.parametrize(
    "as_type", [pa.Table, "pa.Table", "pyarrow.Table", Annotated[pa.Table, "raw"]]
)
def test_a_table_is_read_as_a_table_when_asked(tmp_path: Path, as_type: object) -> None:
    table = pa.table(
        {
            "id": pa.array([1, 2, None], pa.int32()),
            "tags": pa.array([["a"], [], None]),
            "point": pa.array([{"x": 1.0}, None, {"x": 2.5}]),
        }
    )
    stored = write_output("events", table, "parquet", tmp_path)
    back = read_output("parquet", stored.path, as_type=as_type)
    assert isinstance(back, pa.Table)
    assert back.column_names == table.column_names
    assert back.to_pylist() == table.to_pylist()
    assert stored.data_version == data_version(table) == data_version(back)


@pytest.mark.parametrize("as_type", [None, pd.DataFrame, "pd.DataFrame", Any, object])
def test_parquet_is_read_as_a_dataframe_otherwise(tmp_path: Path, as_type: object) -> None:
    stored = write_output("plain", pa.table({"a": [1, 2]}), "parquet", tmp_path)
    back = read_output("parquet", stored.path, as_type=as_type)
    pd.testing.assert_frame_equal(back, pd.DataFrame({"a": [1, 2]}))


@pytest.mark.parametrize(
    "value",
    [
        {"b": [1, 2.5, None], "a": {"nested": True}, "é": "ünïcode"},
        [1, "two", 3.0, None, False],
        "just text",
        42,
        2.5,
        True,
    ],
)
def test_json_values_round_trip(tmp_path: Path, value: object) -> None:
    stored = write_output("settings", value, "json", tmp_path)
    assert read_output("json", stored.path) == value
    assert stored.path == tmp_path / "settings.json"
    assert stored.bytes == stored.path.stat().st_size
    assert stored.columns == ()
    assert stored.rows == (len(value) if isinstance(value, list) else None)
    assert stored.data_version == data_version(value)


def test_json_files_keep_key_order_and_are_readable(tmp_path: Path) -> None:
    stored = write_output("settings", {"z": 1, "a": "é"}, "json", tmp_path)
    text = stored.path.read_text(encoding="utf-8")
    assert text == '{\n  "z": 1,\n  "a": "é"\n}\n'
    assert stored.data_version == data_version({"a": "é", "z": 1})


def test_pydantic_models_are_stored_as_json_and_validated_back(tmp_path: Path) -> None:
    orders = [
        Order(id=1, placed=date(2026, 3, 1), amount=9.5),
        Order(id=2, placed=date(2026, 3, 2), amount=1.0),
    ]
    stored = write_output("orders", orders, "json", tmp_path)
    assert json.loads(stored.path.read_text()) == [
        {"id": 1, "placed": "2026-03-01", "amount": 9.5},
        {"id": 2, "placed": "2026-03-02", "amount": 1.0},
    ]
    assert stored.rows == 2
    assert read_output("json", stored.path, as_type=list[Order]) == orders
    assert read_output("json", stored.path)[0]["placed"] == "2026-03-01"
    single = write_output("order", orders[0], "json", tmp_path)
    assert read_output("json", single.path, as_type=Order) == orders[0]


def test_json_that_does_not_fit_the_annotation_is_a_store_error(tmp_path: Path) -> None:
    stored = write_output("orders", [{"id": "not a number"}], "json", tmp_path)
    with pytest.raises(StoreError, match=r"does not fit the type(.|\n)*change the annotation"):
        read_output("json", stored.path, as_type=list[Order])


def test_kind_none_stores_nothing(tmp_path: Path) -> None:
    stored = write_output("side_effect", None, "none", tmp_path)
    assert stored == StoredOutput("none", None, None, None, (), None)
    assert list(tmp_path.iterdir()) == []
    assert read_output("none", None) is None


def test_kind_none_with_a_value_is_refused(tmp_path: Path) -> None:
    with pytest.raises(WriteError, match=r"'side_effect' stores nothing .* returned a dict"):
        write_output("side_effect", {"a": 1}, "none", tmp_path)


def test_a_value_that_is_not_a_table_cannot_be_parquet(tmp_path: Path) -> None:
    with pytest.raises(
        WriteError,
        match=r"asset 'totals' returned a value of type dict, which cannot be stored as "
        r"Parquet(.|\n)*pandas\.DataFrame or a pyarrow\.Table",
    ):
        write_output("totals", {"a": 1}, "parquet", tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_a_table_cannot_be_json(tmp_path: Path) -> None:
    with pytest.raises(
        WriteError, match=r"'totals' is stored as JSON but returned a pandas\.DataFrame"
    ):
        write_output("totals", pd.DataFrame({"a": [1]}), "json", tmp_path)


def test_a_column_mixing_types_names_the_column(tmp_path: Path) -> None:
    frame = pd.DataFrame({"mixed": pd.Series([1, "a"], dtype=object)})
    with pytest.raises(
        WriteError,
        match=r"asset 'messy' returned a DataFrame whose column 'mixed' \(dtype object\) "
        r"cannot be stored as Parquet(.|\n)*df\['mixed'\]\.astype\(str\)",
    ):
        write_output("messy", frame, "parquet", tmp_path)


def test_duplicate_column_names_are_refused(tmp_path: Path) -> None:
    frame = pd.DataFrame([[1, 2]], columns=["a", "a"])
    with pytest.raises(WriteError, match=r"Duplicate column names(.|\n)*unique string names"):
        write_output("doubled", frame, "parquet", tmp_path)


def test_rewriting_replaces_the_output_exactly(tmp_path: Path) -> None:
    first = write_output("daily", pd.DataFrame({"a": range(100)}), "parquet", tmp_path)
    second = write_output("daily", pd.DataFrame({"a": [1]}), "parquet", tmp_path)
    assert first.path == second.path
    assert first.data_version != second.data_version
    pd.testing.assert_frame_equal(read_output("parquet", second.path), pd.DataFrame({"a": [1]}))
    assert [path.name for path in tmp_path.iterdir()] == ["daily.parquet"]


def test_partitions_are_written_and_read_without_extra_columns(tmp_path: Path) -> None:
    frame = pd.DataFrame({"id": [1, 2]})
    stored = write_output("raw_records", frame, "parquet", tmp_path, partition="2026-03-01")
    assert stored.path == tmp_path / "raw_records" / "partition=2026-03-01" / "part.parquet"
    pd.testing.assert_frame_equal(read_output("parquet", stored.path), frame)


def test_new_files_get_ordinary_permissions(tmp_path: Path) -> None:
    umask = os.umask(0)
    os.umask(umask)
    stored = write_output("shared", {"a": 1}, "json", tmp_path)
    assert stat.S_IMODE(stored.path.stat().st_mode) == 0o666 & ~umask


def test_a_missing_output_is_a_store_error(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match=r"gone\.parquet' is missing(.|\n)*--force"):
        read_output("parquet", tmp_path / "gone.parquet")
    with pytest.raises(StoreError, match=r"gone\.json' is missing"):
        read_output("json", tmp_path / "gone.json")


def test_a_damaged_output_is_a_store_error(tmp_path: Path) -> None:
    (tmp_path / "bad.parquet").write_bytes(b"not parquet at all")
    (tmp_path / "bad.json").write_text("{not json")
    with pytest.raises(StoreError, match=r"cannot read the Parquet output"):
        read_output("parquet", tmp_path / "bad.parquet")
    with pytest.raises(StoreError, match=r"cannot read the JSON output"):
        read_output("json", tmp_path / "bad.json")


def test_an_unknown_kind_cannot_be_read(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match=r"storage kind 'duckdb'"):
        read_output("duckdb", tmp_path / "x.duckdb")


def test_importing_assetflow_io_imports_no_data_library() -> None:
    code = (
        "import sys, assetflow.io; "
        "print(sorted(m for m in ('pandas', 'pyarrow', 'numpy', 'duckdb') if m in sys.modules))"
    )
    completed = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert completed.stdout.strip() == "[]"
