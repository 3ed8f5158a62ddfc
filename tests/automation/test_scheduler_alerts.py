"""The scheduler's share of alerting: its runs record incidents, each cycle looks for late
assets and delivers the outbox, and a standby says when the leader has gone quiet."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from assetflow.alerts.setup import alerting
from assetflow.api import load, open_project_store
from assetflow.automation.loading import load_automation
from assetflow.automation.scheduler import Scheduler
from assetflow.clock import FixedClock
from tests.alerts.runs import BASE, webhook
from tests.automation.driving import settle
from tests.http_servers import RecordingHTTPServer

ASSETS = """
    import os
    from assetflow import asset

    @asset
    def source() -> dict:
        raise ValueError("the source API answered 503")

    @asset
    def report(source: dict) -> dict:
        return source

    @asset(freshness="6h")
    def ledger() -> dict:
        return {"n": 1}
"""

NIGHTLY = """
[tool.assetflow.schedules.nightly]
cron = "0 3 * * *"
timezone = "Europe/Berlin"
select = "source+"
catchup = "latest"
start = "2026-03-02T00:00:00+01:00"
"""


def daemon_for(root, clock):
    project = load(root)
    store = open_project_store(project)
    daemon = Scheduler(project, load_automation(project), store, clock, alerting=alerting(project))
    return daemon, store


def test_a_scheduled_failure_and_a_late_asset_are_told_once_by_the_scheduler(make_project):
    with RecordingHTTPServer() as server:
        root = make_project(ASSETS, config=BASE + NIGHTLY + webhook("hook", server.url))
        clock = FixedClock(datetime(2026, 3, 2, 2, 0, 30, tzinfo=UTC))
        daemon, store = daemon_for(root, clock)
        with store:
            daemon.cycle()
            settle(daemon, store, clock)
            daemon._watched = None
            daemon.watch()
            daemon._watched = None
            daemon.watch()  # a second look says nothing new
            kinds = sorted(i.kind for i in store.incidents())
        bodies = [json.loads(r.body) for r in server.requests]
    assert kinds == ["overdue", "run_failed"]
    assert sorted(b["event"] for b in bodies) == ["overdue", "run_failed"]
    [failed] = [b for b in bodies if b["event"] == "run_failed"]
    assert failed["assets"] == [{"asset": "source", "partitions": []}]
    assert failed["skipped"] == [{"asset": "report", "partitions": []}]


def test_a_replay_opens_no_incident_from_its_replayed_instant(make_project):
    root = make_project(ASSETS, config=BASE + NIGHTLY)
    project = load(root)
    store = open_project_store(project)
    clock = FixedClock(datetime(2026, 3, 2, 2, 0, 30, tzinfo=UTC))
    daemon = Scheduler(
        project, load_automation(project), store, clock, alerting=alerting(project), replay=True
    )
    with store:
        daemon.watch()
        assert [i.kind for i in store.incidents()] == []


def test_a_standby_opens_scheduler_down_when_the_leaders_heartbeat_is_old(make_project):
    with RecordingHTTPServer() as server:
        root = make_project(ASSETS, config=BASE + NIGHTLY + webhook("hook", server.url))
        daemon, store = daemon_for(root, FixedClock(datetime.now(UTC)))
        with store:
            old = datetime.now(UTC) - timedelta(minutes=10)
            lease = store.acquire_scheduler_lease("gone", 4242, "sched-1", old, timedelta(hours=1))
            daemon.watch(lease, leading=False)
            [incident] = store.incidents()
        bodies = [json.loads(r.body) for r in server.requests]
    assert incident.kind == "scheduler_down"
    assert [b["event"] for b in bodies] == ["scheduler_down"]
    assert "pid 4242 on sched-1" in bodies[0]["error"]
