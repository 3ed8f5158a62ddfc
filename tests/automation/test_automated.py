"""Declarative automation through a real scheduler: `eager`, `missing` and `on_cron` assets
on a real project and SQLite store, with a simulated clock; stale means what the planner
says, and the assets due in one cycle run as one run, in dependency order."""

from __future__ import annotations

import time
from datetime import UTC, datetime

from assetflow.api import load, materialize, open_project_store
from assetflow.automation.automated import ORIGIN, due_assets
from assetflow.automation.loading import load_automation
from assetflow.clock import FixedClock
from tests.automation.driving import scheduler_for, settle

NOW = datetime(2026, 3, 4, 1, 0, tzinfo=UTC)

CONFIG = (
    '[tool.assetflow]\nmodules = ["assets"]\nexecutor = "inprocess"\n'
    "[tool.assetflow.scheduler]\nautomation_interval = 60\n"
)

#: `feed` is materialized by hand; `cleaned` and `summary` follow it on their own.
#: `cleaned` waits while the file `hold` exists, so a test keeps its run going.
EAGER = """
import pathlib
import time

from assetflow import asset

HERE = pathlib.Path(__file__).parent


@asset
def feed() -> int:
    return int((HERE / "feed.txt").read_text())


@asset(automation="eager")
def cleaned(feed: int) -> int:
    deadline = time.monotonic() + 20
    while (HERE / "hold").exists() and time.monotonic() < deadline:
        time.sleep(0.01)
    return feed + 1


@asset(automation="eager")
def summary(cleaned: int) -> int:
    return cleaned * 10


@asset
def manual(feed: int) -> int:
    return feed
"""


def automation_runs(store):
    return [r for r in store.list_runs(limit=100) if r.trigger == ORIGIN]


def materialized_in(store, run_id):
    """The asset-partitions a run materialized, in the order it did."""
    return [
        (e.asset, e.partition) if e.partition else e.asset
        for e in store.run_events(run_id)
        if e.kind.value == "materialized" and e.asset
    ]


def by_hand(root, selection, **options):
    result = materialize(selection, project=root, **options)
    assert result.status.value == "success"


def make_eager(make_project):
    root = make_project(EAGER, config=CONFIG)
    (root / "feed.txt").write_text("1")
    by_hand(root, "*")
    return root


def test_eager_runs_when_an_upstream_was_materialized_and_not_when_fresh(make_project):
    root = make_eager(make_project)
    clock = FixedClock(NOW)
    daemon, store = scheduler_for(root, clock)
    # Everything is fresh: nothing to do.
    daemon.cycle()
    settle(daemon, store, clock)
    assert automation_runs(store) == []

    (root / "feed.txt").write_text("2")
    by_hand(root, "feed", force=True)
    clock.advance(60)
    daemon.cycle()
    settle(daemon, store, clock)
    [run] = automation_runs(store)
    assert run.status.value == "success"
    # Both stale eager assets, in one run, in dependency order; `manual` is not automated.
    assert materialized_in(store, run.run_id) == ["cleaned", "summary"]
    [tick] = store.ticks(ORIGIN)
    assert tick.status == "started"
    assert tick.run_id == run.run_id
    assert "cleaned: eager: an upstream was updated" in tick.reason

    # Fresh again: the next evaluation starts nothing.
    clock.advance(60)
    daemon.cycle()
    settle(daemon, store, clock)
    assert len(automation_runs(store)) == 1


def test_eager_does_not_start_twice_while_its_run_is_going(make_project):
    root = make_eager(make_project)
    clock = FixedClock(NOW)
    daemon, store = scheduler_for(root, clock)
    (root / "feed.txt").write_text("2")
    by_hand(root, "feed", force=True)
    (root / "hold").write_text("")
    try:
        daemon.cycle()
        deadline = time.monotonic() + 10
        while not daemon.launcher.running(ORIGIN) and time.monotonic() < deadline:
            time.sleep(0.01)
        for _ in range(3):
            clock.advance(60)
            daemon.cycle()
        assert len(daemon.launcher.running(ORIGIN)) == 1
        assert len(store.ticks(ORIGIN)) == 1
    finally:
        (root / "hold").unlink()
    settle(daemon, store, clock)
    assert len(automation_runs(store)) == 1
    clock.advance(60)
    daemon.cycle()
    settle(daemon, store, clock)
    assert len(automation_runs(store)) == 1


