"""End to end: `assetflow runs` and `runs show`, failed steps, and runs whose process died."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from datetime import UTC, datetime

import pytest
from click.testing import CliRunner

from assetflow.api import load, open_project_store
from assetflow.cli import cli
from assetflow.store import RunRecord, RunStatus
from tests.e2e.processes import wait_until

FAILING_PROJECT = """
from assetflow import asset

@asset
def good() -> dict:
    return {"ok": 1}

@asset
def broken(good: dict) -> dict:
    return good["missing"]

@asset
def after(broken: dict) -> dict:
    return broken

@asset
def independent() -> list:
    return [1, 2]
"""

#: How long a test waits for a subprocess to reach a point before it gives up.
WAIT_S = 60.0


def run(project, *args):
    return CliRunner().invoke(cli, ["--project", str(project), *args])


def runs_of(root) -> list[RunRecord]:
    with open_project_store(load(root)) as store:
        return store.list_runs()


def dead_pid() -> int:
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid


def test_runs_show_tells_the_failed_step_with_its_error_and_the_skipped_downstream(
    make_project,
):
    root = make_project(FAILING_PROJECT)
    assert run(root, "materialize").exit_code == 1
    [record] = runs_of(root)

    shown = run(root, "runs", "show", record.run_id[:6])
    assert shown.exit_code == 0, shown.output
    lines = shown.output.splitlines()
    assert lines[0] == f"Run {record.run_id}"
    assert "  status     failed" in lines
    assert "  trigger    cli" in lines
    assert "  selection  *" in lines
    assert "  steps      2 materialized, 1 failed, 1 skipped" in lines
    table = lines[lines.index("") + 1 :]
    assert table[0].split() == ["STEP", "STATE", "ATTEMPT", "WORKER", "DURATION", "MESSAGE"]
    rows = {line.split()[0]: line for line in table[1:5]}
    assert set(rows) == {"good", "broken", "after", "independent"}
    assert rows["good"].split()[1:4] == ["materialized", "1", "pid"]
    assert rows["broken"].split()[1:4] == ["failed", "1", "pid"]
    # Each step names the worker process it ran in: not this one, which coordinated.
    workers = {int(rows[name].split()[4]) for name in ("good", "broken")}
    assert os.getpid() not in workers
    assert rows["broken"].endswith("asset 'broken' raised KeyError: 'missing'")
    assert rows["after"].split()[1:4] == ["skipped", "1", "-"]
    assert rows["after"].endswith("upstream failed: broken")
    # The full error follows the table, with the user's traceback.
    details = shown.output.split("broken failed (attempt 1):\n", 1)[1]
    assert "    Traceback (your code):" in details
    assert 'assets.py", line 10, in broken' in details
    assert 'return good["missing"]' in details


def test_runs_still_lists_with_its_options(make_project):
    root = make_project(FAILING_PROJECT)
    assert run(root, "materialize").exit_code == 1
    assert run(root, "materialize", "independent", "--force").exit_code == 0
    listed = run(root, "runs")
    assert listed.exit_code == 0
    assert listed.output.splitlines()[0].split()[:3] == ["RUN", "STARTED", "(UTC)"]
    assert len(listed.output.splitlines()) == 3
    failed = run(root, "runs", "--status", "failed", "--limit", "5")
    assert failed.exit_code == 0
    assert len(failed.output.splitlines()) == 2
    assert " failed " in failed.output
    newest = run(root, "runs", "-n", "1").output.splitlines()
    assert len(newest) == 4
    assert newest[3] == f"More runs follow: add --before {newest[1].split()[0]} for the next 1."


def test_an_unknown_run_id_is_a_usage_error_with_a_hint(make_project):
    root = make_project(FAILING_PROJECT)
    assert run(root, "materialize").exit_code == 1
    result = run(root, "runs", "show", "zzzz")
    assert result.exit_code == 2
    assert "Error: no run has an id starting with 'zzzz'." in result.output
    assert "`assetflow runs` lists recent runs" in result.output
    assert "Traceback" not in result.output


def test_an_ambiguous_run_id_lists_the_candidates(make_project):
    root = make_project(FAILING_PROJECT)
    with open_project_store(load(root)) as store:
        for run_id in ("abc123", "abc456"):
            store.create_run(RunRecord(run_id=run_id, started_at=datetime.now(UTC)))
            store.finish_run(run_id, RunStatus.SUCCESS, datetime.now(UTC))
    result = run(root, "runs", "show", "abc")
    assert result.exit_code == 2
    assert "run id prefix 'abc' is ambiguous" in result.output
    assert "abc123, abc456" in result.output
    assert "Give more characters of the run id" in result.output


@pytest.mark.skipif(sys.platform == "win32", reason="no pid probe on Windows")
def test_a_run_whose_process_is_gone_shows_as_crashed_and_materialize_goes_on(make_project):
    root = make_project(FAILING_PROJECT)
    gone = dead_pid()
    with open_project_store(load(root)) as store:
        store.create_run(RunRecord(run_id="deadbeef0001", started_at=datetime.now(UTC), pid=gone))

    listed = run(root, "runs", "--status", "crashed")
    assert listed.exit_code == 0
    assert "deadbeef" in listed.output
    assert " crashed " in listed.output
    assert run(root, "runs", "--status", "running").output.splitlines()[0].startswith("No runs")

    shown = run(root, "runs", "show", "deadbeef")
    assert shown.exit_code == 0
    assert "  status     crashed" in shown.output
    assert f"  process    pid {gone}" in shown.output
    assert f"run crashed: its process (pid {gone}) is gone" in shown.output

    again = run(root, "materialize", "good")
    assert again.exit_code == 0, again.output
    assert "1 materialized" in again.output


SLOW_PROJECT = """
import time
from pathlib import Path
from assetflow import asset

