"""stat_outputs: many outputs of one asset looked at at once, one query per DuckDB file."""

from __future__ import annotations

import duckdb
import pandas as pd

from assetflow.io import OutputRef, OutputStat, io_manager, write_output
from assetflow.io.stats import stat_outputs as stat_texts


def stat_outputs(manager, asset, refs):
    """stat_outputs of refs: (partition, path as text) each."""
    return stat_texts(manager, asset, [ref.partition for ref in refs], [str(r.path) for r in refs])


DAYS = ("2026-03-01", "2026-03-02", "2026-03-03")


def frame(rows):
    return pd.DataFrame({"n": list(range(rows))})


def test_duckdb_partitions_are_counted_in_one_go(tmp_path):
    refs = []
    for rows, day in enumerate(DAYS, start=1):
        stored = write_output("orders", frame(rows), "duckdb", tmp_path / "data", partition=day)
        refs.append(OutputRef("orders", day, stored.path))
    database = refs[0].path
    never = OutputRef("orders", "2026-03-09", database)
    elsewhere = OutputRef("orders", DAYS[0], tmp_path / "gone.duckdb")
    manager = io_manager("duckdb")
    found = stat_outputs(manager, "orders", [*refs, never, elsewhere])
    counted = [OutputStat(rows=1), OutputStat(rows=2), OutputStat(rows=3)]
    assert found == [*counted, OutputStat(rows=0), None]
    assert found[:3] == [manager.stat(ref) for ref in refs]  # as one stat each would say
    with duckdb.connect(str(database)) as connection:
        connection.execute("DELETE FROM orders WHERE partition_key = ?", [DAYS[2]])
    assert stat_outputs(manager, "orders", refs)[2] == OutputStat(rows=0)


def test_an_unpartitioned_duckdb_table_and_a_missing_table(tmp_path):
    stored = write_output("totals", frame(4), "duckdb", tmp_path / "data")
    manager = io_manager("duckdb")
    whole = OutputRef("totals", None, stored.path)
    assert stat_outputs(manager, "totals", [whole]) == [OutputStat(rows=4)]
    assert stat_outputs(manager, "totals", [OutputRef("totals", DAYS[0], stored.path)]) == [None]
    assert stat_outputs(manager, "nothing", [OutputRef("nothing", None, stored.path)]) == [None]


def test_files_are_looked_at_by_path_as_stat_would(tmp_path):
    refs = []
    for day in DAYS:
        stored = write_output("notes", {"day": day}, "json", tmp_path / "data", partition=day)
        refs.append(OutputRef("notes", day, stored.path))
    whole = write_output("total", {"n": 1}, "json", tmp_path / "data")
    refs.append(OutputRef("total", None, whole.path))
    refs[1].path.unlink()
    gone = OutputRef("notes", "2026-03-09", tmp_path / "data" / "nowhere" / "p=1" / "part.json")
    folder = OutputRef("notes", "x", tmp_path / "data")  # a directory is not an output
    manager = io_manager("json")
    found = stat_outputs(manager, "notes", [*refs, gone, folder])
    assert found == [manager.stat(ref) for ref in [*refs, gone, folder]]
    assert found[1] is None
    assert found[-2:] == [None, None]
    assert (found[0].bytes, found[3].bytes) == (refs[0].path.stat().st_size, whole.bytes)
    assert whole.digest is not None


def test_several_duckdb_assets_are_counted_through_one_connection(tmp_path):
    from assetflow.io.stats import stat_assets

    paths = {}
    for rows, asset in enumerate(("first", "second"), start=1):
        stored = write_output(asset, frame(rows), "duckdb", tmp_path / "data", partition=DAYS[0])
        paths[asset] = str(stored.path)
    found = stat_assets(
        io_manager("duckdb"),
        {
            "first": ([DAYS[0], DAYS[1]], [paths["first"]] * 2),
            "second": ([DAYS[0]], [paths["second"]]),
            "absent": ([None], [paths["first"]]),
        },
    )
    assert found == {
        "first": [OutputStat(rows=1), OutputStat(rows=0)],
        "second": [OutputStat(rows=2)],
        "absent": [None],
    }
