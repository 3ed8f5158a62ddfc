"""`health` on a real project and a real SQLite store: the scheduler's lease, running runs
and overdue assets, judged at a pinned instant."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta

import pytest

from assetflow.api import load
from assetflow.execution.liveness import HOST
from assetflow.services.health import HealthReport, SchedulerHealth, health
from assetflow.store.opening import open_store
from assetflow.store.records import EventKind, EventRecord, MaterializationRecord, RunRecord

NOW = datetime(2026, 3, 10, 8, 0, tzinfo=UTC)

ASSETS = """
from assetflow import asset

@asset(freshness="6h", timeout=60)
def orders() -> dict:
    return {"x": 1}

@asset(automation="eager")
def report(orders: dict) -> dict:
    return orders
"""

PLAIN = "from assetflow import asset\n\n@asset\ndef a() -> int:\n    return 1\n"


@pytest.fixture
def store(tmp_path):
    with open_store(f"sqlite:///{tmp_path / 'meta.db'}") as opened:
        yield opened


def fresh(store, at=NOW):
    store.record(
        [
            MaterializationRecord(
                run_id="f" * 32,
                asset="orders",
                io="json",
                started_at=at - timedelta(seconds=1),
                finished_at=at,
                duration_s=1.0,
            )
        ]
    )


def test_a_project_without_automation_needs_no_scheduler(make_project, store):
    report = health(load(make_project(PLAIN)), store=store, now=NOW)
    assert report == HealthReport(NOW, SchedulerHealth(needed=False, alive=False), (), ())
    assert report.healthy
    assert report.problems() == []
    assert report.lines() == [
        "scheduler: no scheduler needed",
        "runs: none stuck",
        "freshness: nothing overdue",
    ]


def test_the_scheduler_is_alive_while_its_heartbeat_is_recent(make_project, store):
    project = load(make_project(ASSETS))
    fresh(store)
    store.acquire_scheduler_lease(
        "h" * 32, 4242, "box", NOW - timedelta(seconds=4), timedelta(minutes=1)
    )
    report = health(project, store=store, now=NOW)
    assert report.scheduler.needed
    assert report.scheduler.alive
    assert report.scheduler.age_s == 4.0
    assert report.lines()[0] == "scheduler: alive (pid 4242 on box, heartbeat 4 s ago)"
    assert report.healthy
    late = health(project, store=store, now=NOW + timedelta(minutes=5))
    assert not late.healthy
    assert late.problems() == ["scheduler: down (pid 4242 on box, heartbeat 5 min ago)"]
    shorter = health(project, store=store, now=NOW, down_after=timedelta(seconds=3))
    assert not shorter.scheduler.alive


def test_a_needed_scheduler_never_started_is_down(make_project, store):
    project = load(make_project(ASSETS))
    fresh(store)
    report = health(project, store=store, now=NOW)
    assert report.problems() == ["scheduler: down (never started)"]
    assert health(project, store=store, now=NOW, needs_scheduler=False).healthy


def test_overdue_assets_make_it_unhealthy(make_project, store):
    project = load(make_project(ASSETS))
    fresh(store, NOW - timedelta(hours=8, minutes=14))
    report = health(project, store=store, now=NOW, needs_scheduler=False)
    assert [o.asset for o in report.overdue] == ["orders"]
    assert report.problems() == ["orders: overdue by 2 h 14 min (freshness 6h)"]
    assert (
        report.lines()[2]
        == "freshness: 1 asset overdue: orders overdue by 2 h 14 min (freshness 6h)"
    )


def running(store, run_id, started, *, pid=None, host=HOST, steps=()):
    store.create_run(RunRecord(run_id=run_id, started_at=started, pid=pid, host=host))
    store.record(
        events=[
            EventRecord(run_id=run_id, kind=kind, at=at, asset=asset) for asset, kind, at in steps
        ]
    )


def test_a_step_past_its_timeout_makes_its_run_stuck(make_project, store):
    project = load(make_project(ASSETS))
    fresh(store)
    started = NOW - timedelta(minutes=10)
    running(
        store, "a" * 32, started, pid=os.getpid(), steps=[("orders", EventKind.STARTED, started)]
    )
    # `report` has no timeout: running for ever is not stuck.
    running(
        store, "b" * 32, started, pid=os.getpid(), steps=[("report", EventKind.STARTED, started)]
    )
    # A step that ended is not running.
    running(
        store,
        "c" * 32,
        started,
        pid=os.getpid(),
        steps=[("orders", EventKind.STARTED, started), ("orders", EventKind.MATERIALIZED, started)],
    )
    report = health(project, store=store, now=NOW, needs_scheduler=False)
    assert [run.run_id for run in report.stuck_runs] == ["a" * 32]
    assert report.stuck_runs[0].reason == "step 'orders' has run 10 min, past its timeout of 60 s"
    assert report.problems() == [
        "run aaaaaaaa is stuck: step 'orders' has run 10 min, past its timeout of 60 s"
    ]
    # Within the timeout and its grace, it is not stuck.
    assert (
        health(
            project, store=store, now=started + timedelta(seconds=80), needs_scheduler=False
        ).stuck_runs
        == ()
    )


def test_a_run_on_this_machine_whose_process_is_gone_is_stuck(make_project, store):
    project = load(make_project(PLAIN))
    gone = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        capture_output=True,
        text=True,
        check=True,
    )
    pid = int(gone.stdout)
    running(store, "d" * 32, NOW - timedelta(minutes=1), pid=pid)
    running(store, "e" * 32, NOW - timedelta(minutes=1), pid=pid, host="another-machine")
    report = health(project, store=store, now=NOW)
    assert [(run.run_id, run.reason) for run in report.stuck_runs] == [
        ("d" * 32, f"its process {pid} on {HOST} is gone")
    ]
    assert report.lines()[1] == f"runs: 1 stuck: dddddddd: its process {pid} on {HOST} is gone"
    assert not report.healthy


def test_a_project_never_run(make_project):
    root = make_project(ASSETS)
    report = health(load(root), now=NOW, needs_scheduler=True)
    assert report.problems() == [
        "scheduler: down (never started)",
        "orders: never materialized (freshness 6h)",
    ]
