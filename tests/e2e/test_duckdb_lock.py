"""End to end: `assetflow materialize` while another process holds the DuckDB file open."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb
from click.testing import CliRunner

from assetflow.cli import cli

#: How long the failing test lets a write wait for the lock (the default is 30 s).
SHORT_LOCK_TIMEOUT_S = 1.0
#: A project that waits SHORT_LOCK_TIMEOUT_S for a held DuckDB file.
SHORT_WAIT_CONFIG = (
    f'[tool.assetflow]\nmodules = ["assets"]\nduckdb_wait = {SHORT_LOCK_TIMEOUT_S}\n'
)
#: A project that does not wait at all: it fails as soon as it finds the file held.
NO_WAIT_CONFIG = '[tool.assetflow]\nmodules = ["assets"]\nduckdb_wait = 0\n'
#: Well under the default wait (30 s): a run that does not wait ends this soon.
FAST_S = 10.0
#: How long the holder of the waiting test keeps the file, well under the default timeout.
BRIEF_HOLD_S = 2.0

ASSETS = """
    import pandas as pd

    from assetflow import asset

    @asset(io="duckdb")
    def orders() -> pd.DataFrame:
        return pd.DataFrame({"id": [1, 2, 3], "amount": [9.5, 3.0, 12.25]})
"""

HOLD = """
import sys, time, duckdb
connection = duckdb.connect(sys.argv[1])
connection.execute("create table if not exists x(i int)")
print("ready", flush=True)
time.sleep(float(sys.argv[2]))
"""


@contextmanager
def held(database: Path, seconds: float) -> Iterator[subprocess.Popen[str]]:
    """Another process with `database` open for writing, for at most `seconds`."""
    database.parent.mkdir(parents=True, exist_ok=True)
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD, str(database), str(seconds)],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None
        assert holder.stdout.readline().strip() == "ready"
        yield holder
    finally:
        holder.kill()
        holder.wait()
        holder.stdout.close()


def materialize(root: Path):
    return CliRunner().invoke(cli, ["--project", str(root), "materialize"])


def stored_rows(database: Path) -> list[tuple]:
    with duckdb.connect(str(database), read_only=True) as connection:
        return connection.sql("select id, amount from orders order by id").fetchall()


def test_a_locked_warehouse_fails_the_step_clearly_then_a_rerun_succeeds(make_project):
    root = make_project(ASSETS, config=SHORT_WAIT_CONFIG)
    database = root / ".assetflow" / "warehouse.duckdb"
    with held(database, 30) as holder:
        result = materialize(root)
        assert result.exit_code == 1, result.output
        assert f"the DuckDB file '{database}' is locked by another process" in result.output
        assert f"PID {holder.pid}" in result.output
        assert "nothing was written for asset 'orders'" in result.output
        assert "Waited 1 s (`duckdb_wait` in the project configuration). Wait for that " in (
            result.output
        )
        assert "failed" in result.output
        assert "Traceback" not in result.output

    again = materialize(root)
    assert again.exit_code == 0, again.output
    assert "succeeded" in again.output
    assert stored_rows(database) == [(1, 9.5), (2, 3.0), (3, 12.25)]


def test_a_write_waits_for_a_brief_holder_with_the_default_timeout(make_project):
    root = make_project(ASSETS)
    database = root / ".assetflow" / "warehouse.duckdb"
    with held(database, BRIEF_HOLD_S):
        started = time.monotonic()
        result = materialize(root)
        waited = time.monotonic() - started
    assert result.exit_code == 0, result.output
    assert "succeeded" in result.output
    assert waited > BRIEF_HOLD_S / 2  # it went through only once the holder let go
    assert stored_rows(database) == [(1, 9.5), (2, 3.0), (3, 12.25)]


def test_with_duckdb_wait_0_a_file_held_by_another_program_fails_at_once(make_project):
    """A BI tool keeps the warehouse open: the run does not wait the default 30 s, and the
    message names the process that holds the file."""
    root = make_project(ASSETS, config=NO_WAIT_CONFIG)
    database = root / ".assetflow" / "warehouse.duckdb"
    with held(database, 60) as holder:
        started = time.monotonic()
        result = materialize(root)
        took = time.monotonic() - started
    assert result.exit_code == 1, result.output
    assert took < FAST_S
    assert f"PID {holder.pid}" in result.output
    assert "Waited 0 s (`duckdb_wait` in the project configuration)" in result.output
    assert "docs/partitions.md" in result.output


def test_show_of_a_held_warehouse_fails_at_once_naming_the_holder(make_project):
    root = make_project(ASSETS, config=NO_WAIT_CONFIG)
    assert materialize(root).exit_code == 0
    database = root / ".assetflow" / "warehouse.duckdb"
    with held(database, 60) as holder:
        started = time.monotonic()
        result = CliRunner().invoke(cli, ["--project", str(root), "show", "orders"])
        took = time.monotonic() - started
    assert result.exit_code == 1, result.output
    assert took < FAST_S
    assert f"the DuckDB file '{database}' is locked by another process" in result.output
    assert f"PID {holder.pid}" in result.output
    assert "the output of asset 'orders' could not be read" in result.output


def test_a_reader_that_copies_the_file_under_the_queue_lock_never_blocks_a_load(
    make_project,
):
    """What docs/partitions.md tells BI tools: copy the warehouse while holding assetflow's
    queue lock shared (as `flock -s` does), then read the copy for as long as you like."""
    import fcntl
    import shutil

    root = make_project(ASSETS, config=NO_WAIT_CONFIG)
    assert materialize(root).exit_code == 0
    database = root / ".assetflow" / "warehouse.duckdb"
    copy = root / "bi.duckdb"
    with open(f"{database}.lock", "a+b") as lock:
        fcntl.flock(lock, fcntl.LOCK_SH)
        shutil.copyfile(database, copy)
        fcntl.flock(lock, fcntl.LOCK_UN)
    with duckdb.connect(str(copy), read_only=True) as reader:
        again = CliRunner().invoke(cli, ["--project", str(root), "materialize", "--force"])
        assert again.exit_code == 0, again.output
        assert reader.execute("select count(*) from orders").fetchone() == (3,)
