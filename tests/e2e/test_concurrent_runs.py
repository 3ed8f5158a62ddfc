"""End to end: four processes materialize overlapping selections of one project at once.

Each process runs ROUNDS rounds in a row (`materialize SELECTION --force`, so
every round has work), the four at the same time, over assets that share
partitions, a DuckDB table and unpartitioned readers. Afterwards:

- every round exited 0 and no output mentions a lock error or a traceback;
- every run is recorded with a final state (none left `running`), and no lease
  is left behind;
- no two materializations of one asset-partition overlap in time: sorted by
  start, each starts after the one before finished;
- the runs did overlap, and steps did wait for each other's leases (so the
  test is not vacuous), and the data is whole: every DuckDB partition has its
  rows once, and a plan afterwards has nothing to do.

The default test keeps each of the four processes alive for its 25 rounds,
calling `assetflow.cli.invoke` (what the console script runs) once per round:
25 rounds of 4 fresh CLI processes cost about 1.3 CPU-seconds each, which is
over 60 s on 2 cores before any waiting. The slow variant starts a fresh
`python -m assetflow.cli` process for every round.
"""

from __future__ import annotations

import re
import sqlite3
import subprocess
import sys
import time
from collections import defaultdict
from datetime import datetime
from itertools import combinations, pairwise
from pathlib import Path

import duckdb
import pytest
from click.testing import CliRunner

from assetflow.cli import cli

ROUNDS = 25
#: How long a test waits for the four processes before calling them stuck.
TIMEOUT_S = 600.0
#: Each asset sleeps this long, so that steps of different runs meet.
PAUSE_S = 0.02
DAYS = ("2026-03-01", "2026-03-02", "2026-03-03", "2026-03-04")

ASSETS = f"""
import time

import pandas as pd

from assetflow import DailyPartitions, asset

days = DailyPartitions(start="{DAYS[0]}", end="2026-03-05")
PAUSE_S = {PAUSE_S}


@asset(partitions=days)
def orders(context) -> pd.DataFrame:
    time.sleep(PAUSE_S)
    return pd.DataFrame({{"day": [context.partition_key] * 3, "amount": [1.0, 2.0, 3.0]}})


@asset(partitions=days, io="duckdb")
def clean_orders(orders: pd.DataFrame) -> pd.DataFrame:
    time.sleep(PAUSE_S)
    return orders[orders["amount"] > 1.0]


@asset(partitions=days)
def day_summary(clean_orders: pd.DataFrame) -> dict:
    time.sleep(PAUSE_S)
    return {{"rows": len(clean_orders), "amount": float(clean_orders["amount"].sum())}}


@asset
def totals(clean_orders: pd.DataFrame) -> dict:
    time.sleep(PAUSE_S)
    return {{"rows": len(clean_orders)}}


@asset
def order_count(orders: pd.DataFrame) -> dict:
    time.sleep(PAUSE_S)
    return {{"rows": len(orders)}}
"""

#: What each of the four processes materializes: every asset-partition is in two or more.
SELECTIONS = (
    ("*",),
    ("+totals",),
    ("clean_orders+",),
    ("orders day_summary order_count", "--from", DAYS[1], "--to", DAYS[3]),
)

#: One process's rounds, each `materialize ... --force --workers 2` (steps in forked
#: workers). In "inline" mode each round calls the console script's entry point in this
#: process; in "process" mode each round is a fresh CLI process. The process says it is
#: ready, then waits for the test's "go", so that the four start together.
DRIVER = """
import subprocess, sys, time
from pathlib import Path

mode, root, rounds, go, ready, *options = sys.argv[1:]
command = ["--project", root, "materialize", *options, "--force", "--workers", "2"]
if mode == "inline":
    import assetflow.api, assetflow.cli  # loaded before the start, as a warm process would be
    assetflow.api.load(root)
Path(ready).touch()
while not Path(go).exists():
    time.sleep(0.005)
for number in range(int(rounds)):
    print(f"=== round {number}", flush=True)
    if mode == "inline":
        sys.argv = ["assetflow", *command]
        code = assetflow.cli.invoke()
    else:
        code = subprocess.run([sys.executable, "-m", "assetflow.cli", *command]).returncode
    sys.stdout.flush()
    sys.stderr.flush()
    print(f"=== exit {code}", flush=True)
"""

LOCK_ERROR = re.compile(r"locked|lock (error|held|timeout)|conflicting lock", re.IGNORECASE)


def store_rows(root: Path, sql: str) -> list[tuple]:
    database = root / ".assetflow" / "metadata.sqlite"
    connection = sqlite3.connect(f"file:{database}?mode=ro", uri=True)
    try:
        return connection.execute(sql).fetchall()
    finally:
        connection.close()


def start_together(root: Path, mode: str) -> list[tuple[subprocess.Popen[bytes], Path]]:
    """Start the four processes, wait until each is ready, then let them go at once."""
    go = root / "go"
    started = []
    for number, options in enumerate(SELECTIONS):
        log = root / f"process-{number}.log"
        ready = root / f"ready-{number}"
        arguments = [mode, str(root), str(ROUNDS), str(go), str(ready), *options]
        with log.open("wb") as output:
            process = subprocess.Popen(
                [sys.executable, "-c", DRIVER, *arguments],
                stdout=output,
                stderr=subprocess.STDOUT,
            )
        started.append((process, log))
    deadline = time.monotonic() + TIMEOUT_S
    while not all((root / f"ready-{number}").exists() for number in range(len(SELECTIONS))):
        for process, log in started:
            assert process.poll() is None, f"a process ended before the start:\n{log.read_text()}"
        assert time.monotonic() < deadline, "the processes never got ready"
        time.sleep(0.01)
    go.touch()
    return started


