"""End to end: `kill -9` of a run while it writes a big output leaves the old output or the new.

Each trial changes the file the assets read (so the output changes), starts
`assetflow materialize` in its own process group, waits until the asset has
computed its value (it leaves a marker file just before it returns), sleeps a
random part of the time the previous complete run took to write and record
the output, and SIGKILLs the whole group (the coordinator and its forked
workers). Then:

- every Parquet file a reader would see (not the hidden temporary files) reads
  completely and holds the old version or the new one, whole;
- the DuckDB partition holds exactly the old rows or exactly the new ones, and
  the partition beside it is untouched;
- the next `assetflow materialize` marks the killed run crashed, exits 0 and
  leaves the new version.

The trials of one kind share a project: the run that recovers from trial k is
the complete "old" version of trial k + 1 (and its timings set the kill window
of trial k + 1), so a crash after earlier crashes is tested too. The seed is
printed (and in every assertion message); set ASSETFLOW_CRASH_SEED to replay it.
"""

from __future__ import annotations

import contextlib
import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import duckdb
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner

from assetflow.cli import cli

pytestmark = pytest.mark.skipif(os.name != "posix", reason="SIGKILL and process groups")

#: Rows of the big output; each version adds its number, so versions differ in length too.
#: With an incompressible column, 1M rows take ~0.1 s (Parquet) to ~0.3 s (DuckDB) from
#: the marker to the recorded write on a 2-core VM, and 20 trials ~45 s.
ROWS = 1_000_000
#: Rows of the DuckDB partition that no trial touches.
NEIGHBOUR_ROWS = 1_000
DAY = "2026-03-01"
NEIGHBOUR_DAY = "2026-03-02"
#: Trials per kind in the default suite (3 kinds: 30 in all), and in the slow one.
TRIALS = 10
SLOW_TRIALS = 50
#: The kill comes at most this many times the measured write time after the marker: a
#: little past the end covers the gap between the rename (or commit) and its record.
WINDOW_STRETCH = 1.2
#: At least this share of the trials must kill a running run, or the window is wrong
#: (on a loaded 2-core VM, 1 to 3 runs in 10 had recorded their end before the kill).
MIN_KILLED_SHARE = 0.5
#: How long a test waits for a run to reach a point before it gives up.
WAIT_S = 60.0
POLL_S = 0.002
#: The index of num_threads in /proc/PID/stat, counted from the state field.
NUM_THREADS = 17

ASSETS = f"""
import time
from pathlib import Path

import numpy as np
import pandas as pd

from assetflow import DailyPartitions, asset, file_source

ROWS = {ROWS}
NEIGHBOUR_ROWS = {NEIGHBOUR_ROWS}
HERE = Path(__file__).parent
days = DailyPartitions(start="{DAY}", end="2026-03-03")
version_file = file_source("version_file", "version.txt")


def frame(version_file, rows):
    version = int(version_file.read_text())
    ids = np.arange(rows + version, dtype=np.int64)
    noise = np.random.default_rng(version).random(len(ids))  # incompressible: real bytes
    return pd.DataFrame({{"id": ids, "version": np.full(len(ids), version), "value": noise}})


def computed(name):
    # Just before the value goes to be written: the test's clock for the kill.
    (HERE / f"{{name}}.computed").write_text(repr(time.time()))


@asset
def big_table(version_file: Path) -> pd.DataFrame:
    value = frame(version_file, ROWS)
    computed("big_table")
    return value


@asset(partitions=days, io="duckdb")
def warehouse_rows(context, version_file: Path) -> pd.DataFrame:
    small = context.partition_key != "{DAY}"
    value = frame(version_file, NEIGHBOUR_ROWS if small else ROWS)
    if not small:
        computed("warehouse_rows")
    return value
"""


@dataclass(frozen=True)
class Kind:
    """One kind of output under test: the asset, and the options that select its step."""

    asset: str
    options: tuple[str, ...]


