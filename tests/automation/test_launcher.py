"""The launcher through a real scheduler: overlap = skip / queue, a schedule's
max_concurrent_runs and the scheduler's global cap, on a real project and SQLite store
with a simulated clock. The assets hold while a gate is closed, so each test decides
when runs finish, and count how many run at once."""

from __future__ import annotations

import time
from datetime import UTC, datetime

from assetflow.automation.scheduler import QUEUED_AT_STOP
from assetflow.clock import FixedClock
from tests.automation import driving
from tests.automation.driving import pump, settle, wait_until

NOW = datetime(2026, 3, 4, 12, 0, 30, tzinfo=UTC)

#: Every asset waits while `gate` is clear, and counts the runs inside it.
ASSETS = """
import threading
import time

from assetflow import HourlyPartitions, asset

gate = threading.Event()
lock = threading.Lock()
inside = {"now": 0, "most": 0, "entered": 0}
hours = HourlyPartitions(start="2026-03-04-00:00")


def _hold():
    with lock:
        inside["now"] += 1
        inside["entered"] += 1
        inside["most"] = max(inside["most"], inside["now"])
    try:
        gate.wait(20)
    finally:
        with lock:
            inside["now"] -= 1


@asset
def slow() -> int:
    _hold()
    return 1


@asset
def a() -> int:
    _hold()
    return 1


@asset
def b() -> int:
    _hold()
    return 2


@asset
def c() -> int:
    _hold()
    return 3


@asset(partitions=hours)
def hourly(context) -> str:
    _hold()
    return context.partition_key
"""


def config(schedules: str, cap: int = 4) -> str:
    return (
        '[tool.assetflow]\nmodules = ["assets"]\nexecutor = "inprocess"\n'
        f"[tool.assetflow.scheduler]\nmax_concurrent_runs = {cap}\n" + schedules
    )


def every_minute(name: str, select: str, extra: str = "") -> str:
    return (
        f'\n[tool.assetflow.schedules.{name}]\ncron = "* * * * *"\nselect = "{select}"\n'
        f'start = "2026-03-04T12:00:00+00:00"\n{extra}'
    )


def scheduler_for(root, clock):
    """The scheduler, its store, and the assets module (its gate and counters)."""
    daemon, store = driving.scheduler_for(root, clock)
    module = daemon.project.graph.spec("slow").fn.__globals__
    return daemon, store, module


def runs_of(store, origin):
    ticks = [t for t in store.ticks(origin, limit=100) if t.run_id]
    return [r for r in (store.get_run(t.run_id) for t in ticks) if r is not None]


def test_overlap_skip_records_the_tick_skipped_while_the_previous_run_goes(make_project):
    root = make_project(ASSETS, config=config(every_minute("often", "slow", 'overlap = "skip"\n')))
    clock = FixedClock(NOW)
    daemon, store, module = scheduler_for(root, clock)
    try:
        daemon.cycle()
        wait_until(lambda: module["inside"]["now"] == 1, daemon, store, clock)
        [first] = store.ticks("schedule:often")
        assert first.status == "started"
        clock.advance(60)
        daemon.cycle()
        skipped, _ = store.ticks("schedule:often")
        assert skipped.status == "skipped"
        assert skipped.reason == (
            f"overlap: run {first.run_id[:8]} of this schedule is still going (overlap = skip)"
        )
        assert skipped.run_id is None
    finally:
        module["gate"].set()
    settle(daemon, store, clock)
    # The previous run is done: the next tick runs.
    clock.advance(60)
    daemon.cycle()
    settle(daemon, store, clock)
    newest = store.ticks("schedule:often")[0]
    assert newest.status == "started"
    assert [r.status.value for r in runs_of(store, "schedule:often")] == ["success", "success"]
    assert module["inside"]["most"] == 1


def test_overlap_queue_starts_the_tick_after_the_previous_run(make_project):
    root = make_project(ASSETS, config=config(every_minute("often", "slow")))
    clock = FixedClock(NOW)
    daemon, store, module = scheduler_for(root, clock)
    try:
        daemon.cycle()
        wait_until(lambda: module["inside"]["now"] == 1, daemon, store, clock)
        clock.advance(60)
        daemon.cycle()
        waiting, first = store.ticks("schedule:often")
        assert first.status == "started"
        assert waiting.status == "claimed"  # recorded, its run waits for the first
        assert daemon.launcher.queued("schedule:often") == 1
        assert store.get_run(waiting.run_id) is None
        time.sleep(0.05)
        pump(daemon, store, clock)
        assert module["inside"]["entered"] == 1
    finally:
        module["gate"].set()
    settle(daemon, store, clock)
    second = store.get_tick("schedule:often", waiting.scheduled_at)
    assert second.status == "started"
    older, newer = sorted(runs_of(store, "schedule:often"), key=lambda r: r.started_at)
    assert newer.run_id == waiting.run_id
    assert older.status.value == newer.status.value == "success"
    assert newer.started_at >= older.finished_at
    assert module["inside"]["most"] == 1


