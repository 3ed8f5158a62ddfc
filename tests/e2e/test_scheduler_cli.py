"""End to end: `assetflow scheduler --once / --dry-run`, `schedules` and `ticks` on a
temporary project, through the real CLI on a fixed instant."""

from __future__ import annotations

import json

from click.testing import CliRunner

from assetflow.cli import cli

ASSETS = """
from assetflow import asset, DailyPartitions

days = DailyPartitions(start="2026-03-01", timezone="Europe/Berlin")

@asset(partitions=days)
def orders(context) -> dict:
    return {"day": context.partition_key}

@asset(partitions=days)
def report(orders: dict) -> dict:
    return {"report": orders["day"]}
"""

CONFIG = """
[tool.assetflow]
modules = ["assets"]
executor = "inprocess"

[tool.assetflow.schedules.nightly]
cron = "0 3 * * *"
timezone = "Europe/Berlin"
select = "orders+"
partition = "previous"
catchup = "latest"
"""


def run(root, *args):
    return CliRunner().invoke(cli, ["--project", str(root), *args])


def test_once_on_a_fixed_instant_runs_the_closed_partition_once(make_project):
    root = make_project(ASSETS, config=CONFIG)
    now = "2026-03-02T03:00:30+01:00"
    first = run(root, "scheduler", "--once", "--now", now)
    assert first.exit_code == 0, first.output
    assert "1 run(s) started" in first.output
    again = run(root, "scheduler", "--once", "--now", now)
    assert again.exit_code == 0, again.output
    assert "0 run(s) started" in again.output
    ticks = json.loads(run(root, "ticks", "nightly", "--json").output)
    assert ticks["version"] == 1
    [tick] = ticks["ticks"]
    assert tick["schedule"] == "nightly"
    assert tick["scheduled_utc"] == "2026-03-02T02:00:00Z"
    assert tick["scheduled_local"] == "2026-03-02T03:00:00+01:00"
    assert tick["status"] == "started"
    assert tick["run_status"] == "success"
    assert tick["partition_keys"] == ["2026-03-01"]
    runs = json.loads(run(root, "runs", "--trigger", "schedule", "--json").output)["runs"]
    assert [r["trigger"] for r in runs] == ["schedule:nightly@2026-03-02T03:00+01:00"]


def test_dry_run_lists_the_next_ticks_across_the_spring_forward_day(make_project):
    root = make_project(ASSETS, config=CONFIG.replace("0 3 * * *", "30 2 * * *"))
    result = run(
        root,
        "scheduler",
        "--dry-run",
        "--ticks",
        "3",
        "--now",
        "2026-03-28T12:00:00+01:00",
        "--json",
    )
    assert result.exit_code == 0, result.output
    items = json.loads(result.output)["ticks"]
    assert [i["scheduled_local"] for i in items] == [
        "2026-03-29T03:00:00+02:00",  # 02:30 does not exist that day: the first instant after
        "2026-03-30T02:30:00+02:00",
        "2026-03-31T02:30:00+02:00",
    ]
    assert {i["status"] for i in items} == {"would start"}
    assert items[0]["partition_keys"] == ["2026-03-28"]
    assert run(root, "ticks").output.startswith("No ticks recorded yet")


def test_schedules_pause_and_resume_and_their_errors(make_project):
    root = make_project(ASSETS, config=CONFIG)
    paused = run(root, "schedules", "pause", "nightly")
    assert paused.exit_code == 0, paused.output
    listed = json.loads(run(root, "schedules", "--json").output)["schedules"]
    assert listed[0]["paused"] is True
    result = run(root, "scheduler", "--once", "--now", "2026-03-02T03:00:30+01:00")
    assert "1 tick(s) skipped" in result.output
    assert run(root, "schedules", "resume", "nightly").exit_code == 0
    unknown = run(root, "schedules", "pause", "nightli")
    assert unknown.exit_code == 2
    assert "no schedule is named 'nightli'" in unknown.output
    assert "Did you mean 'nightly'?" in unknown.output
    naive = run(root, "scheduler", "--once", "--now", "2026-03-02T03:00:30")
    assert naive.exit_code == 2
    assert "has no UTC offset" in naive.output


def test_a_bad_cron_line_is_a_load_error_that_starts_nothing(make_project):
    root = make_project(ASSETS, config=CONFIG.replace("0 3 * * *", "61 3 * * *"))
    result = run(root, "scheduler", "--once")
    assert result.exit_code == 2
    assert "minute" in result.output
    assert "Traceback" not in result.output
    assert run(root, "runs", "--json").exit_code == 0


def test_a_replay_leaves_no_backlog_for_the_real_scheduler(make_project):
    # Replaying a night in March records that tick only: the real scheduler that
    # comes next does not take March to December as missed ticks to catch up on.
    root = make_project(ASSETS, config=CONFIG)
    replay = run(root, "scheduler", "--once", "--now", "2026-03-02T03:00:30+01:00")
    assert replay.exit_code == 0, replay.output
    real = run(root, "scheduler", "--once")
    assert real.exit_code == 0, real.output
    assert "0 tick(s) skipped" in real.output
    ticks = json.loads(run(root, "ticks", "nightly", "--json").output)["ticks"]
    assert [t["scheduled_utc"] for t in ticks] == ["2026-03-02T02:00:00Z"]


def test_once_refuses_a_future_instant(make_project):
    root = make_project(ASSETS, config=CONFIG)
    future = run(root, "scheduler", "--once", "--now", "2099-01-01T03:00:00+01:00")
    assert future.exit_code == 2
    assert "--now 2099-01-01T02:00:00Z is in the future" in future.output
    assert "assetflow scheduler --dry-run --now" in future.output
    assert "Traceback" not in future.output
    assert json.loads(run(root, "ticks", "--json").output)["ticks"] == []
