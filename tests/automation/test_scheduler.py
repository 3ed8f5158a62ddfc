"""The scheduler's cycle on a real project and a real SQLite store, on a simulated clock."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest

from assetflow.api import load
from assetflow.automation.loading import load_automation
from assetflow.automation.scheduler import RETRIED
from assetflow.clock import FixedClock
from assetflow.errors import DefinitionError, UsageError
from assetflow.store.automation import TickRecord
from tests.automation.driving import scheduler_for

DAILY = """
from assetflow import asset, DailyPartitions

days = DailyPartitions(start="2026-03-01", timezone="Europe/Berlin")

@asset(partitions=days)
def orders(context) -> dict:
    return {"day": context.partition_key}

@asset(partitions=days)
def report(orders: dict) -> dict:
    return {"report": orders["day"]}

@asset
def plain() -> dict:
    return {"x": 1}
"""


def config(schedules: str, scheduler: str = "") -> str:
    return (
        '[tool.assetflow]\nmodules = ["assets"]\nexecutor = "inprocess"\n' + scheduler + schedules
    )


NIGHTLY = """
[tool.assetflow.schedules.nightly]
cron = "0 3 * * *"
timezone = "Europe/Berlin"
select = "report+ +report"
partition = "previous"
catchup = "{catchup}"
start = "2026-03-02T00:00:00+01:00"
"""


def berlin(text: str) -> datetime:
    return datetime.fromisoformat(text + "+01:00").astimezone(UTC)


def started_runs(store, origin="schedule:nightly"):
    return [t for t in store.ticks(origin, limit=500) if t.status == "started"]


def test_a_tick_runs_the_partition_that_closed_and_a_second_evaluation_starts_nothing(
    make_project,
):
    root = make_project(DAILY, config=config(NIGHTLY.format(catchup="latest")))
    clock = FixedClock(berlin("2026-03-02T03:00:30"))
    daemon, store = scheduler_for(root, clock)
    report = daemon.run_once()
    assert [(r.status, r.partition_keys) for r, ok in report.recorded if ok] == [
        ("claimed", ("2026-03-01",))
    ]
    [tick] = store.ticks("schedule:nightly")
    assert tick.status == "started"
    run = store.get_run(tick.run_id)
    assert run is not None
    assert run.status.value == "success"
    assert run.trigger == "schedule:nightly@2026-03-02T03:00+01:00"
    again, _ = scheduler_for(root, clock)
    assert again.run_once().recorded == []
    assert len(store.list_runs()) == 1


MIXED = (
    DAILY
    + """
from assetflow import MonthlyPartitions

@asset(partitions=MonthlyPartitions(start="2026-01-01", timezone="Europe/Berlin"))
def monthly_totals(context, orders: dict) -> dict:
    return {"month": context.partition_key}
"""
)


def test_previous_over_a_mixed_selection_gives_each_asset_its_own_partition(make_project):
    schedules = NIGHTLY.format(catchup="latest").replace('"report+ +report"', '"orders+"')
    root = make_project(MIXED, config=config(schedules))
    daemon, store = scheduler_for(root, FixedClock(berlin("2026-03-02T03:00:30")))
    daemon.run_once()
    [tick] = store.ticks("schedule:nightly")
    assert tick.partition_keys == ("2026-03-01", "2026-02")
    steps = {(e.asset, e.partition) for e in store.run_events(tick.run_id) if e.asset}
    assert steps == {
        ("orders", "2026-03-01"),
        ("report", "2026-03-01"),
        ("monthly_totals", "2026-02"),
    }


def test_partition_on_a_selection_led_by_dynamic_partitions_is_refused(make_project):
    assets = (
        DAILY
        + """
from assetflow import DynamicPartitions

@asset(partitions=DynamicPartitions("uploads"))
def upload(context) -> dict:
    return {"key": context.partition_key}
