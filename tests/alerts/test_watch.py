"""Incidents nobody's run reports: late assets, and a scheduler whose heartbeat stopped."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import assetflow
from assetflow.alerts.setup import alerting
from assetflow.alerts.watch import sync_overdue, watch_scheduler
from assetflow.services.freshness import overdue
from assetflow.store.automation import SchedulerLease
from tests.alerts.runs import BASE, deliver, run, stored, webhook
from tests.http_servers import RecordingHTTPServer

FRESH = """
    from assetflow import asset

    @asset(freshness="6h")
    def orders() -> dict:
        return {"n": 1}

    @asset
    def plain() -> dict:
        return {"n": 2}
"""


def look(root, now):
    project = assetflow.load(root)
    setup = alerting(project)
    with stored(root) as store:
        return sync_overdue(store, setup.routes, overdue(project, store, now), now)


def test_a_late_asset_opens_one_incident_that_its_next_materialization_resolves(
    make_project,
):
    with RecordingHTTPServer() as server:
        root = make_project(FRESH, config=BASE + webhook("hook", server.url))
        assert run(root).success
        now = datetime.now(UTC)
        assert look(root, now).opened == ()  # just materialized: fresh
        late = now + timedelta(hours=8)
        first = look(root, late)
        assert len(first.opened) == 1
        assert look(root, late + timedelta(minutes=1)).opened == ()  # said once
        deliver(root, now=lambda: late + timedelta(minutes=2))
        [request] = server.requests
        body = json.loads(request.body)
        assert body["event"] == "overdue"
        assert body["assets"] == [{"asset": "orders", "partitions": []}]
        assert 2 * 3600 - 60 <= body["overdue_by_s"] <= 2 * 3600 + 300
        assert run(root, assetflow.RunRequest(executor="inprocess", force=True)).success
        with stored(root) as store:
            [incident] = store.incidents()
            assert incident.resolved_at is not None
        deliver(root)
        assert [json.loads(r.body)["event"] for r in server.requests] == ["overdue", "recovered"]


def test_an_asset_no_longer_late_by_its_policy_is_resolved_by_the_next_look(make_project):
    root = make_project(FRESH, config=BASE)
    run(root)
    late = datetime.now(UTC) + timedelta(hours=8)
    assert len(look(root, late).opened) == 1
    # A longer text: Python's bytecode cache could take a same-size file written within
    # the same second for the one it compiled.
    (root / "assets.py").write_text((root / "assets.py").read_text().replace('"6h"', '"24h"'))
    assert len(look(root, late).resolved) == 1


def lease(heartbeat: datetime) -> SchedulerLease:
    return SchedulerLease(
        holder="h",
        pid=4242,
        host="sched-1",
        acquired_at=heartbeat,
        heartbeat_at=heartbeat,
        expires_at=heartbeat + timedelta(seconds=15),
    )


def test_a_silent_leader_opens_scheduler_down_once_and_a_beat_resolves_it(make_project):
    with RecordingHTTPServer() as server:
        root = make_project(FRESH, config=BASE + webhook("hook", server.url))
        project = assetflow.load(root)
        routes = alerting(project).routes
        now = datetime.now(UTC)
        with stored(root) as store:
            assert (
                watch_scheduler(store, routes, lease(now - timedelta(minutes=4)), now).opened == ()
            )
            down = watch_scheduler(store, routes, lease(now - timedelta(minutes=6)), now)
            assert len(down.opened) == 1
            again = watch_scheduler(store, routes, lease(now - timedelta(minutes=7)), now)
            assert again.opened == ()
        deliver(root)
        with stored(root) as store:
            back = watch_scheduler(store, routes, lease(now), now + timedelta(seconds=1))
            assert back.resolved == down.opened
        deliver(root)
        bodies = [json.loads(r.body) for r in server.requests]
    assert [b["event"] for b in bodies] == ["scheduler_down", "recovered"]
    assert "pid 4242 on sched-1" in bodies[0]["error"]
    assert bodies[0]["assets"] == []


def test_no_leader_counts_as_down_only_when_the_project_needs_a_scheduler(make_project):
    root = make_project(FRESH, config=BASE)
    routes = alerting(assetflow.load(root)).routes
    now = datetime.now(UTC)
    with stored(root) as store:
        assert watch_scheduler(store, routes, None, now, needed=False).opened == ()
        opened = watch_scheduler(store, routes, None, now, needed=True).opened
        assert len(opened) == 1
        [incident] = store.incidents()
    assert "no scheduler is running" in incident.summary


def test_a_crashed_runs_steps_open_incidents_once(make_project):
    from assetflow.alerts.watch import sync_crashed
    from assetflow.store import (
        EventKind,
        EventRecord,
        MaterializationRecord,
        RunRecord,
        RunStatus,
    )

    root = make_project(FRESH, config=BASE)
    routes = alerting(assetflow.load(root)).routes
    now = datetime.now(UTC)
    with stored(root) as store:
        for run_id, asset in (("gone-1", "orders"), ("gone-2", "plain")):
            store.create_run(RunRecord(run_id=run_id, started_at=now - timedelta(minutes=5)))
            step = EventRecord(
                run_id=run_id, kind=EventKind.FAILED, at=now, asset=asset, message="interrupted"
            )
            assert store.finish_run_if_running(run_id, RunStatus.CRASHED, now, [step])
        # `plain` was rebuilt since the crash: nothing to tell of it.
        store.record(
            materializations=[
                MaterializationRecord(
                    run_id="later",
                    asset="plain",
                    io="json",
                    path="plain.json",
                    started_at=now,
                    finished_at=now + timedelta(seconds=1),
                    duration_s=1.0,
                    data_version="v",
                )
            ]
        )
        first = sync_crashed(store, routes, now + timedelta(seconds=2))
        again = sync_crashed(store, routes, now + timedelta(seconds=3))
        [incident] = store.incidents()
    assert len(first.opened) == 1
    assert again.opened == ()
    assert (incident.subject, incident.run_id) == ("orders", "gone-1")
    assert "run gone-1 crashed" in incident.summary
