"""DuckDB storage: one table per asset in one file, partitions replaced in one transaction."""

from __future__ import annotations

import itertools
import multiprocessing
import random
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import date
from multiprocessing.synchronize import Event
from pathlib import Path
from typing import Annotated

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from assetflow.datahash import table_version
from assetflow.errors import StoreError, WriteError
from assetflow.io import StoredOutput, read_output, write_output
from assetflow.io.parquet import to_arrow_table
from tests.pandas_versions import ARROW_STR, DATETIME_UNIT, STR_DTYPE

# Run again in CI against the oldest supported pandas (see .ci/run).
pytestmark = pytest.mark.oldest_pandas

#: Seconds the lock tests wait for a held file before giving up.
SHORT_LOCK_TIMEOUT_S = 1.0
#: Kill trials per test; each child is killed at a random moment.
KILL_TRIALS = 5


@pytest.fixture
def database(tmp_path: Path) -> Path:
    return tmp_path / "state" / "warehouse.duckdb"


def write(asset: str, value: object, database: Path, partition: str | None = None) -> StoredOutput:
    data_dir = database.parent / "data"
    return write_output(asset, value, "duckdb", data_dir, partition=partition, database=database)


def read(asset: str, database: Path, **options: object) -> pd.DataFrame:
    frame = read_output("duckdb", database, asset=asset, **options)  # type: ignore[arg-type]
    assert isinstance(frame, pd.DataFrame)
    return frame


def day(rows: range, label: str = "v") -> pd.DataFrame:
    return pd.DataFrame({"id": list(rows), "label": [f"{label}{i}" for i in rows]})


def sql(database: Path, query: str) -> list[tuple[object, ...]]:
    with duckdb.connect(str(database), read_only=True) as connection:
        return connection.execute(query).fetchall()


# --- unpartitioned tables and pandas 3 dtypes ------------------------------------


def pandas3_frame() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "name": pd.Series(["a", None, "ccc"], dtype="str").array,
            "kind": pd.Categorical(["x", "y", None], categories=["z", "y", "x"]),
            "at": pd.date_range("2026-03-28", periods=3, freq="D", tz="Europe/Paris"),
            "naive": pd.date_range("2026-03-01", periods=3, freq="min"),
            "count": pd.array([1, None, 3], dtype="Int64"),
            "amount": [1.5, np.nan, -0.25],
            "day": [date(2026, 3, 1), None, date(2026, 3, 3)],
            "flag": [True, False, True],
            "wait": pd.to_timedelta([1, None, 3], unit="s"),
        }
    )


def test_pandas3_dtypes_come_back_as_documented(database: Path) -> None:
    frame = pandas3_frame()
    write("orders", frame, database)
    back = read("orders", database)

    assert list(back.columns) == list(frame.columns)
    assert str(back["name"].dtype) == STR_DTYPE
    assert back["name"].tolist()[0] == "a"
    assert pd.isna(back["name"][1])
    # Categoricals are stored as their values: they come back as str, categories gone.
    assert str(back["kind"].dtype) == STR_DTYPE
    assert back["kind"].tolist()[:2] == ["x", "y"]
    assert pd.isna(back["kind"][2])
    # Time zones: the same instants, in UTC.
    assert str(back["at"].dtype) == f"datetime64[{DATETIME_UNIT}, UTC]"
    assert (back["at"] == frame["at"]).all()
    pd.testing.assert_series_equal(back["naive"], frame["naive"])
    pd.testing.assert_series_equal(back["count"], frame["count"])
    pd.testing.assert_series_equal(back["amount"], frame["amount"])
    assert back["day"].tolist() == [date(2026, 3, 1), None, date(2026, 3, 3)]
    # Every SQL column is nullable: booleans come back as pandas' nullable boolean.
    assert str(back["flag"].dtype) == "boolean"
    assert back["flag"].tolist() == [True, False, True]
    pd.testing.assert_series_equal(back["wait"], frame["wait"].astype("timedelta64[us]"))
    assert sql(database, "SELECT data_type FROM duckdb_columns() WHERE column_name = 'day'") == [
        ("DATE",)
    ]


def test_an_empty_table_keeps_its_column_dtypes(database: Path) -> None:
    write("orders", pandas3_frame().iloc[:0], database)
    back = read("orders", database)
    assert back.empty
    assert str(back["wait"].dtype) == "timedelta64[us]"
    assert str(back["count"].dtype) == "Int64"


