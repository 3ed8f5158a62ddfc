"""End to end with real processes: one scheduler leads a store, a second stands by and
takes over when the leader is killed with kill -9; no tick is run twice."""

from __future__ import annotations

import os
import signal
import subprocess
import time

from assetflow.api import load, open_project_store
from tests.e2e.processes import Lines, scheduler

ASSETS = """
from assetflow import asset

@asset
def heartbeat_file() -> dict:
    return {"ok": 1}
"""

CONFIG = """
[tool.assetflow]
modules = ["assets"]
executor = "inprocess"

[tool.assetflow.scheduler]
lease_seconds = 2

[tool.assetflow.schedules.often]
every = "1s"
select = "heartbeat_file"
catchup = "latest"
"""


def test_a_standby_takes_over_from_a_killed_leader_without_doubling_a_tick(make_project):
    root = make_project(ASSETS, config=CONFIG)
    with scheduler(root) as (leader, leader_lines):
        # The second starts once the first leads: started together, either may win.
        leader_lines.wait_for("leading")
        with scheduler(root) as (standby, lines):
            _take_over(leader, leader_lines, standby, lines)
    with open_project_store(load(root)) as store:
        ticks = store.ticks("schedule:often", limit=1000)
        runs = store.list_runs(limit=1000)
        assert store.scheduler_lease() is None
    started = [t for t in ticks if t.status == "started"]
    assert started
    run_ids = [t.run_id for t in started]
    assert len(set(run_ids)) == len(run_ids)
    assert {r.run_id for r in runs} >= set(run_ids)
    keys = [r.run_key for r in runs]
    assert len(set(keys)) == len(keys)


def _take_over(
    leader: subprocess.Popen[str], leader_lines: Lines, standby: subprocess.Popen[str], lines: Lines
) -> None:
    standby_line = lines.wait_for("standby")
    assert f"leader_pid={leader.pid}" in standby_line
    leader_lines.wait_for("run_finished")
    os.kill(leader.pid, signal.SIGKILL)
    killed_at = time.monotonic()
    lines.wait_for("leading", timeout=15)
    assert time.monotonic() - killed_at < 15
    lines.wait_for("run_finished")
    standby.send_signal(signal.SIGTERM)
    assert standby.wait(30) == 0
    lines.wait_for("stopped")
