"""Benchmark: loading a large frame through ``io="postgres"`` against pandas' ``to_sql``
and against a COPY written by hand with psycopg.

Run it as a script (``python bench/bench_postgres_io.py [--rows N] [--url URL]``). Without
``--url`` it starts a throwaway server of its own (as the tests do) and stops it at the
end. The frame has an int64, a float64, a string, a nullable integer and a zone-aware
timestamp column. It prints, best of ``--repeat`` runs:

- the io kind's write of one partition (a COPY in binary form in one transaction,
  with the data version computed as for Parquet),
- a hand-written binary COPY of the same rows with psycopg (``write_row``),
- pandas ``to_sql`` through SQLAlchemy with the psycopg driver (``method="multi"``,
  the usual way to make it faster than one INSERT per row), timed on ``--sql-rows``
  rows and scaled to the frame (it is linear, and a full run takes minutes),

and the ratios: the io kind must be at least 5x faster than ``to_sql`` and within
1.3x of the hand-written COPY.
"""

from __future__ import annotations

import argparse
import importlib.util
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from timing import best_of

from assetflow.io import IOSettings, WriteTarget, io_manager

DEFAULT_ROWS = 1_000_000
DEFAULT_SQL_ROWS = 100_000
DEFAULT_REPEAT = 3
#: The io kind must be at least this many times faster than to_sql...
TARGET_SPEEDUP = 5.0
#: ... and at most this many times slower than a COPY written by hand.
TARGET_COPY_RATIO = 1.3


def make_frame(rows: int, seed: int = 0) -> pd.DataFrame:
    """The benchmark's frame: int64, float64, str, Int64 with NULLs, zone-aware timestamps."""
    generator = np.random.default_rng(seed)
    counts = pd.array(generator.integers(0, 1000, rows), dtype="Int64")
    counts[::7] = pd.NA
    return pd.DataFrame(
        {
            "id": np.arange(rows, dtype="int64"),
            "amount": generator.random(rows) * 100,
            "region": pd.Series(generator.choice(["eu", "us", "apac"], rows), dtype="str"),
            "count": counts,
            "at": pd.date_range("2026-01-01", periods=rows, freq="s", tz="Europe/Paris"),
        }
    )


def by_io_kind(url: str, frame: pd.DataFrame, partition: str | None) -> None:
    manager = io_manager("postgres", IOSettings(options={"url": url}))
    manager.write(frame, WriteTarget("bench_io", partition, Path("/unused")))


def by_hand(url: str, frame: pd.DataFrame, partition: str | None) -> None:
    """What a careful engineer writes by hand: a binary COPY into a new table, or, for a
    partition, the same with the partition's key per row after deleting its rows (on an
    index of the key), in one transaction."""
    import psycopg

    columns: list[list[Any]] = [
        frame["id"].to_numpy().tolist(),
        frame["amount"].to_numpy().tolist(),
        frame["region"].tolist(),
        frame["count"].astype(object).where(frame["count"].notna(), None).tolist(),
        frame["at"].dt.tz_convert("UTC").dt.to_pydatetime().tolist(),
    ]
    names = ["id", "amount", "region", "count", "at"]
    types = ["int8", "float8", "text", "int8", "timestamptz"]
    with psycopg.connect(url) as connection:
        if partition is None:
            connection.execute("DROP TABLE IF EXISTS bench_hand")
            connection.execute(
                "CREATE TABLE bench_hand (id bigint, amount double precision, region text, "
                "count bigint, at timestamptz)"
            )
        else:
            connection.execute(
                "CREATE TABLE IF NOT EXISTS bench_hand (partition_key text NOT NULL, id bigint, "
                "amount double precision, region text, count bigint, at timestamptz)"
            )
            connection.execute(
                "CREATE INDEX IF NOT EXISTS bench_hand_key ON bench_hand (partition_key)"
            )
            connection.execute("DELETE FROM bench_hand WHERE partition_key = %s", (partition,))
            names.insert(0, "partition_key")
            types.insert(0, "text")
            columns.insert(0, [partition] * len(frame))
        with (
            connection.cursor() as cursor,
            cursor.copy(f"COPY bench_hand ({', '.join(names)}) FROM STDIN (FORMAT BINARY)") as copy,
        ):
            copy.set_types(types)
            for row in zip(*columns, strict=True):
                copy.write_row(row)


def by_to_sql(url: str, frame: pd.DataFrame) -> None:
    import sqlalchemy

    engine = sqlalchemy.create_engine(url.replace("postgresql://", "postgresql+psycopg://", 1))
    try:
        frame.to_sql(
            "bench_to_sql", engine, if_exists="replace", index=False, method="multi", chunksize=1000
        )
    finally:
        engine.dispose()


def _server() -> Any:
    path = Path(__file__).resolve().parent.parent / "tests" / "postgres_server.py"
    spec = importlib.util.spec_from_file_location("postgres_server", path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["postgres_server"] = module
    spec.loader.exec_module(module)
    return module.start_server()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=DEFAULT_ROWS)
    parser.add_argument("--sql-rows", type=int, default=DEFAULT_SQL_ROWS)
    parser.add_argument("--repeat", type=int, default=DEFAULT_REPEAT)
    parser.add_argument("--url", help="a database to load into (default: a throwaway server)")
    arguments = parser.parse_args()
    server = None
    url = arguments.url
    if url is None:
        server = _server()
        url = server.url(server.create_database("bench"))
    try:
        frame = make_frame(arguments.rows)
        timed: dict[str | None, tuple[float, float]] = {}
        for partition in (None, "2026-01-01"):
            by_io_kind(url, frame.head(10), partition)  # the pool opened: not timed
            timed[partition] = (
                best_of(arguments.repeat, lambda p=partition: by_io_kind(url, frame, p)),
                best_of(arguments.repeat, lambda p=partition: by_hand(url, frame, p)),
            )
            query = "DROP TABLE IF EXISTS bench_io; DROP TABLE IF EXISTS bench_hand"
            _execute(url, query)
        sample = frame.head(arguments.sql_rows)
        started = time.perf_counter()
        by_to_sql(url, sample)
        to_sql_s = (time.perf_counter() - started) * arguments.rows / len(sample)
    finally:
        if server is not None:
            server.stop()
    rows = arguments.rows
    print(f"rows: {rows:,} (5 columns)")
    for partition, (io_s, hand_s) in timed.items():
        what = "a partition (delete + copy)" if partition else "a whole table (copy + swap)"
        print(f"{what}:")
        print(f"  io='postgres' write:      {io_s:8.2f} s  ({rows / io_s:,.0f} rows/s)")
        print(f"  hand-written binary COPY: {hand_s:8.2f} s  ({rows / hand_s:,.0f} rows/s)")
        print(
            f"  io kind / hand COPY:      {io_s / hand_s:8.2f}   (target <= {TARGET_COPY_RATIO:g})"
        )
    io_s = timed[None][0]
    print(f"pandas to_sql (multi):      {to_sql_s:8.2f} s  (timed on {len(sample):,} rows, scaled)")
    speedup = to_sql_s / io_s
    print(f"speed-up over to_sql:       {speedup:8.1f}x  (target >= {TARGET_SPEEDUP:g}x)")


def _execute(url: str, statements: str) -> None:
    import psycopg

    with psycopg.connect(url, autocommit=True) as connection:
        for statement in statements.split(";"):
            connection.execute(statement)


if __name__ == "__main__":
    main()
