"""End to end: `assetflow materialize` while another process holds the DuckDB file open."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb
import pytest
from click.testing import CliRunner

from assetflow.cli import cli
from assetflow.io.output import DUCKDB_LOCK_TIMEOUT_S, write_output

#: How long the failing test lets a write wait for the lock (the default is 30 s).
SHORT_LOCK_TIMEOUT_S = 1.0
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


@pytest.fixture
def short_lock_timeout(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make a write give up after SHORT_LOCK_TIMEOUT_S.

    The timeout is a keyword argument of `write_output` whose default is bound from
    DUCKDB_LOCK_TIMEOUT_S when the module is imported (so patching the constant does
    nothing), and no option or environment variable sets it: the default itself is set.
    """
    assert write_output.__kwdefaults__["lock_timeout"] == DUCKDB_LOCK_TIMEOUT_S
    monkeypatch.setitem(write_output.__kwdefaults__, "lock_timeout", SHORT_LOCK_TIMEOUT_S)


def test_a_locked_warehouse_fails_the_step_clearly_then_a_rerun_succeeds(
    make_project, short_lock_timeout
):
    root = make_project(ASSETS)
    database = root / ".assetflow" / "warehouse.duckdb"
    with held(database, 30) as holder:
        result = materialize(root)
        assert result.exit_code == 1, result.output
        assert f"the DuckDB file '{database}' is locked by another process" in result.output
        assert f"PID {holder.pid}" in result.output
        assert "nothing was written for asset 'orders'" in result.output
        assert "Waited 1 s. Wait for that process to finish or close it, then re-run." in (
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
