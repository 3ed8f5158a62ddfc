"""Inputs: one key's value or many partitions combined, from memory or storage, in key order."""

from __future__ import annotations

from datetime import UTC, datetime

import pandas as pd
import pyarrow as pa

from assetflow.execution.inputs import ParamInput, load_inputs, read_one
from assetflow.io import write_output
from assetflow.store.records import MaterializationState

T0 = datetime(2026, 3, 1, tzinfo=UTC)


def stored(tmp_path, asset, value, kind, partition=None):
    """Write a value as a step would, and return the state the store would hold."""
    output = write_output(asset, value, kind, tmp_path / "data", partition=partition)
    path = str(output.path) if output.path is not None else None
    return MaterializationState(
        "r1", asset, partition, kind, path, output.rows, T0, "c", output.data_version, {}
    )


def day_frame(day):
    return pd.DataFrame({"day": [day], "n": [int(day[-2:])]})


def param(name, keys, *, in_memory=None, stored_states=None, many=True, annotation=pd.DataFrame):
    return ParamInput(name, annotation, many, tuple(keys), in_memory or {}, stored_states or {})


def test_read_one_by_kind_and_annotation(tmp_path):
    frame_state = stored(tmp_path, "table", pd.DataFrame({"x": [1, 2]}), "parquet")
    json_state = stored(tmp_path, "plain", {"n": 1}, "json")
    nothing = MaterializationState("r1", "side", None, "none", None, None, T0, "c", "v", {})
    assert read_one(nothing, None) is None
    assert read_one(json_state, dict) == {"n": 1}
    assert read_one(frame_state, pd.DataFrame)["x"].tolist() == [1, 2]
    arrow = read_one(frame_state, pa.Table)
    assert isinstance(arrow, pa.Table)
    assert arrow.column("x").to_pylist() == [1, 2]


def test_partitions_from_memory_and_storage_are_combined_in_key_order(tmp_path):
    days = ["2026-03-01", "2026-03-02", "2026-03-03", "2026-03-04"]
    keys = [("clean", day) for day in days]
    states = {
        key: stored(tmp_path, "clean", day_frame(key[1]), "parquet", key[1])
        for key in (keys[0], keys[1], keys[3])
    }
    memory = {keys[2]: day_frame(days[2])}
    loaded = load_inputs((param("clean", keys, in_memory=memory, stored_states=states),))
    assert loaded["clean"]["day"].tolist() == days
    assert loaded["clean"]["n"].tolist() == [1, 2, 3, 4]


def test_duckdb_partitions_are_read_by_asset_and_key(tmp_path):
    days = ["2026-03-01", "2026-03-02", "2026-03-03"]
    states = {
        ("clean", day): stored(tmp_path, "clean", day_frame(day), "duckdb", day) for day in days
    }
    one = load_inputs((param("clean", [("clean", days[1])], stored_states=states, many=False),))
    assert one["clean"]["day"].tolist() == [days[1]]
    many = load_inputs((param("clean", list(states), stored_states=states),))
    assert many["clean"]["day"].tolist() == days


def test_json_partitions_become_a_dict_by_key(tmp_path):
    keys = [("counts", "2026-03-01"), ("counts", "2026-03-02"), ("counts", "2026-03-03")]
    states = {
        key: stored(tmp_path, "counts", {"n": i}, "json", key[1]) for i, key in enumerate(keys)
    }
    memory = {keys[1]: {"n": 99}}
    loaded = load_inputs(
        (param("counts", keys, in_memory=memory, stored_states=states, annotation=dict),)
    )
    assert loaded["counts"] == {
        "2026-03-01": {"n": 0},
        "2026-03-02": {"n": 99},
        "2026-03-03": {"n": 2},
    }


def test_no_partitions_gives_an_empty_table_or_nothing():
    assert load_inputs((param("clean", []),))["clean"].empty
    assert isinstance(load_inputs((param("clean", [], annotation=pa.Table),))["clean"], pa.Table)
    assert load_inputs((param("previous", [], many=False),))["previous"] is None


def test_frames_and_arrow_tables_together_give_the_annotated_kind(tmp_path):
    keys = [("t", "a"), ("t", "b")]
    memory = {keys[0]: pd.DataFrame({"x": [1]}), keys[1]: pa.table({"x": [2]})}
    as_frame = load_inputs((param("t", keys, in_memory=memory),))["t"]
    assert isinstance(as_frame, pd.DataFrame)
    assert as_frame["x"].tolist() == [1, 2]
    as_arrow = load_inputs((param("t", keys, in_memory=memory, annotation=pa.Table),))["t"]
    assert as_arrow.column("x").to_pylist() == [1, 2]


def test_one_stored_parquet_partition_is_its_own_file(tmp_path):
    state = stored(tmp_path, "raw", day_frame("2026-03-02"), "parquet", "2026-03-02")
    loaded = load_inputs(
        (
            param(
                "raw",
                [("raw", "2026-03-02")],
                stored_states={("raw", "2026-03-02"): state},
                many=False,
            ),
        )
    )
    assert loaded["raw"]["day"].tolist() == ["2026-03-02"]
