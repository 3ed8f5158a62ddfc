"""Benchmark: assetflow on PostgreSQL, both halves, against a local server.

Run it as a script: ``python bench/bench_postgres.py [--only io|store]``; it also takes
bench_postgres_io.py's options, such as ``--rows``. It starts a throwaway server of its
own (as the tests do) and stops it at the end. It prints:

- the ``postgres`` io kind: a 1,000,000-row frame loaded through ``io="postgres"``
  vs pandas ``to_sql`` and vs a binary COPY written by hand (bench_postgres_io.py
  does that part; targets: at least 5x faster than ``to_sql``, within 1.3x of the
  COPY by hand);
- the metadata store: the per-asset cost of materializing a chain of 100 trivial
  assets (and of re-planning it once fresh) on a PostgreSQL store vs the embedded
  SQLite one, in this process (target: under 2x);
- concurrency: 4 processes materializing the same 25 daily partitions of a
  5-asset chain on one PostgreSQL store at once, each its own 25 runs (target: 0
  errors, and exactly one materialization of each asset-partition: a process that
  finds a step's lease held waits, then finds the output fresh).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path
from typing import Any

from bench_materialize import chain_module
from bench_postgres_io import _server
from bench_postgres_io import main as io_main

import assetflow

CHAIN = 100
REPEATS = 3
PROCESSES = 4
ROUNDS = 25
#: The PostgreSQL store may cost at most this many times SQLite's per asset.
TARGET_STORE_RATIO = 2.0
STORE_ENV = "ASSETFLOW_BENCH_STORE"

PARTITIONED = textwrap.dedent(
    """
    from assetflow import DailyPartitions, asset

    days = DailyPartitions(start="2026-01-01")

    @asset(partitions=days)
    def p0() -> dict:
        return {"n": 1}
    """
) + "".join(
    f"\n@asset(partitions=days)\ndef p{i}(p{i - 1}: dict) -> dict:\n    return p{i - 1}\n"
    for i in range(1, 5)
)

WORKER = textwrap.dedent(
    """
    import sys
    import assetflow
    from assetflow.request import PartitionRequest

    root, rounds = sys.argv[1], int(sys.argv[2])
    project = assetflow.load(root)
    errors = 0
    for day in range(1, rounds + 1):
        key = f"2026-01-{day:02d}"
        try:
            result = assetflow.materialize(
                "*", project=project, partitions=PartitionRequest.one(key), executor="inprocess"
            )
            errors += 0 if result.success else 1
        except Exception as error:
            print(f"round {day}: {type(error).__name__}: {error}", file=sys.stderr)
            errors += 1
    print(errors)
    """
)


def make_project(root: Path, module: str, *, postgres: bool) -> Path:
    root.mkdir(parents=True)
    store = f'store_env = "{STORE_ENV}"\n' if postgres else ""
    (root / "pyproject.toml").write_text(f'[tool.assetflow]\nmodules = ["bench_assets"]\n{store}')
    (root / "bench_assets.py").write_text(module)
    return root


def migrate(root: Path) -> None:
    subprocess.run(
        [sys.executable, "-m", "assetflow", "--project", str(root), "store", "migrate"],
        check=True,
        capture_output=True,
    )


def chain_cost(server: Any, work: Path, *, postgres: bool) -> tuple[float, float]:
    """Best first-run and fresh re-plan milliseconds per asset of the chain."""
    first, again = [], []
    for attempt in range(REPEATS):
        name = f"{'pg' if postgres else 'sqlite'}-chain-{attempt}"
        root = make_project(work / name, chain_module(CHAIN, "json"), postgres=postgres)
        if postgres:
            os.environ[STORE_ENV] = server.url(server.create_database(name.replace("-", "_")))
            migrate(root)
        project = assetflow.load(root)
        started = time.perf_counter()
        result = assetflow.materialize("*", project=project, executor="inprocess")
        first.append(time.perf_counter() - started)
        assert result.success, result.failures()
        started = time.perf_counter()
        fresh = assetflow.materialize("*", project=project, executor="inprocess")
        again.append(time.perf_counter() - started)
        assert fresh.plan.is_empty
    return min(first) / CHAIN * 1000, min(again) / CHAIN * 1000


def store_overhead(server: Any, work: Path) -> None:
    sqlite_first, sqlite_again = chain_cost(server, work, postgres=False)
    pg_first, pg_again = chain_cost(server, work, postgres=True)
    print(f"chain of {CHAIN} trivial assets, in process, best of {REPEATS}:")
    print(
        f"  SQLite store:      first run {sqlite_first:6.2f} ms/asset   "
        f"fresh re-plan {sqlite_again:6.2f} ms/asset"
    )
    print(
        f"  PostgreSQL store:  first run {pg_first:6.2f} ms/asset   "
        f"fresh re-plan {pg_again:6.2f} ms/asset"
    )
    print(
        f"  PostgreSQL / SQLite: {pg_first / sqlite_first:5.2f}x first run, "
        f"{pg_again / sqlite_again:5.2f}x re-plan  (target < {TARGET_STORE_RATIO:g}x)"
    )


def concurrency(server: Any, work: Path) -> None:
    import psycopg

    root = make_project(work / "pg-concurrent", PARTITIONED, postgres=True)
    url = server.url(server.create_database("concurrent"))
    os.environ[STORE_ENV] = url
    migrate(root)
    script = work / "worker.py"
    script.write_text(WORKER)
    started = time.perf_counter()
    workers = [
        subprocess.Popen(
            [sys.executable, str(script), str(root), str(ROUNDS)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(PROCESSES)
    ]
    errors = 0
    for worker in workers:
        out, err = worker.communicate()
        if worker.returncode != 0:
            print(err.strip(), file=sys.stderr)
            errors += ROUNDS
        else:
            errors += int(out.strip().splitlines()[-1])
            if err.strip():
                print(err.strip(), file=sys.stderr)
    elapsed = time.perf_counter() - started
    with psycopg.connect(url) as connection:
        total, distinct = connection.execute(
            "SELECT count(*), count(DISTINCT (asset, partition_key)) FROM materializations"
        ).fetchone()
        runs = connection.execute("SELECT count(*) FROM runs").fetchone()[0]
    print(
        f"{PROCESSES} processes x {ROUNDS} rounds on one PostgreSQL store: {elapsed:.1f} s, "
        f"{runs} runs, {errors} errors, {total} materializations of {distinct} "
        f"asset-partitions ({total - distinct} duplicated; expected {5 * ROUNDS} and 0)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", choices=("io", "store"), help="run one half only")
    arguments, rest = parser.parse_known_args()
    if arguments.only != "store":
        sys.argv = [sys.argv[0], *rest]
        io_main()
    if arguments.only == "io":
        return
    server = _server()
    try:
        with tempfile.TemporaryDirectory() as directory:
            work = Path(directory)
            store_overhead(server, work)
            concurrency(server, work)
    finally:
        server.stop()


if __name__ == "__main__":
    main()