def test_the_automation_is_evaluated_once_per_interval(make_project):
    root = make_eager(make_project)
    clock = FixedClock(NOW)
    daemon, store = scheduler_for(root, clock)
    daemon.cycle()
    (root / "feed.txt").write_text("2")
    by_hand(root, "feed", force=True)
    clock.advance(59)
    daemon.cycle()
    assert automation_runs(store) == []
    clock.advance(1)
    daemon.cycle()
    settle(daemon, store, clock)
    assert len(automation_runs(store)) == 1


def test_due_assets_leaves_out_those_in_progress(make_project):
    root = make_eager(make_project)
    (root / "feed.txt").write_text("2")
    by_hand(root, "feed", force=True)
    project = load(root)
    policies = load_automation(project).policies
    with open_project_store(project) as store:
        due = due_assets(project, store, policies, FixedClock(NOW))
        assert due.assets == ("cleaned", "summary")
        assert (
            due_assets(
                project, store, policies, FixedClock(NOW), in_progress={"cleaned", "summary"}
            ).assets
            == ()
        )
        request = due.request(NOW)
        assert request.selection == "cleaned summary"
        assert request.trigger == ORIGIN
        assert request.partitions is None  # nothing partitioned is due
        assert sorted(request.redo) == ["missing", "stale"]


MISSING = """
from assetflow import DailyPartitions, asset

days = DailyPartitions(start="2026-03-01")


@asset(partitions=days, automation="missing")
def daily(context) -> dict:
    return {"day": context.partition_key}
"""


def test_missing_fills_the_due_partitions_never_materialized(make_project):
    root = make_project(MISSING, config=CONFIG)
    clock = FixedClock(NOW)  # 2026-03-04 01:00 UTC: three days have closed
    daemon, store = scheduler_for(root, clock)
    daemon.cycle()
    settle(daemon, store, clock)
    [run] = automation_runs(store)
    assert run.status.value == "success"
    assert sorted(materialized_in(store, run.run_id)) == [
        ("daily", "2026-03-01"),
        ("daily", "2026-03-02"),
        ("daily", "2026-03-03"),
    ]
    # All there: nothing more until the next day closes, then only that one.
    clock.advance(3600)
    daemon.cycle()
    settle(daemon, store, clock)
    assert len(automation_runs(store)) == 1
    clock.advance(86400)
    daemon.cycle()
    settle(daemon, store, clock)
    newest = automation_runs(store)[0]
    assert materialized_in(store, newest.run_id) == [("daily", "2026-03-04")]


BOTH = (
    EAGER
    + """

from assetflow import DailyPartitions

days = DailyPartitions(start="2026-03-01")


@asset(partitions=days, automation="missing")
def daily(context) -> dict:
    return {"day": context.partition_key}
"""
)


def test_automated_assets_due_in_one_cycle_run_as_one_run_in_dependency_order(make_project):
    root = make_project(BOTH, config=CONFIG)
    (root / "feed.txt").write_text("1")
    by_hand(root, "feed cleaned summary manual")
    (root / "feed.txt").write_text("2")
    by_hand(root, "feed", force=True)
    clock = FixedClock(NOW)
    daemon, store = scheduler_for(root, clock)
    daemon.cycle()
    settle(daemon, store, clock)
    [run] = automation_runs(store)
    assert run.status.value == "success"
    done = materialized_in(store, run.run_id)
    assert sorted(map(str, done)) == sorted(
        ["cleaned", "summary"] + [str(("daily", f"2026-03-0{d}")) for d in (1, 2, 3)]
    )
    assert done.index("cleaned") < done.index("summary")
    [tick] = store.ticks(ORIGIN)
    assert tick.run_id == run.run_id
    assert "cleaned: eager" in tick.reason
    assert "daily: missing" in tick.reason