HERE = Path(__file__).parent

@asset
def first() -> dict:
    return {"n": 1}

@asset
def second(first: dict) -> dict:
    (HERE / "second-started").touch()
    while (HERE / "hang").exists():
        time.sleep(0.05)
    return first
"""


def first_is_recorded(root) -> bool:
    """Whether the store holds a materialization of 'first' (read without the crash sweep
    that opening a project's store runs, which would judge the live run)."""
    import contextlib
    import sqlite3

    database = root / ".assetflow" / "metadata.sqlite"
    if not database.exists():
        return False
    query = "SELECT 1 FROM materializations WHERE asset = 'first'"
    try:
        with contextlib.closing(sqlite3.connect(database)) as db:
            return db.execute(query).fetchone() is not None
    except sqlite3.OperationalError:  # its tables are not made yet
        return False


@pytest.mark.skipif(os.name != "posix", reason="SIGKILL")
def test_a_killed_run_is_crashed_and_its_finished_steps_stay_done(make_project):
    root = make_project(SLOW_PROJECT)
    (root / "hang").touch()
    process = subprocess.Popen(
        [sys.executable, "-m", "assetflow.cli", "--project", str(root), "materialize"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        # With workers, a step's successor starts while its records are being written
        # (they commit a moment later): killed in between, it would be rebuilt too.
        wait_until(
            lambda: (root / "second-started").exists() and first_is_recorded(root),
            "'second' to start with 'first' recorded",
            WAIT_S,
            process,
        )
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait()
    (root / "hang").unlink()
    [record] = runs_of(root)
    assert record.status is RunStatus.RUNNING  # nobody finished it

    listed = run(root, "runs")
    assert " crashed " in listed.output
    shown = run(root, "runs", "show", record.run_id[:8])
    rows = shown.output.split("\n\n")[1].splitlines()[1:]
    assert [row.split()[:2] for row in rows] == [
        ["first", "materialized"],
        ["(run)", "failed"],
        ["second", "failed"],  # it was running: recorded so, and rebuilt next time
    ]
    assert "the run crashed while this step was running" in shown.output

    plan = run(root, "plan").output
    assert "1. second  stale    never materialized" in plan
    assert "Fresh (will not run): first" in plan  # what the run finished is kept
    again = run(root, "materialize")
    assert again.exit_code == 0, again.output
    assert "1 materialized" in again.output