def test_a_value_that_is_not_a_table_is_refused(database: Path) -> None:
    with pytest.raises(WriteError, match=r"stored in DuckDB \(io=\"duckdb\"\) but returned a dict"):
        write("orders", {"a": 1}, database)


def test_plain_int_columns_come_back_nullable(database: Path) -> None:
    write("counts", pd.DataFrame({"n": np.array([1, 2], dtype="int64")}), database)
    back = read("counts", database)
    assert str(back["n"].dtype) == "Int64"
    assert back["n"].tolist() == [1, 2]


def test_stored_output_describes_the_table(database: Path) -> None:
    frame = pandas3_frame()
    stored = write("orders", frame, database)
    assert stored.kind == "duckdb"
    assert stored.path == database
    assert stored.rows == 3
    assert stored.bytes is not None
    assert stored.bytes > 0
    assert ("kind", ARROW_STR) in stored.columns  # categories stored as their values
    assert ("count", "int64") in stored.columns
    assert stored.data_version == table_version(to_arrow_table(frame))


def test_the_version_is_the_same_as_for_parquet(tmp_path: Path, database: Path) -> None:
    frame = pandas3_frame()
    as_parquet = write_output("orders", frame, "parquet", tmp_path / "data")
    assert write("orders", frame, database).data_version == as_parquet.data_version


def test_the_database_defaults_to_the_state_dir(tmp_path: Path) -> None:
    data_dir = tmp_path / ".assetflow" / "data"
    stored = write_output("orders", day(range(2)), "duckdb", data_dir)
    assert stored.path == tmp_path / ".assetflow" / "warehouse.duckdb"
    assert stored.path.is_file()
    assert read("orders", stored.path)["id"].tolist() == [1 - 1, 1]


@pytest.mark.parametrize("as_type", [pa.Table, "pa.Table", Annotated[pa.Table, "x"]])
def test_a_table_is_read_as_arrow_when_asked(database: Path, as_type: object) -> None:
    write("orders", day(range(3)), database)
    table = read_output("duckdb", database, as_type, asset="orders")
    assert isinstance(table, pa.Table)
    assert table.column_names == ["id", "label"]
    assert table.num_rows == 3


def test_an_arrow_table_can_be_written(database: Path) -> None:
    stored = write("orders", pa.table({"a": [1, 2]}), database)
    assert stored.rows == 2
    assert read("orders", database)["a"].tolist() == [1, 2]


def test_rewriting_an_unpartitioned_table_replaces_it_whole(database: Path) -> None:
    write("orders", day(range(5)), database)
    write("orders", pd.DataFrame({"other": ["only"]}), database)
    back = read("orders", database)
    assert list(back.columns) == ["other"]
    assert back["other"].tolist() == ["only"]


def test_assets_share_one_file_as_tables_of_their_names(database: Path) -> None:
    write("orders", day(range(2)), database)
    write("customers", day(range(3)), database, partition="2026-03-01")
    tables = sql(database, "SELECT table_name FROM duckdb_tables() ORDER BY table_name")
    assert tables == [("customers",), ("orders",)]
    assert len(read("orders", database)) == 2
    assert len(read("customers", database)) == 3


def test_an_index_is_stored_as_a_column(database: Path) -> None:
    frame = pd.DataFrame({"a": [1, 2]}, index=pd.Index(["x", "y"], name="key"))
    write("indexed", frame, database)
    back = read("indexed", database)
    assert back.columns.tolist() == ["a", "key"]
    assert back["key"].tolist() == ["x", "y"]


# --- partitions ---------------------------------------------------------------------


def test_rerunning_a_partition_replaces_exactly_its_rows(database: Path) -> None:
    for key, rows in [("2026-03-02", range(10, 13)), ("2026-03-01", range(3))]:
        write("events", day(rows), database, partition=key)
    write("events", day(range(100, 102), "new"), database, partition="2026-03-02")
    write("events", day(range(100, 102), "new"), database, partition="2026-03-02")

    back = read("events", database)
    assert back["id"].tolist() == [0, 1, 2, 100, 101]  # by key, then as inserted
    assert back["label"].tolist()[-2:] == ["new100", "new101"]
    assert "partition_key" not in back.columns
    assert sql(database, 'SELECT count(*) FROM "events"') == [(5,)]


