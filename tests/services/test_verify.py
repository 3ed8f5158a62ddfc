"""verify_outputs: each recorded output compared with what is there now."""

from __future__ import annotations

import os
import shutil
from datetime import UTC, datetime

import duckdb
import pandas as pd

from assetflow.io import write_output
from assetflow.io.locations import recorded_path
from assetflow.planner import ReasonKind
from assetflow.services.verify import verify_outputs
from assetflow.store.records import MaterializationState

T0 = datetime(2026, 3, 4, 3, 0, tzinfo=UTC)
RUN = "1c2d3e4f5a6b7c8d"


def stored(root, asset, value, kind, partition=None):
    """Write as a step does; the state the store would hold (path relative to root)."""
    output = write_output(asset, value, kind, root / "data", partition=partition)
    return MaterializationState(
        RUN,
        asset,
        partition,
        kind,
        recorded_path(output.path, root),
        output.rows,
        T0,
        "c",
        output.data_version,
        {},
        output.bytes,
        output.modified_at,
        output.digest,
    )


def latest(*states):
    return {(state.asset, state.partition): state for state in states}


def test_outputs_as_recorded_are_not_reported(tmp_path):
    states = latest(
        stored(tmp_path, "orders", pd.DataFrame({"n": [1, 2]}), "parquet", "2026-03-01"),
        stored(tmp_path, "notes", {"a": 1}, "json"),
        stored(tmp_path, "clean", pd.DataFrame({"n": [1]}), "duckdb", "2026-03-01"),
        stored(tmp_path, "side", None, "none"),
    )
    assert verify_outputs(states, tmp_path) == {}


def test_a_deleted_file_is_missing_naming_the_run_that_wrote_it(tmp_path):
    state = stored(tmp_path, "notes", {"a": 1}, "json", "2026-03-01")
    (tmp_path / state.path).unlink()
    reason = verify_outputs(latest(state), tmp_path)[("notes", "2026-03-01")]
    assert reason.kind is ReasonKind.OUTPUT_MISSING
    assert reason.run_id == RUN
    assert reason.render() == (
        "output missing: deleted or moved since it was written 2026-03-04 03:00 UTC by run 1c2d3e4f"
    )


def test_a_file_of_another_size_is_damaged(tmp_path):
    state = stored(tmp_path, "notes", {"a": 1}, "json")
    path = tmp_path / state.path
    path.write_text('{"a": 22}\n')
    reason = verify_outputs(latest(state), tmp_path)[("notes", None)]
    assert reason.kind is ReasonKind.OUTPUT_DAMAGED
    assert (reason.old, reason.new) == (f"{state.bytes} bytes", f"{path.stat().st_size} bytes")
    assert reason.render().startswith(
        f"output damaged: its size changed ({state.bytes} bytes -> {path.stat().st_size} bytes) "
        "since it was written 2026-03-04 03:00 UTC by run 1c2d3e4f"
    )


def test_a_new_time_with_the_same_bytes_is_a_copy_and_other_bytes_are_damage(tmp_path):
    state = stored(tmp_path, "orders", pd.DataFrame({"n": range(100)}), "parquet")
    path = tmp_path / state.path
    later = state.file_mtime + 86400
    os.utime(path, (later, later))
    assert verify_outputs(latest(state), tmp_path) == {}
    data = bytearray(path.read_bytes())
    data[-20] ^= 0xFF  # in the footer, same size
    path.write_bytes(bytes(data))
    reason = verify_outputs(latest(state), tmp_path)[("orders", None)]
    assert reason.kind is ReasonKind.OUTPUT_DAMAGED
    assert "its modification time changed" in reason.render()


def test_a_whole_state_dir_copied_elsewhere_verifies_against_the_copy(tmp_path):
    root = tmp_path / "shop" / ".assetflow"
    state = stored(root, "orders", pd.DataFrame({"n": [1]}), "parquet", "2026-03-01")
    copy = tmp_path / "copy" / ".assetflow"
    shutil.copytree(root, copy)  # keeps times
    assert verify_outputs(latest(state), copy) == {}
    (copy / state.path).unlink()
    assert set(verify_outputs(latest(state), copy)) == {("orders", "2026-03-01")}
    assert verify_outputs(latest(state), root) == {}


def test_duckdb_rows_that_changed_are_damaged_and_a_dropped_table_is_missing(tmp_path):
    kept = stored(tmp_path, "clean", pd.DataFrame({"n": [1, 2, 3]}), "duckdb", "2026-03-01")
    other = stored(tmp_path, "clean", pd.DataFrame({"n": [1]}), "duckdb", "2026-03-02")
    total = stored(tmp_path, "total", pd.DataFrame({"n": [1]}), "duckdb")
    with duckdb.connect(str(tmp_path / "warehouse.duckdb")) as connection:
        connection.execute("DELETE FROM clean WHERE partition_key = '2026-03-01' AND n = 3")
        connection.execute("DROP TABLE total")
    found = verify_outputs(latest(kept, other, total), tmp_path)
    assert set(found) == {("clean", "2026-03-01"), ("total", None)}
    damaged = found[("clean", "2026-03-01")]
    assert (damaged.kind, damaged.old, damaged.new) == (
        ReasonKind.OUTPUT_DAMAGED,
        "3 rows",
        "2 rows",
    )
    assert found[("total", None)].kind is ReasonKind.OUTPUT_MISSING


def test_a_kind_that_is_not_installed_is_left_unverified(tmp_path):
    state = stored(tmp_path, "notes", {"a": 1}, "json")._replace(io="no_such_kind")
    assert verify_outputs(latest(state), tmp_path) == {}