HOURLY = """
from assetflow import asset, on_cron


@asset
def feed() -> int:
    import pathlib

    return int((pathlib.Path(__file__).parent / "feed.txt").read_text())


@asset(automation=on_cron("0 * * * *"))
def hourly(feed: int) -> int:
    return feed * 2
"""


def at(text):
    return datetime.fromisoformat(f"2026-03-04T{text}+00:00")


def test_on_cron_runs_once_per_interval_once_its_upstreams_were_updated_since_the_tick(
    make_project,
):
    root = make_project(HOURLY, config=CONFIG)
    (root / "feed.txt").write_text("1")
    by_hand(root, "feed", clock=FixedClock(at("00:30:00")))
    clock = FixedClock(at("01:00:30"))
    daemon, store = scheduler_for(root, clock)
    # Its upstream was last updated before the 01:00 tick: not yet.
    daemon.cycle()
    settle(daemon, store, clock)
    assert automation_runs(store) == []

    # Updated after the tick: it runs, once, for the interval that began at 01:00.
    by_hand(root, "feed", force=True, clock=FixedClock(at("01:10:00")))
    clock.current = at("01:10:30")
    daemon.cycle()
    settle(daemon, store, clock)
    [run] = automation_runs(store)
    assert materialized_in(store, run.run_id) == ["hourly"]
    [tick] = store.ticks(f"{ORIGIN}:hourly")
    assert tick.scheduled_at == at("01:00:00")
    assert tick.run_id == run.run_id
    [evaluation] = store.ticks(ORIGIN)
    assert "on_cron: its upstreams were all updated since the tick at 2026-03-04 01:00 UTC" in (
        evaluation.reason
    )

    # Updated again in the same interval: not twice.
    (root / "feed.txt").write_text("2")
    by_hand(root, "feed", force=True, clock=FixedClock(at("01:20:00")))
    clock.current = at("01:30:00")
    daemon.cycle()
    settle(daemon, store, clock)
    assert len(automation_runs(store)) == 1

    # The 02:00 tick, with no update since: nothing.
    clock.current = at("02:00:30")
    daemon.cycle()
    settle(daemon, store, clock)
    assert len(automation_runs(store)) == 1

    # Updated at 02:10: it runs in the 02:00 interval, and the 03:00 tick (no update
    # since) starts nothing: one update, one run.
    (root / "feed.txt").write_text("3")
    by_hand(root, "feed", force=True, clock=FixedClock(at("02:10:00")))
    clock.current = at("02:11:00")
    daemon.cycle()
    settle(daemon, store, clock)
    newest = automation_runs(store)[0]
    assert newest.run_id != run.run_id
    assert materialized_in(store, newest.run_id) == ["hourly"]
    assert store.ticks(f"{ORIGIN}:hourly")[0].scheduled_at == at("02:00:00")
    clock.current = at("03:00:30")
    daemon.cycle()
    settle(daemon, store, clock)
    assert len(automation_runs(store)) == 2


def test_eager_leaves_an_asset_alone_while_another_run_materializes_it(make_project):
    import threading

    root = make_eager(make_project)
    (root / "feed.txt").write_text("2")
    by_hand(root, "feed", force=True)
    (root / "hold").write_text("")
    manual = threading.Thread(target=by_hand, args=(root, "cleaned"))
    clock = FixedClock(NOW)
    daemon, store = scheduler_for(root, clock)
    try:
        manual.start()
        deadline = time.monotonic() + 10
        while not any(lease.asset == "cleaned" for lease in store.leases()):
            assert time.monotonic() < deadline
            time.sleep(0.01)
        daemon.cycle()
        settle(daemon, store, clock)
        assert automation_runs(store) == []
    finally:
        (root / "hold").unlink()
        manual.join(20)
    # The manual run brought `cleaned` up to date; `summary` is still behind it.
    clock.advance(60)
    daemon.cycle()
    settle(daemon, store, clock)
    [run] = automation_runs(store)
    assert materialized_in(store, run.run_id) == ["summary"]