PARQUET = Kind("big_table", ())
DUCKDB = Kind("warehouse_rows", ("--partition", DAY))
#: The Parquet write on the in-process executor: the coordinator's own thread writes the
#: file unsynced, and syncs and records it with its group of finished steps.
PARQUET_IN_PROCESS = Kind("big_table", ("--executor", "inprocess"))
KINDS = [PARQUET, PARQUET_IN_PROCESS, DUCKDB]
KIND_IDS = ["parquet", "parquet-inprocess", "duckdb"]


@dataclass
class Tally:
    """What the trials of one test saw."""

    killed: int = 0
    finished_first: int = 0
    #: of the killed runs, how many left the old version visible, and how many the new
    killed_old: int = 0
    killed_new: int = 0
    crashed_run_ids: list[str] = field(default_factory=list)


def materialize(root: Path, kind: Kind) -> subprocess.Popen[str]:
    """`assetflow materialize` of the kind's step, as the leader of a new process group."""
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "assetflow.cli",
            "--project",
            str(root),
            "materialize",
            kind.asset,
            *kind.options,
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )


def complete(root: Path, kind: Kind, where: str) -> str:
    """Run `assetflow materialize` to the end; it must exit 0. Its output."""
    process = materialize(root, kind)
    output, _ = process.communicate(timeout=WAIT_S)
    assert process.returncode == 0, f"{where}: the run failed:\n{output}"
    return output


def store_rows(root: Path, sql: str, *params: object) -> list[tuple]:
    connection = sqlite3.connect(
        f"file:{root / '.assetflow' / 'metadata.sqlite'}?mode=ro", uri=True
    )
    try:
        return connection.execute(sql, params).fetchall()
    finally:
        connection.close()


def write_seconds(root: Path, kind: Kind) -> float:
    """How long the newest complete run took from the asset's marker to the recorded write."""
    [(finished_at,)] = store_rows(
        root,
        "SELECT finished_at FROM materializations WHERE asset = ? "
        "AND COALESCE(partition_key, '') = ? ORDER BY finished_at DESC LIMIT 1",
        kind.asset,
        DAY if kind is DUCKDB else "",
    )
    computed_at = float((root / f"{kind.asset}.computed").read_text())
    return datetime.fromisoformat(finished_at).timestamp() - computed_at


def kill_while_writing(root: Path, kind: Kind, delay: float, where: str) -> int:
    """Start a run and SIGKILL its process group `delay` s after the marker; the run's pid."""
    marker = root / f"{kind.asset}.computed"
    marker.unlink()
    process = materialize(root, kind)
    try:
        deadline = time.monotonic() + WAIT_S
        while not marker.exists():
            if process.poll() is not None:
                assert process.stdout is not None
                pytest.fail(f"{where}: the run ended first:\n{process.stdout.read()}")
            assert time.monotonic() < deadline, f"{where}: the asset never computed"
            time.sleep(POLL_S)
        time.sleep(delay)
    finally:
        with contextlib.suppress(ProcessLookupError):  # the whole group had ended
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()
        assert process.stdout is not None
        process.stdout.close()
    wait_until_gone(process.pid, where)
    return process.pid


def wait_until_gone(group: int, where: str) -> None:
    """Wait until no process of the group runs: SIGKILL is delivered, not awaited, and a
    dying worker still holds its files (the DuckDB lock) until the kernel has torn it down.
    Only the leader is our child; its orphaned workers are reaped by someone else, so
    zombies count as gone."""
    deadline = time.monotonic() + WAIT_S
    while group_members(group):
        assert time.monotonic() < deadline, f"{where}: processes {group_members(group)} live on"
        time.sleep(POLL_S)