def test_rows_keep_their_insertion_order_within_a_partition(database: Path) -> None:
    frame = pd.DataFrame({"id": [5, 3, 9, 1]})
    write("events", frame, database, partition="b")
    write("events", pd.DataFrame({"id": [7]}), database, partition="a")
    write("events", frame, database, partition="b")
    assert read("events", database)["id"].tolist() == [7, 5, 3, 9, 1]


def test_the_table_has_a_partition_key_column(database: Path) -> None:
    write("events", day(range(2)), database, partition="2026-03-01")
    columns = sql(database, "SELECT column_name, data_type FROM duckdb_columns()")
    assert ("partition_key", "VARCHAR") in columns
    assert sql(database, 'SELECT DISTINCT partition_key FROM "events"') == [("2026-03-01",)]


def test_some_partitions_are_read_in_the_order_asked(database: Path) -> None:
    for number in range(1, 5):
        write("events", day(range(number * 10, number * 10 + 2)), database, partition=f"p{number}")
    back = read("events", database, partitions=["p3", "p1", "missing"])
    assert back["id"].tolist() == [30, 31, 10, 11]
    assert read("events", database, partitions=[]).empty


def test_keys_are_parameters_not_sql(database: Path) -> None:
    keys = ["eu/west", "it's", "x' OR '1'='1", "2026-03-01T13:00"]
    for number, key in enumerate(keys):
        write("events", day(range(number, number + 1)), database, partition=key)
    write("events", day(range(99, 100)), database, partition="x' OR '1'='1")
    assert read("events", database, partitions=keys)["id"].tolist() == [0, 1, 99, 3]


def test_an_empty_frame_empties_its_partition(database: Path) -> None:
    write("events", day(range(3)), database, partition="a")
    write("events", day(range(10, 12)), database, partition="b")
    stored = write("events", day(range(0)), database, partition="a")
    assert stored.rows == 0
    assert read("events", database)["id"].tolist() == [10, 11]
    assert read("events", database, partitions=["a"]).empty


def test_a_first_empty_partition_creates_the_table(database: Path) -> None:
    write("events", pd.DataFrame(), database, partition="a")
    assert read("events", database).shape == (0, 0)
    write("events", day(range(2)), database, partition="b")
    assert read("events", database)["id"].tolist() == [0, 1]


def test_a_partition_key_column_is_refused(database: Path) -> None:
    frame = pd.DataFrame({"Partition_Key": ["x"], "a": [1]})
    with pytest.raises(WriteError, match=r"(?s)column named 'Partition_Key'.*Rename the column"):
        write("events", frame, database, partition="2026-03-01")
    assert not database.exists() or sql(database, "SELECT count(*) FROM duckdb_tables()") == [(0,)]
    write("events", frame, database)  # unpartitioned, the name is free


def test_columns_differing_only_in_case_are_refused(database: Path) -> None:
    frame = pd.DataFrame({"Amount": [1], "amount": [2]})
    with pytest.raises(
        WriteError, match=r"'Amount' and 'amount'\); DuckDB column names ignore case"
    ):
        write("events", frame, database)


def test_a_table_without_columns_is_refused(database: Path) -> None:
    with pytest.raises(WriteError, match="no columns, and a DuckDB table needs at least one"):
        write("events", pd.DataFrame(), database)


def test_a_name_that_is_not_an_identifier_is_refused(database: Path) -> None:
    with pytest.raises(WriteError, match="not a Python identifier"):
        write('x"; DROP TABLE y; --', day(range(1)), database)


def test_a_partitioned_write_over_an_unpartitioned_table_is_refused(database: Path) -> None:
    write("events", day(range(2)), database)
    with pytest.raises(WriteError, match=r"(?s)no 'partition_key' column.*DROP TABLE \"events\""):
        write("events", day(range(2)), database, partition="a")
    assert read("events", database)["id"].tolist() == [0, 1]


def test_partitions_of_an_unpartitioned_table_cannot_be_read(database: Path) -> None:
    write("orders", day(range(2)), database)
    with pytest.raises(StoreError, match="stored unpartitioned"):
        read("orders", database, partitions=["a"])


# --- schema evolution -----------------------------------------------------------------