"""
    )
    schedules = NIGHTLY.format(catchup="latest").replace('"report+ +report"', '"upload"')
    root = make_project(assets, config=config(schedules))
    with pytest.raises(DefinitionError, match="'upload' has dynamic partitions, and no key"):
        load_automation(load(root))


@pytest.mark.parametrize(
    ("catchup", "runs", "skipped"),
    [("all", 4, 0), ("latest", 1, 3), ("none", 1, 3)],
)
def test_missed_ticks_follow_catchup(make_project, catchup, runs, skipped):
    root = make_project(DAILY, config=config(NIGHTLY.format(catchup=catchup)))
    # The scheduler first runs on the 5th, 00:01 past the tick: four ticks are due.
    clock = FixedClock(berlin("2026-03-05T03:01:00"))
    daemon, store = scheduler_for(root, clock)
    daemon.run_once()
    ticks = store.ticks("schedule:nightly", limit=50)
    assert sum(t.status == "started" for t in ticks) == runs
    assert sum(t.status == "skipped" for t in ticks) == skipped
    newest = ticks[0]
    assert newest.status == "started"
    assert newest.partition_keys == ("2026-03-04",)
    for tick in ticks:
        if tick.status == "skipped":
            assert f"catchup = {catchup}" in tick.reason


def test_catchup_all_runs_at_most_max_catchup_oldest_first(make_project):
    schedules = NIGHTLY.format(catchup="all") + "max_catchup = 2\n"
    root = make_project(DAILY, config=config(schedules))
    daemon, store = scheduler_for(root, FixedClock(berlin("2026-03-06T04:00:00")))
    daemon.run_once()
    ticks = sorted(store.ticks("schedule:nightly", limit=50), key=lambda t: t.scheduled_at)
    assert [t.status for t in ticks] == ["skipped", "skipped", "skipped", "started", "started"]
    assert "max_catchup = 2" in ticks[0].reason
    runs = sorted(store.list_runs(), key=lambda r: r.started_at)
    assert [store.get_tick("schedule:nightly", t.scheduled_at).run_id for t in ticks[3:]] == [
        r.run_id for r in runs
    ]


def test_a_paused_schedule_records_its_ticks_as_skipped_and_resuming_starts_no_flood(
    make_project,
):
    root = make_project(DAILY, config=config(NIGHTLY.format(catchup="all")))
    clock = FixedClock(berlin("2026-03-02T03:00:30"))
    daemon, store = scheduler_for(root, clock)
    daemon.run_once()
    store.set_paused("schedule:nightly", True, clock.now())
    clock.advance(3 * 86400)
    daemon.run_once()
    paused = [t for t in store.ticks("schedule:nightly") if t.status == "skipped"]
    assert len(paused) == 3
    assert all("paused" in t.reason for t in paused)
    store.set_paused("schedule:nightly", False, clock.now())
    daemon.run_once()
    assert len(started_runs(store)) == 1
    clock.advance(86400)
    daemon.run_once()
    assert len(started_runs(store)) == 2


def test_editing_the_cron_line_never_reruns_a_recorded_tick(make_project):
    root = make_project(DAILY, config=config(NIGHTLY.format(catchup="all")))
    clock = FixedClock(berlin("2026-03-02T03:30:00"))
    daemon, store = scheduler_for(root, clock)
    daemon.run_once()
    (root / "pyproject.toml").write_text(
        config(NIGHTLY.format(catchup="all").replace("0 3 * * *", "0 2 * * *"))
    )
    edited, _ = scheduler_for(root, clock)
    edited.run_once()
    # 02:00 today is before the recorded 03:00 tick: never run.
    assert len(store.ticks("schedule:nightly")) == 1


def test_a_tick_recorded_but_never_started_is_retried_once_and_one_already_started_is_linked(
    make_project,
):
    root = make_project(DAILY, config=config(NIGHTLY.format(catchup="latest")))
    clock = FixedClock(berlin("2026-03-02T03:00:30"))
    daemon, store = scheduler_for(root, clock)
    tick = berlin("2026-03-02T03:00:00")
    [decision] = [
        d
        for target in daemon.automation.schedules
        for d in __import__("assetflow.automation.ticking", fromlist=["due_ticks"]).due_ticks(
            target, daemon.states(clock.now())[target.origin], None, clock.now()
        )
    ]
    from assetflow.automation.scheduler import _record

    record = _record(decision, clock.now())
    assert store.claim_tick(record)  # a scheduler recorded it, then died
    daemon.run_once()
    after = store.get_tick("schedule:nightly", tick)
    assert after.status == "started"
    assert after.run_id == record.run_id
    assert after.reason == RETRIED
    assert store.get_run(record.run_id).status.value == "success"
    assert len(store.list_runs()) == 1


def test_a_retried_tick_that_never_starts_again_fails_rather_than_loops(make_project):
    root = make_project(DAILY, config=config(NIGHTLY.format(catchup="latest")))
    clock = FixedClock(berlin("2026-03-02T03:00:30"))
    daemon, store = scheduler_for(root, clock)
    moment = berlin("2026-03-02T03:00:00")
    store.claim_tick(
        TickRecord(
            origin="schedule:nightly",
            scheduled_at=moment,
            evaluated_at=clock.now(),
            status="claimed",
            reason=RETRIED,
            run_id="f" * 32,
            request={"version": 1, "selection": "report"},
        )
    )
    daemon.recover()
    assert store.get_tick("schedule:nightly", moment).status == "failed"


def test_two_schedulers_evaluating_at_once_start_each_tick_once(make_project):
    root = make_project(DAILY, config=config(NIGHTLY.format(catchup="all")))
    clock = FixedClock(berlin("2026-03-04T03:00:30"))
    first, store = scheduler_for(root, clock)
    second, _ = scheduler_for(root, clock)
    barrier = threading.Barrier(2)

    def evaluate(daemon):
        barrier.wait()
        daemon.cycle()
        while daemon.launcher.busy:
            daemon.wake.wait(0.1)
            daemon.launcher.settle(daemon.store, clock.now())
            daemon.launcher.pump()

    threads = [threading.Thread(target=evaluate, args=(d,)) for d in (first, second)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert len(store.ticks("schedule:nightly")) == 3
    assert len(store.list_runs()) == 3


def test_once_refuses_to_compete_with_a_leading_scheduler(make_project):
    root = make_project(DAILY, config=config(NIGHTLY.format(catchup="latest")))
    clock = FixedClock(berlin("2026-03-02T03:00:30"))
    leader, _store = scheduler_for(root, clock)
    assert leader.leads(leader.lease())
    other, _ = scheduler_for(root, clock)
    with pytest.raises(UsageError, match="another scheduler leads this project's store"):
        other.run_once()
    clock.advance(16)  # the leader's heartbeat is older than the lease
    assert other.run_once().recorded


def test_a_selection_that_selects_nothing_is_a_load_error(make_project):
    bad = NIGHTLY.format(catchup="latest").replace(
        'select = "report+ +report"', 'select = "tag:none"'
    )
    root = make_project(DAILY, config=config(bad))
    with pytest.raises(
        DefinitionError,
        match=r"the selection 'tag:none' of schedule 'nightly' .* no asset has a tag",
    ):
        load_automation(load(root))


def test_partition_previous_on_a_selection_without_partitions_is_a_load_error(make_project):
    bad = NIGHTLY.format(catchup="latest").replace('select = "report+ +report"', 'select = "plain"')
    root = make_project(DAILY, config=config(bad))
    with pytest.raises(DefinitionError, match=r'partition = "previous", but none of the assets'):
        load_automation(load(root))


def test_a_year_of_daily_ticks_replays_in_order(make_project):
    root = make_project(DAILY, config=config(NIGHTLY.format(catchup="latest")))
    clock = FixedClock(berlin("2026-03-02T03:00:30"))
    daemon, store = scheduler_for(root, clock)
    for _ in range(10):
        daemon.cycle()
        clock.advance(86400)
    daemon.launcher.join(60)
    daemon.launcher.settle(store, clock.now())
    ticks = store.ticks("schedule:nightly", limit=50)
    assert len(ticks) == 10
    assert [t.partition_keys[0] for t in reversed(ticks)][:3] == [
        "2026-03-01",
        "2026-03-02",
        "2026-03-03",
    ]
    assert timedelta(days=9) == ticks[0].scheduled_at - ticks[-1].scheduled_at + timedelta(0)


def test_a_schedule_object_in_a_project_module_is_found_and_runs(make_project):
    assets = (
        DAILY
        + """
import assetflow

nightly = assetflow.schedule(
    "nightly",
    cron="0 3 * * *",
    timezone="Europe/Berlin",
    select="+report",
    partition="previous",
    start="2026-03-02T00:00:00+01:00",
)
"""
    )
    root = make_project(assets, config=config(""))
    daemon, store = scheduler_for(root, FixedClock(berlin("2026-03-02T03:00:30")))
    assert [t.name for t in daemon.automation.schedules] == ["nightly"]
    daemon.run_once()
    [tick] = store.ticks("schedule:nightly")
    assert (tick.status, tick.partition_keys) == ("started", ("2026-03-01",))
