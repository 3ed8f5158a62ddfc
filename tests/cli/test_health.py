"""`assetflow health` end to end: a temporary project, its own SQLite store, a real
scheduler lease row written through the store, exit codes and both outputs."""

from __future__ import annotations

import json
import subprocess
from datetime import UTC, datetime, timedelta

from click.testing import CliRunner

from assetflow.api import load
from assetflow.cli import cli
from assetflow.services.stores import open_project_store
from assetflow.store.records import MaterializationRecord
from tests.e2e.processes import assetflow as assetflow_command
from tests.e2e.test_answers_cli import _lock, _unlock

NOW = datetime(2026, 3, 10, 8, 0, tzinfo=UTC)

ASSETS = """
from assetflow import asset

@asset(freshness="6h")
def orders() -> dict:
    return {"x": 1}
"""

SCHEDULED = """
[tool.assetflow]
modules = ["assets"]

[tool.assetflow.schedules.hourly]
cron = "0 * * * *"
select = "orders"
"""


def run(root, *args):
    return CliRunner().invoke(cli, ["--project", str(root), "health", *args])


def write(root, *, materialized_at=None, heartbeat_at=None):
    with open_project_store(load(root)) as store:
        if materialized_at is not None:
            store.record(
                [
                    MaterializationRecord(
                        run_id="f" * 32,
                        asset="orders",
                        io="json",
                        started_at=materialized_at,
                        finished_at=materialized_at,
                        duration_s=0.0,
                    )
                ]
            )
        if heartbeat_at is not None:
            store.acquire_scheduler_lease("h" * 32, 321, "box", heartbeat_at, timedelta(minutes=1))


def test_healthy_exits_0_with_one_line_per_check(make_project):
    root = make_project(ASSETS, config=SCHEDULED)
    write(root, materialized_at=NOW - timedelta(hours=1), heartbeat_at=NOW - timedelta(seconds=4))
    result = run(root, "--now", "2026-03-10T08:00:00Z")
    assert result.exit_code == 0, result.output
    assert result.output.splitlines() == [
        "scheduler: alive (pid 321 on box, heartbeat 4 s ago)",
        "runs: none stuck",
        "freshness: nothing overdue",
    ]


def test_a_dead_scheduler_and_a_late_asset_exit_1(make_project):
    root = make_project(ASSETS, config=SCHEDULED)
    write(root, materialized_at=NOW - timedelta(hours=8), heartbeat_at=NOW - timedelta(minutes=6))
    result = run(root, "--now", "2026-03-10T09:00:00+01:00")
    assert result.exit_code == 1, result.output
    assert result.output.splitlines() == [
        "scheduler: down (pid 321 on box, heartbeat 6 min ago)",
        "runs: none stuck",
        "freshness: 1 asset overdue: orders overdue by 2 h (freshness 6h)",
    ]
    document = json.loads(run(root, "--now", "2026-03-10T08:00:00Z", "--json").output)
    assert document["version"] == 1
    assert document["healthy"] is False
    assert document["scheduler"]["alive"] is False
    assert document["scheduler"]["age_s"] == 360.0
    assert document["problems"] == [
        "scheduler: down (pid 321 on box, heartbeat 6 min ago)",
        "orders: overdue by 2 h (freshness 6h)",
    ]
    assert document["overdue"][0]["due_at"] == "2026-03-10T06:00:00+00:00"
    # A longer threshold: the scheduler counts as alive.
    assert (
        "scheduler: alive"
        in run(root, "--now", "2026-03-10T08:00:00Z", "--down-after", "10m").output
    )


def test_a_project_without_automation_needs_no_scheduler(make_project):
    root = make_project(ASSETS)
    write(root, materialized_at=NOW)
    result = run(root, "--now", "2026-03-10T08:00:00Z")
    assert result.exit_code == 0, result.output
    assert result.output.splitlines()[0] == "scheduler: no scheduler needed"


def test_usage_errors_exit_2(make_project):
    root = make_project(ASSETS)
    bad_now = run(root, "--now", "2026-03-10T08:00:00")
    assert bad_now.exit_code == 2
    assert "has no UTC offset" in bad_now.output
    bad_after = run(root, "--down-after", "5 minutes")
    assert bad_after.exit_code == 2
    assert '--down-after = "5 minutes" is not a duration' in bad_after.output


def test_a_project_never_run_on_a_read_only_directory(make_project):
    root = make_project(ASSETS, config=SCHEDULED)
    targets = _lock(root)
    try:
        done = subprocess.run(
            assetflow_command(root, "health", "--json"), capture_output=True, text=True, timeout=120
        )
    finally:
        _unlock(targets)
    assert done.returncode == 1, done.stderr
    document = json.loads(done.stdout)
    assert document["problems"] == [
        "scheduler: down (never started)",
        "orders: never materialized (freshness 6h)",
    ]
    assert not (root / ".assetflow").exists()