def group_members(group: int) -> list[int]:
    """The processes of a process group that have not yet died (zombies have)."""
    proc = Path("/proc")
    if not proc.is_dir():  # no procfs: ask the kernel about the group as a whole
        try:
            os.killpg(group, 0)
        except ProcessLookupError:
            return []
        return [group]
    members = []
    for stat in proc.glob("[0-9]*/stat"):
        try:
            # "pid (comm) state ppid pgrp ...": comm may hold spaces, so split after ')'
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue  # ended while we looked
        # A zombie whose other threads still run is dying, not dead: it holds its files.
        is_dead = fields[0] == "Z" and int(fields[NUM_THREADS]) <= 1
        if int(fields[2]) == group and not is_dead:
            members.append(int(stat.parent.name))
    return members


def parquet_versions(root: Path, old: int, new: int, where: str) -> set[int]:
    """The version each visible Parquet file holds; fails on a partial or mixed file."""
    found = set()
    visible = [
        path
        for path in (root / ".assetflow" / "data").rglob("*.parquet")
        if not any(part.startswith(".") for part in path.relative_to(root).parts[1:])
    ]
    for path in visible:
        try:
            table = pq.read_table(path)
        except Exception as error:
            pytest.fail(f"{where}: {path} does not read: {type(error).__name__}: {error}")
        versions = set(pc.unique(table.column("version")).to_pylist())
        assert len(versions) == 1, f"{where}: {path} mixes versions {sorted(versions)}"
        [version] = versions
        assert version in (old, new), f"{where}: {path} holds version {version}, not {old}/{new}"
        assert table.num_rows == ROWS + version, f"{where}: {path} has {table.num_rows} rows"
        assert pc.max(table.column("id")).as_py() == ROWS + version - 1, f"{where}: {path}"
        found.add(version)
    return found


def duckdb_counts(root: Path) -> dict[str, dict[int, int]]:
    """{partition key: {version: rows}} of the DuckDB table, read without writing the file."""
    database = root / ".assetflow" / "warehouse.duckdb"
    with duckdb.connect(str(database), read_only=True) as connection:
        rows = connection.sql(
            "SELECT partition_key, version, count(*) FROM warehouse_rows GROUP BY 1, 2"
        ).fetchall()
    counts: dict[str, dict[int, int]] = {}
    for key, version, count in rows:
        counts.setdefault(key, {})[version] = count
    return counts


def check_duckdb(root: Path, old: int, new: int, where: str) -> set[int]:
    counts = duckdb_counts(root)
    assert counts.get(NEIGHBOUR_DAY) == {1: NEIGHBOUR_ROWS + 1}, (
        f"{where}: the untouched partition {NEIGHBOUR_DAY} changed: {counts.get(NEIGHBOUR_DAY)}"
    )
    partition = counts.get(DAY, {})
    assert partition in ({old: ROWS + old}, {new: ROWS + new}), (
        f"{where}: partition {DAY} holds {{version: rows}} {partition}; expected exactly "
        f"{{{old}: {ROWS + old}}} (old) or {{{new}: {ROWS + new}}} (new)"
    )
    return set(partition)


def visible_versions(root: Path, kind: Kind, old: int, new: int, where: str) -> set[int]:
    found = parquet_versions(root, old, new, where)
    if kind is DUCKDB:
        return check_duckdb(root, old, new, where)
    assert len(found) == 1, f"{where}: expected one Parquet file, found versions {found}"
    return found


def run_ids(root: Path) -> set[str]:
    return {run_id for (run_id,) in store_rows(root, "SELECT run_id FROM runs")}