def test_a_schedule_runs_at_most_its_max_concurrent_runs_at_once(make_project):
    schedule = (
        '\n[tool.assetflow.schedules.catchup]\ncron = "0 * * * *"\nselect = "hourly"\n'
        'partition = "previous"\ncatchup = "all"\nmax_concurrent_runs = 2\n'
        'start = "2026-03-04T09:30:00+00:00"\n'
    )
    root = make_project(ASSETS, config=config(schedule))
    clock = FixedClock(NOW)  # 12:00:30: the 10:00, 11:00 and 12:00 ticks are due
    daemon, store, module = scheduler_for(root, clock)
    try:
        daemon.cycle()
        wait_until(lambda: module["inside"]["now"] == 2, daemon, store, clock)
        time.sleep(0.1)
        pump(daemon, store, clock)
        assert module["inside"]["now"] == 2
        assert daemon.launcher.queued("schedule:catchup") == 1
        statuses = sorted(t.status for t in store.ticks("schedule:catchup"))
        assert statuses == ["claimed", "started", "started"]
    finally:
        module["gate"].set()
    settle(daemon, store, clock)
    assert module["inside"]["most"] == 2
    runs = runs_of(store, "schedule:catchup")
    assert [r.status.value for r in runs] == ["success"] * 3
    assert sorted(t.partition_keys[0] for t in store.ticks("schedule:catchup")) == [
        "2026-03-04-09:00",
        "2026-03-04-10:00",
        "2026-03-04-11:00",
    ]


def test_the_global_cap_holds_over_every_schedule(make_project):
    schedules = every_minute("sa", "a") + every_minute("sb", "b") + every_minute("sc", "c")
    root = make_project(ASSETS, config=config(schedules, cap=2))
    clock = FixedClock(NOW)
    daemon, store, module = scheduler_for(root, clock)
    try:
        daemon.cycle()
        wait_until(lambda: module["inside"]["now"] == 2, daemon, store, clock)
        time.sleep(0.1)
        pump(daemon, store, clock)
        assert module["inside"]["now"] == 2
        assert (
            sum(daemon.launcher.queued(o) for o in ("schedule:sa", "schedule:sb", "schedule:sc"))
            == 1
        )
        # The next minute's ticks queue behind them too.
        clock.advance(60)
        daemon.cycle()
        pump(daemon, store, clock)
        assert module["inside"]["now"] == 2
    finally:
        module["gate"].set()
    settle(daemon, store, clock)
    assert module["inside"]["most"] == 2
    for origin in ("schedule:sa", "schedule:sb", "schedule:sc"):
        assert [r.status.value for r in runs_of(store, origin)] == ["success", "success"]


def test_overlap_skip_lets_as_many_runs_overlap_as_the_schedule_allows(make_project):
    extra = 'overlap = "skip"\nmax_concurrent_runs = 2\n'
    schedule = every_minute("often", "hourly", extra + 'partition = "latest"\n').replace(
        "* * * * *", "0 * * * *"
    )
    root = make_project(ASSETS, config=config(schedule))
    clock = FixedClock(NOW)
    daemon, store, module = scheduler_for(root, clock)
    try:
        daemon.cycle()
        wait_until(lambda: module["inside"]["now"] == 1, daemon, store, clock)
        clock.advance(3600)  # the next hour's partition: another asset-partition
        daemon.cycle()
        wait_until(lambda: module["inside"]["now"] == 2, daemon, store, clock)
        clock.advance(3600)
        daemon.cycle()
        third, second, first = store.ticks("schedule:often")
        assert (first.status, second.status) == ("started", "started")
        assert third.status == "skipped"
        assert "overlap:" in third.reason
    finally:
        module["gate"].set()
    settle(daemon, store, clock)
    assert module["inside"]["most"] == 2


def test_a_tick_queued_at_a_clean_stop_is_started_by_the_next_scheduler(make_project):
    # on_stop = cancel drops the queued tick. That is no crash: the next scheduler
    # starts it without using up its one retry (a crash retries once, then fails).
    root = make_project(ASSETS, config=config(every_minute("often", "slow")))
    clock = FixedClock(NOW)
    daemon, store, module = scheduler_for(root, clock)
    try:
        daemon.cycle()
        wait_until(lambda: module["inside"]["now"] == 1, daemon, store, clock)
        clock.advance(60)
        daemon.cycle()
        waiting, _ = store.ticks("schedule:often")
        assert daemon.launcher.queued("schedule:often") == 1
    finally:
        module["gate"].set()  # the cancelled run ends at once
    daemon._stop_runs()
    kept = store.get_tick("schedule:often", waiting.scheduled_at)
    assert (kept.status, kept.reason) == ("claimed", QUEUED_AT_STOP)
    again, store, module = scheduler_for(root, clock)
    module["gate"].set()
    assert [t.scheduled_at for t in again.recover()] == [waiting.scheduled_at]
    settle(again, store, clock)
    started = store.get_tick("schedule:often", waiting.scheduled_at)
    assert (started.status, started.reason) == ("started", QUEUED_AT_STOP)
    assert store.get_run(started.run_id).status.value == "success"


def test_overlap_skip_with_catchup_all_runs_one_of_the_ticks_caught_up_in_one_cycle(
    make_project,
):
    extra = 'overlap = "skip"\ncatchup = "all"\n'
    root = make_project(ASSETS, config=config(every_minute("often", "slow", extra)))
    clock = FixedClock(NOW)
    clock.advance(120)  # 12:02:30: the 12:00, 12:01 and 12:02 ticks are all due
    daemon, store, module = scheduler_for(root, clock)
    module["gate"].set()
    daemon.cycle()
    settle(daemon, store, clock)
    ticks = sorted(store.ticks("schedule:often"), key=lambda t: t.scheduled_at)
    assert [t.status for t in ticks] == ["started", "skipped", "skipped"]
    assert ticks[1].reason == (
        "overlap: the run of an earlier tick of this schedule, caught up in this cycle, is "
        "still going (overlap = skip)"
    )
