"""End to end: `assetflow runs cancel` from another process, and its bad input."""

from __future__ import annotations

import subprocess
import sys
import time

from click.testing import CliRunner

from assetflow.api import load, open_project_store
from assetflow.cli import cli
from assetflow.store import RunStatus
from tests.e2e.processes import wait_for

SLOW_PROJECT = """
import time
from pathlib import Path

from assetflow import asset

@asset
def quick() -> dict:
    return {"ok": 1}

@asset
def slow(context) -> dict:
    (context.project_dir / "slow-started").touch()
    time.sleep(60)
    return {"done": True}
"""

#: How long a test waits for a subprocess to reach a point before it gives up.
WAIT_S = 60.0


def run(project, *args):
    return CliRunner().invoke(cli, ["--project", str(project), *args])


def test_a_run_cancelled_from_another_process_stops_within_seconds(make_project):
    root = make_project(SLOW_PROJECT)
    process = subprocess.Popen(
        [sys.executable, "-m", "assetflow.cli", "--project", str(root), "materialize"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        wait_for(root / "slow-started", WAIT_S, process)
        with open_project_store(load(root)) as store:
            (running,) = store.list_runs(status=RunStatus.RUNNING)
        asked = time.monotonic()
        result = run(root, "runs", "cancel", running.run_id[:8], "--wait", "20")
        took = time.monotonic() - asked
        output, _ = process.communicate(timeout=WAIT_S)
    finally:
        process.kill()
    assert result.exit_code == 0, result.output
    assert result.output.strip() == f"Run {running.run_id[:8]} ended: cancelled."
    assert took < 10
    assert process.returncode == 143, output  # stopped from outside, as SIGTERM would
    assert "cancelled while running" in output
    with open_project_store(load(root)) as store:
        record = store.get_run(running.run_id)
    assert record.status is RunStatus.CANCELLED
    assert record.cancel_requested_at is not None


def test_cancelling_an_unknown_run_says_how_to_find_one(make_project):
    root = make_project(SLOW_PROJECT.replace("time.sleep(60)", "pass"))
    result = run(root, "runs", "cancel", "feedbeef")
    assert result.exit_code == 2
    assert "no run has an id starting with 'feedbeef'" in result.output
    assert "`assetflow runs` lists recent runs" in result.output
    assert "Traceback" not in result.output


def test_cancelling_a_finished_run_says_how_it_ended(make_project):
    root = make_project(SLOW_PROJECT.replace("time.sleep(60)", "pass"))
    assert run(root, "materialize", "--executor", "inprocess").exit_code == 0
    with open_project_store(load(root)) as store:
        (done,) = store.list_runs()
    result = run(root, "runs", "cancel", done.run_id)
    assert result.exit_code == 2
    assert f"run {done.run_id} cannot be cancelled: it already finished (success)" in (
        result.output
    )