def run_trials(root: Path, kind: Kind, trials: int, seed: int) -> Tally:
    rng = random.Random(seed)
    tally = Tally()
    (root / "version.txt").write_text("1")
    assert "1 materialized" in complete(root, kind, f"seed {seed}, first run")
    if kind is DUCKDB:
        complete(root, Kind(kind.asset, ("--partition", NEIGHBOUR_DAY)), f"seed {seed}")
    for trial in range(1, trials + 1):
        old, new = trial, trial + 1
        window = WINDOW_STRETCH * write_seconds(root, kind)
        delay = rng.uniform(0.0, window)
        where = f"seed {seed}, {kind.asset} trial {trial} (kill {delay:.3f} s after the marker)"
        (root / "version.txt").write_text(str(new))
        before = run_ids(root)

        pid = kill_while_writing(root, kind, delay, where)
        [run_id] = run_ids(root) - before
        [(status, run_pid)] = store_rows(
            root, "SELECT status, pid FROM runs WHERE run_id = ?", run_id
        )
        assert run_pid == pid, f"{where}: run {run_id} has pid {run_pid}, not {pid}"
        # A kill after the run recorded its end (while the process shut down) is no crash.
        was_running = status == "running"
        if was_running:
            tally.killed += 1
        else:
            tally.finished_first += 1
            assert status == "success", f"{where}: the killed run is recorded {status!r}"
        recorded = store_rows(
            root, "SELECT data_version FROM materializations WHERE run_id = ?", run_id
        )

        seen = visible_versions(root, kind, old, new, where)
        if was_running:
            tally.killed_old += old in seen
            tally.killed_new += new in seen
        if recorded:  # the store says the new output is there: it must be
            assert seen == {new}, f"{where}: run {run_id} recorded its output, yet {seen} is seen"

        after = complete(root, kind, f"{where}, the run after")
        expected = "Nothing to do" if recorded else "1 materialized"
        assert expected in after, f"{where}: the run after the kill said:\n{after}"
        if was_running:
            [(status,)] = store_rows(root, "SELECT status FROM runs WHERE run_id = ?", run_id)
            assert status == "crashed", f"{where}: after the next run it is {status!r}"
            tally.crashed_run_ids.append(run_id)
        assert visible_versions(root, kind, old, new, where) == {new}, where
    return tally


def check_runs_listing(root: Path, tally: Tally) -> None:
    """`assetflow runs` lists every killed run as crashed, and no run as running."""
    listed = CliRunner().invoke(cli, ["--project", str(root), "runs", "-n", "1000"])
    assert listed.exit_code == 0, listed.output
    states = {line.split()[0]: line for line in listed.output.splitlines()[1:]}
    for run_id in tally.crashed_run_ids:
        assert " crashed " in states[run_id[:8]], states[run_id[:8]]
    assert not [line for line in states.values() if " running " in line]


def crash_trials(make_project, kind: Kind, trials: int) -> None:
    seed = int(os.environ.get("ASSETFLOW_CRASH_SEED", random.SystemRandom().randrange(2**32)))
    print(f"crash trials of {kind.asset}: seed {seed} (ASSETFLOW_CRASH_SEED={seed} replays it)")
    root = make_project(ASSETS)
    started = time.monotonic()
    tally = run_trials(root, kind, trials, seed)
    check_runs_listing(root, tally)
    leftovers = [path.name for path in (root / ".assetflow" / "data").rglob(".*.tmp")]
    print(
        f"{kind.asset}: {trials} trials in {time.monotonic() - started:.1f} s: "
        f"{tally.killed} killed mid-run ({tally.killed_old} left the old version, "
        f"{tally.killed_new} the new), {tally.finished_first} finished before the kill; "
        f"{len(leftovers)} hidden temporary files left behind"
    )
    # Each recovery run deleted the temp files its killed predecessor's writers left.
    assert leftovers == [], f"seed {seed}: temporary files left behind: {leftovers}"
    assert tally.killed >= MIN_KILLED_SHARE * trials, (
        f"seed {seed}: only {tally.killed} of {trials} runs were still running when killed: "
        "the kill window is miscalibrated"
    )


@pytest.mark.parametrize("kind", KINDS, ids=KIND_IDS)
def test_kill_9_while_writing_leaves_the_old_or_the_new_output(make_project, kind):
    crash_trials(make_project, kind, TRIALS)


@pytest.mark.slow
@pytest.mark.parametrize("kind", KINDS, ids=KIND_IDS)
def test_kill_9_while_writing_many_times(make_project, kind):
    crash_trials(make_project, kind, SLOW_TRIALS)
