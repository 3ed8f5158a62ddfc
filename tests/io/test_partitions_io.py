"""Reading many partitions of one asset in one call, for every storage kind."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from pydantic import BaseModel

from assetflow.errors import StoreError
from assetflow.io import output_path, read_output, read_partitions, write_output
from tests.pandas_versions import STR_DTYPE

# Run again in CI against the oldest supported pandas (see .ci/run).
pytestmark = pytest.mark.oldest_pandas

KEYS = ["2026-03-01", "2026-03-02", "2026-03-03"]


def day(number: int) -> pd.DataFrame:
    return pd.DataFrame({"id": [number * 10, number * 10 + 1], "label": [f"d{number}"] * 2})


def write_parquet(data_dir: Path, frames: dict[str, pd.DataFrame]) -> dict[str, Path | None]:
    paths: dict[str, Path | None] = {}
    for key, frame in frames.items():
        paths[key] = write_output("events", frame, "parquet", data_dir, partition=key).path
    return paths


# --- parquet ------------------------------------------------------------------------


def test_parquet_partitions_are_concatenated_in_key_order(tmp_path: Path) -> None:
    paths = write_parquet(tmp_path, {key: day(number) for number, key in enumerate(KEYS)})
    frame = read_partitions("parquet", paths, asset="events")
    assert isinstance(frame, pd.DataFrame)
    assert frame["id"].tolist() == [0, 1, 10, 11, 20, 21]
    assert frame.columns.tolist() == ["id", "label"]  # no partition column is added
    pd.testing.assert_index_equal(frame.index, pd.RangeIndex(6))
    assert str(frame["label"].dtype) == STR_DTYPE


def test_parquet_partitions_follow_the_order_of_the_keys_given(tmp_path: Path) -> None:
    paths = write_parquet(tmp_path, {key: day(number) for number, key in enumerate(KEYS)})
    reordered = {key: paths[key] for key in ["2026-03-03", "2026-03-01"]}
    frame = read_partitions("parquet", reordered, asset="events")
    assert isinstance(frame, pd.DataFrame)
    assert frame["id"].tolist() == [20, 21, 0, 1]


def test_paths_can_come_from_output_path(tmp_path: Path) -> None:
    write_parquet(tmp_path, {key: day(number) for number, key in enumerate(KEYS)})
    paths = {key: output_path(tmp_path, "events", "parquet", key) for key in KEYS}
    frame = read_partitions("parquet", paths, asset="events")
    assert isinstance(frame, pd.DataFrame)
    assert len(frame) == 6


def test_many_parquet_partitions_keep_their_order(tmp_path: Path) -> None:
    keys = [f"2026-01-{number:02d}" for number in range(1, 32)]
    paths = write_parquet(tmp_path, {key: day(number) for number, key in enumerate(keys)})
    shuffled = list(np.random.default_rng(7).permutation(keys))
    frame = read_partitions("parquet", {key: paths[key] for key in shuffled}, asset="events")
    assert isinstance(frame, pd.DataFrame)
    expected = [f"d{keys.index(key)}" for key in shuffled for _ in range(2)]
    assert frame["label"].tolist() == expected


def test_parquet_partitions_are_read_as_one_arrow_table_when_asked(tmp_path: Path) -> None:
    paths = write_parquet(tmp_path, {key: day(number) for number, key in enumerate(KEYS)})
    table = read_partitions("parquet", paths, pa.Table, asset="events")
    assert isinstance(table, pa.Table)
    assert table.num_rows == 6


def test_parquet_partitions_with_new_and_widened_columns_combine(tmp_path: Path) -> None:
    frames = {
        "a": pd.DataFrame({"n": np.array([1, 2], "int32")}),
        "b": pd.DataFrame({"n": np.array([3], "int64"), "extra": ["x"]}),
    }
    frame = read_partitions("parquet", write_parquet(tmp_path, frames), asset="events")
    assert isinstance(frame, pd.DataFrame)
    assert frame["n"].tolist() == [1, 2, 3]
    assert str(frame["n"].dtype) == "int64"
    assert frame["extra"].isna().tolist() == [True, True, False]


def test_parquet_partitions_whose_types_clash_are_a_store_error(tmp_path: Path) -> None:
    frames = {"a": pd.DataFrame({"n": [1]}), "b": pd.DataFrame({"n": ["one"]})}
    paths = write_parquet(tmp_path, frames)
    with pytest.raises(StoreError, match=r"cannot read the 2 Parquet partitions of asset 'events'"):
        read_partitions("parquet", paths, asset="events")


def test_missing_parquet_partitions_are_named(tmp_path: Path) -> None:
    paths = write_parquet(tmp_path, {KEYS[0]: day(0)})
    paths[KEYS[1]] = output_path(tmp_path, "events", "parquet", KEYS[1])
    paths[KEYS[2]] = None
    with pytest.raises(
        StoreError,
        match=r"asset 'events' has 2 partition\(s\) whose stored output is missing: "
        r"'2026-03-02', '2026-03-03'",
    ):
        read_partitions("parquet", paths, asset="events")


@pytest.mark.parametrize("kind", ["parquet", "duckdb"])
def test_no_keys_give_an_empty_frame(kind: str) -> None:
    frame = read_partitions(kind, {}, asset="events")
    assert isinstance(frame, pd.DataFrame)
    assert frame.shape == (0, 0)
    table = read_partitions(kind, {}, pa.Table, asset="events")
    assert isinstance(table, pa.Table)
    assert table.num_rows == 0


def test_partitions_are_refused_for_one_parquet_output(tmp_path: Path) -> None:
    paths = write_parquet(tmp_path, {KEYS[0]: day(0)})
    with pytest.raises(StoreError, match=r"Read several partitions with read_partitions\(\)"):
        read_output("parquet", paths[KEYS[0]], partitions=[KEYS[0]])


# --- duckdb -----------------------------------------------------------------------


def test_duckdb_partitions_are_read_in_one_query_in_key_order(tmp_path: Path) -> None:
    database = tmp_path / "warehouse.duckdb"
    for number, key in enumerate(KEYS):
        write_output("events", day(number), "duckdb", tmp_path, partition=key, database=database)
    paths = dict.fromkeys(["2026-03-02", "2026-03-01"], database)
    frame = read_partitions("duckdb", paths, asset="events")
    assert isinstance(frame, pd.DataFrame)
    assert frame["id"].tolist() == [10, 11, 0, 1]
    assert frame.columns.tolist() == ["id", "label"]
    table = read_partitions("duckdb", paths, pa.Table, asset="events")
    assert isinstance(table, pa.Table)
    assert table.num_rows == 4


def test_duckdb_partitions_in_several_files_are_refused(tmp_path: Path) -> None:
    paths: dict[str, Path | None] = {"a": tmp_path / "one.duckdb", "b": tmp_path / "two.duckdb"}
    with pytest.raises(StoreError, match=r"recorded in 2 DuckDB files"):
        read_partitions("duckdb", paths, asset="events")


# --- json and none ------------------------------------------------------------------


class Count(BaseModel):
    n: int


def test_json_partitions_are_a_mapping_by_key(tmp_path: Path) -> None:
    paths = {
        key: write_output("counts", {"n": number}, "json", tmp_path, partition=key).path
        for number, key in enumerate(KEYS)
    }
    assert read_partitions("json", paths, asset="counts") == {
        "2026-03-01": {"n": 0},
        "2026-03-02": {"n": 1},
        "2026-03-03": {"n": 2},
    }
    typed = read_partitions("json", paths, dict[str, Count], asset="counts")
    assert typed == {key: Count(n=number) for number, key in enumerate(KEYS)}
    assert read_partitions("json", {}, asset="counts") == {}


def test_json_partitions_that_do_not_fit_the_annotation_are_a_store_error(tmp_path: Path) -> None:
    paths = {"a": write_output("counts", ["x"], "json", tmp_path, partition="a").path}
    with pytest.raises(StoreError, match=r"the JSON outputs of asset 'counts' \(\['a'\]\) does"):
        read_partitions("json", paths, dict[str, int], asset="counts")


def test_missing_json_partitions_are_named(tmp_path: Path) -> None:
    paths = {"a": output_path(tmp_path, "counts", "json", "a")}
    with pytest.raises(StoreError, match=r"missing: 'a'"):
        read_partitions("json", paths, asset="counts")


def test_kind_none_reads_nothing() -> None:
    assert read_partitions("none", {"a": None}, asset="sink") == {"a": None}


def test_an_unknown_kind_is_a_store_error(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match=r"storage kind 'csv'"):
        read_partitions("csv", {"a": tmp_path}, asset="events")