def test_a_new_column_is_added_and_null_in_older_partitions(database: Path) -> None:
    write("events", pd.DataFrame({"id": [1]}), database, partition="a")
    write("events", pd.DataFrame({"id": [2], "extra": ["e"]}), database, partition="b")
    back = read("events", database)
    assert back.columns.tolist() == ["id", "extra"]
    assert back["extra"].isna().tolist() == [True, False]


def test_a_removed_column_stays_and_is_null_in_new_rows(database: Path) -> None:
    write("events", pd.DataFrame({"id": [1], "gone": [1.5]}), database, partition="a")
    write("events", pd.DataFrame({"id": [2]}), database, partition="b")
    back = read("events", database)
    assert back.columns.tolist() == ["id", "gone"]
    assert back["gone"].tolist()[0] == 1.5
    assert pd.isna(back["gone"][1])


def test_a_widening_type_change_widens_the_column(database: Path) -> None:
    write("events", pd.DataFrame({"n": np.array([1], "int32")}), database, partition="a")
    write("events", pd.DataFrame({"n": np.array([2**40], "int64")}), database, partition="b")
    write("events", pd.DataFrame({"n": [0.5]}), database, partition="c")
    write("events", pd.DataFrame({"n": np.array([3], "int16")}), database, partition="d")
    assert read("events", database)["n"].tolist() == [1.0, 2.0**40, 0.5, 3.0]
    assert ("DOUBLE",) in sql(database, "SELECT data_type FROM duckdb_columns()")


def test_an_incompatible_type_change_names_the_column_and_both_types(database: Path) -> None:
    write("events", pd.DataFrame({"id": [1], "amount": [10]}), database, partition="a")
    changed = pd.DataFrame({"id": [2], "amount": ["ten"], "new": [True]})
    with pytest.raises(
        WriteError,
        match=r"(?s)partition 'b' has the column 'amount' as VARCHAR, but the DuckDB table "
        r"'events' stores it as BIGINT.*nothing was written.*DROP TABLE \"events\".*--force",
    ):
        write("events", changed, database, partition="b")
    back = read("events", database)  # the column added before the error was rolled back
    assert back.columns.tolist() == ["id", "amount"]
    assert back["amount"].tolist() == [10]


def test_a_column_of_nulls_takes_the_type_that_comes(database: Path) -> None:
    write("events", pd.DataFrame({"id": [1], "note": [None]}), database, partition="a")
    write("events", pd.DataFrame({"id": [2], "note": ["hello"]}), database, partition="b")
    write("events", pd.DataFrame({"id": [3], "note": [None]}), database, partition="c")
    assert read("events", database)["note"].tolist()[1] == "hello"


def test_a_column_of_nulls_fits_any_stored_type(database: Path) -> None:
    write("events", pd.DataFrame({"id": [1], "note": ["x"]}), database, partition="a")
    write("events", pd.DataFrame({"id": [2], "note": [np.nan]}), database, partition="b")
    write("events", pd.DataFrame({"id": [], "note": []}), database, partition="c")
    back = read("events", database)
    assert back["note"].tolist()[0] == "x"
    assert pd.isna(back["note"][1])
    assert ("VARCHAR",) in sql(database, "SELECT data_type FROM duckdb_columns()")


def test_the_only_partition_may_change_its_types(database: Path) -> None:
    write("events", pd.DataFrame({"amount": [10]}), database, partition="a")
    write("events", pd.DataFrame({"amount": ["ten"]}), database, partition="a")
    assert read("events", database)["amount"].tolist() == ["ten"]


# --- errors when reading --------------------------------------------------------------


def test_a_missing_database_is_a_store_error(database: Path) -> None:
    with pytest.raises(StoreError, match=r"DuckDB file .* is missing"):
        read("orders", database)


def test_a_missing_table_is_a_store_error(database: Path) -> None:
    write("orders", day(range(1)), database)
    with pytest.raises(StoreError, match="has no table 'customers'"):
        read("customers", database)


def test_reading_needs_the_asset_name(database: Path) -> None:
    write("orders", day(range(1)), database)
    with pytest.raises(StoreError, match="without the asset's name"):
        read_output("duckdb", database)