def wait_for_all(started: list[tuple[subprocess.Popen[bytes], Path]]) -> list[str]:
    """Each process's output, once all have exited 0."""
    outputs = []
    try:
        for process, log in started:
            code = process.wait(timeout=TIMEOUT_S)
            output = log.read_text()
            assert code == 0, f"{log.name} exited {code}:\n{output}"
            outputs.append(output)
    finally:
        for process, _ in started:
            if process.poll() is None:
                process.kill()
                process.wait()
    return outputs


def check_outputs(outputs: list[str]) -> int:
    """Every round exited 0 and said nothing of locks or tracebacks; how many steps waited."""
    waits = 0
    for number, output in enumerate(outputs):
        codes = re.findall(r"^=== exit (\d+)$", output, re.MULTILINE)
        assert len(codes) == ROUNDS, f"process {number} ran {len(codes)} rounds:\n{output}"
        for round_number, chunk in enumerate(output.split("=== round ")[1:]):
            where = f"process {number} ({' '.join(SELECTIONS[number])}), round {round_number}"
            assert chunk.rstrip().endswith("=== exit 0"), f"{where} failed:\n{chunk}"
            assert not LOCK_ERROR.search(chunk), f"{where} reported a lock error:\n{chunk}"
            assert "Traceback" not in chunk, f"{where}:\n{chunk}"
            assert "Error" not in chunk, f"{where}:\n{chunk}"
            assert re.search(r"^Run \w+ succeeded", chunk, re.MULTILINE), f"{where}:\n{chunk}"
        waits += len(re.findall(r"waiting: run \w+ \(pid \d+\) is materializing it", output))
    return waits


def check_runs(root: Path) -> None:
    """Every run ended successfully, no lease is left, and the runs overlapped in time."""
    runs = store_rows(root, "SELECT run_id, status, started_at, finished_at FROM runs")
    assert len(runs) == 1 + len(SELECTIONS) * ROUNDS
    unfinished = [run for run in runs if run[1] != "success" or run[3] is None]
    assert not unfinished, f"runs without a successful end: {unfinished}"
    assert store_rows(root, "SELECT * FROM leases") == []
    intervals = sorted(
        (datetime.fromisoformat(started), datetime.fromisoformat(finished))
        for _, _, started, finished in runs
    )
    overlapping = sum(1 for first, second in combinations(intervals, 2) if second[0] < first[1])
    assert overlapping >= ROUNDS, f"only {overlapping} pairs of runs overlapped in time"


def check_no_overlapping_materializations(root: Path) -> int:
    """No asset-partition was materialized by two runs at once; how many were recorded."""
    rows = store_rows(
        root,
        "SELECT asset, partition_key, run_id, started_at, finished_at FROM materializations",
    )
    by_key: dict[tuple[str, str | None], list[tuple[datetime, datetime, str]]] = defaultdict(list)
    for asset, partition, run_id, started_at, finished_at in rows:
        by_key[asset, partition].append(
            (datetime.fromisoformat(started_at), datetime.fromisoformat(finished_at), run_id)
        )
    overlaps = []
    for key, spans in by_key.items():
        for before, after in pairwise(sorted(spans)):
            if after[0] < before[1]:
                overlaps.append(
                    f"{key}: run {before[2][:8]} {before[0].time()}..{before[1].time()} and "
                    f"run {after[2][:8]} {after[0].time()}..{after[1].time()}"
                )
    assert not overlaps, f"{len(overlaps)} overlapping materializations:\n" + "\n".join(
        overlaps[:20]
    )
    return len(rows)


def check_data(root: Path) -> None:
    """Each DuckDB partition holds its rows once, and nothing is stale afterwards."""
    database = root / ".assetflow" / "warehouse.duckdb"
    with duckdb.connect(str(database), read_only=True) as connection:
        counts = connection.sql(
            "SELECT partition_key, count(*) FROM clean_orders GROUP BY 1 ORDER BY 1"
        ).fetchall()
    assert counts == [(day, 2) for day in DAYS]
    plan = CliRunner().invoke(cli, ["--project", str(root), "plan"])
    assert plan.exit_code == 0, plan.output
    assert plan.output.startswith("Nothing to do"), plan.output


def concurrent_rounds(make_project, mode: str) -> None:
    root = make_project(ASSETS)
    first = CliRunner().invoke(cli, ["--project", str(root), "materialize"])
    assert first.exit_code == 0, first.output
    began = time.monotonic()
    outputs = wait_for_all(start_together(root, mode))
    elapsed = time.monotonic() - began
    waits = check_outputs(outputs)
    check_runs(root)
    materializations = check_no_overlapping_materializations(root)
    check_data(root)
    meanwhile = sum(output.count("materialized meanwhile by run") for output in outputs)
    print(
        f"{mode}: {len(SELECTIONS)} processes x {ROUNDS} rounds in {elapsed:.1f} s: "
        f"{materializations} materializations, {waits} steps waited for a lease, "
        f"{meanwhile} skipped as materialized meanwhile"
    )
    assert waits > 0, "no step ever waited for another run's lease: the runs did not contend"


def test_four_processes_materialize_overlapping_selections_at_once(make_project):
    concurrent_rounds(make_project, "inline")


@pytest.mark.slow
def test_four_processes_of_fresh_cli_runs_materialize_overlapping_selections(make_project):
    concurrent_rounds(make_project, "process")