def test_a_damaged_database_is_a_store_error(database: Path) -> None:
    database.parent.mkdir(parents=True)
    database.write_bytes(b"not a database" * 100)
    with pytest.raises(StoreError, match="cannot read the output of asset 'orders'"):
        read("orders", database)
    with pytest.raises(WriteError, match="cannot write asset 'orders' to the DuckDB file"):
        write("orders", day(range(1)), database)


# --- another process holds the file -------------------------------------------------------

HOLD_LOCK = """
import sys, time, duckdb
connection = duckdb.connect(sys.argv[1])
print("locked", flush=True)
time.sleep(float(sys.argv[2]))
"""


def hold_lock(database: Path, seconds: float) -> subprocess.Popen[str]:
    child = subprocess.Popen(
        [sys.executable, "-c", HOLD_LOCK, str(database), str(seconds)],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert child.stdout is not None
    assert child.stdout.readline().strip() == "locked"
    return child


def test_a_write_waits_for_a_locked_file_then_gives_up(database: Path) -> None:
    write("orders", day(range(2)), database)
    child = hold_lock(database, 60)
    try:
        started = time.monotonic()
        with pytest.raises(WriteError, match=r"is locked by another process") as caught:
            write_output(
                "orders",
                day(range(5)),
                "duckdb",
                database.parent,
                database=database,
                lock_timeout=SHORT_LOCK_TIMEOUT_S,
            )
        waited = time.monotonic() - started
        with pytest.raises(StoreError, match=rf"locked by another process .*PID {child.pid}"):
            read_output("duckdb", database, asset="orders", lock_timeout=0.2)
    finally:
        child.kill()
        child.wait()
    message = str(caught.value)
    assert f"(PID {child.pid})" in message
    assert "nothing was written" in message
    assert "Wait for that process to finish or close it, then re-run." in message
    assert SHORT_LOCK_TIMEOUT_S <= waited < SHORT_LOCK_TIMEOUT_S + 2
    assert read("orders", database)["id"].tolist() == [0, 1]


def test_a_write_goes_through_once_the_lock_is_released(database: Path) -> None:
    write("orders", day(range(2)), database)
    child = hold_lock(database, 0.3)
    try:
        write("orders", day(range(5)), database)  # the default timeout is 30 s
    finally:
        child.wait()
    assert len(read("orders", database)) == 5


# Children forked from this process start at once, with everything imported; each
# is a real process with its own DuckDB connection, file lock and SIGKILL.
needs_fork = pytest.mark.skipif(
    "fork" not in multiprocessing.get_all_start_methods(), reason="needs os.fork"
)


def fork(target: Callable[..., None], *args: object) -> multiprocessing.process.BaseProcess:
    child = multiprocessing.get_context("fork").Process(target=target, args=args)
    child.start()
    return child


def write_three_partitions(database: Path, worker: int) -> None:
    for number in range(3):
        rows = pa.table({"id": [worker * 100 + number] * 3, "label": ["w"] * 3})
        write("events", rows, database, partition=f"w{worker}-{number}")


@needs_fork
def test_processes_writing_at_once_take_turns(database: Path) -> None:
    write("events", day(range(1)), database, partition="seed")
    workers = [fork(write_three_partitions, database, worker) for worker in range(3)]
    for worker in workers:
        worker.join()
    assert [worker.exitcode for worker in workers] == [0, 0, 0]
    assert len(read("events", database)) == 1 + 3 * 3 * 3
    assert sql(database, 'SELECT count(DISTINCT partition_key) FROM "events"') == [(10,)]


# --- a process killed mid-transaction -------------------------------------------------------


def three_partitions(tmp_path: Path) -> list[Path]:
    """One database per kill trial, each with partitions a, b and c of 'events'."""
    original = tmp_path / "original" / "warehouse.duckdb"
    for key, rows in [("a", range(3)), ("b", range(10, 14)), ("c", range(20, 22))]:
        write("events", day(rows), original, partition=key)
    databases = [tmp_path / f"trial{number}" / "warehouse.duckdb" for number in range(KILL_TRIALS)]
    for database in databases:
        database.parent.mkdir()
        shutil.copyfile(original, database)  # closed, so checkpointed: the file is whole
    return databases


def kill_at_random_moments(
    work: Callable[[Path, Event], None], databases: list[Path], max_delay_s: float
) -> None:
    """Run ``work`` on each database in a child process, and SIGKILL the child at a
    random moment after ``work`` says it has started."""
    rng = random.Random()
    for database in databases:
        started = multiprocessing.get_context("fork").Event()
        child = fork(work, database, started)
        assert started.wait(timeout=30)
        time.sleep(rng.uniform(0, max_delay_s))  # between or inside statements
        child.kill()
        child.join()
        assert child.exitcode == -signal.SIGKILL


def delete_then_insert_without_commit(database: Path, started: Event) -> None:
    connection = duckdb.connect(str(database))
    connection.execute("BEGIN TRANSACTION")
    connection.execute("DELETE FROM events WHERE partition_key = 'b'")
    started.set()
    while True:  # big inserts: DuckDB writes their row groups to the file before COMMIT
        connection.execute(
            "INSERT INTO events (partition_key, id, label) "
            "SELECT 'b', 1000 + range, 'half' FROM range(150000)"
        )


def rewrite_partition_b_forever(database: Path, started: Event) -> None:
    tables = [
        pa.table({"id": range(10, 14), "label": [f"v{i}" for i in range(10, 14)]}),
        pa.table({"id": range(500, 600), "label": ["new"] * 100}),
    ]
    for count in itertools.count():
        write("events", tables[count % 2], database, partition="b")
        started.set()


@needs_fork
def test_a_process_killed_before_commit_leaves_the_old_rows(tmp_path: Path) -> None:
    databases = three_partitions(tmp_path)
    kill_at_random_moments(delete_then_insert_without_commit, databases, max_delay_s=0.15)
    for database in databases:
        back = read("events", database)
        assert back["id"].tolist() == [0, 1, 2, 10, 11, 12, 13, 20, 21]
        assert back["label"].tolist()[3:7] == ["v10", "v11", "v12", "v13"]
        write("events", day(range(30, 31)), database, partition="b")  # the file is writable
        assert read("events", database, partitions=["b"])["id"].tolist() == [30]


@needs_fork
def test_a_process_killed_while_rewriting_leaves_one_version_whole(tmp_path: Path) -> None:
    databases = three_partitions(tmp_path)
    kill_at_random_moments(rewrite_partition_b_forever, databases, max_delay_s=0.3)
    for database in databases:
        partition = read("events", database, partitions=["b"])["id"].tolist()
        assert partition in (list(range(10, 14)), list(range(500, 600)))
        others = read("events", database, partitions=["a", "c"])["id"].tolist()
        assert others == [0, 1, 2, 20, 21]


# --- assetflow processes queue for the file --------------------------------------

HOLD_QUEUE = """
import fcntl, os, sys, time
descriptor = os.open(sys.argv[1] + ".lock", os.O_RDWR | os.O_CREAT, 0o644)
fcntl.flock(descriptor, fcntl.LOCK_EX)
print("held", flush=True)
time.sleep(float(sys.argv[2]))
"""


def test_a_write_queues_behind_another_assetflow_process_without_retrying(
    database: Path,
) -> None:
    write("events", day(range(3)), database, partition="2026-03-01")
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD_QUEUE, str(database), "0.6"],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert holder.stdout is not None
    assert holder.stdout.readline().strip() == "held"
    started = time.monotonic()
    write("events", day(range(5)), database, partition="2026-03-02")
    waited = time.monotonic() - started
    holder.wait(5)
    assert waited >= 0.4  # it waited for the holder's turn to end ...
    assert read("events", database)["id"].tolist() == [0, 1, 2, 0, 1, 2, 3, 4]  # ... then wrote


def test_the_head_of_a_partition_is_a_limit_query_without_the_partition_column(
    database: Path,
) -> None:
    from assetflow.io.duckdb import read_head

    for day, first in (("2026-03-01", 0), ("2026-03-02", 100)):
        frame = pd.DataFrame({"id": range(first, first + 50)})
        write_output("orders", frame, "duckdb", database.parent / "data", partition=day)
    head, total = read_head(database, "orders", partition="2026-03-02", limit=3, lock_timeout=1.0)
    assert head.column_names == ["id"]
    assert head.column("id").to_pylist() == [100, 101, 102]
    assert total == 50
    whole, total = read_head(database, "orders", partition=None, limit=60, lock_timeout=1.0)
    assert whole.num_rows == 60
    assert total == 100
