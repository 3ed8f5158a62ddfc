"""Sensors in the scheduler's cycle: @sensor functions and sources with `sensor=True`, on a
real project and a real SQLite store, on a simulated clock."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta

from click.testing import CliRunner

from assetflow.api import load, open_project_store
from assetflow.cli import cli
from assetflow.clock import FixedClock
from tests.automation.driving import scheduler_for, settle

NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)

#: A sensor reads its orders from files in the project: `requests.json` (a list of
#: run keys; a key "boom" raises), and writes what it saw to `seen.jsonl`, so that a
#: test steers it between cycles and reads what it was given.
SENSORS = """
import json
import pathlib
import threading

from assetflow import (
    DynamicPartitions, PartitionRequest, RunRequest, SensorResult, asset, sensor
)

HERE = pathlib.Path(__file__).parent
uploads = DynamicPartitions("uploads")
release = threading.Event()


def _note(name, context):
    with open(HERE / "seen.jsonl", "a") as out:
        out.write(json.dumps({"sensor": name, "cursor": context.cursor,
                              "last": context.last_evaluated_at and
                              context.last_evaluated_at.isoformat()}) + "\\n")


@asset
def raw() -> dict:
    return {"n": 1}


@asset
def summary(raw: dict) -> dict:
    return {"total": raw["n"]}


@asset
def other() -> dict:
    return {"o": 1}


@asset(partitions=uploads)
def parsed(context) -> dict:
    return {"key": context.partition_key}


@sensor(interval="1m", select="raw+")
def requests(context):
    _note("requests", context)
    wanted = json.loads((HERE / "requests.json").read_text())
    if "boom" in wanted:
        raise ValueError("the inbox is unreadable")
    count = int(context.cursor or "0")
    return SensorResult(
        run_requests=[RunRequest(run_key=key) for key in wanted],
        cursor=str(count + 1),
    )


@sensor(interval="1m", select="other")
def steady(context):
    _note("steady", context)
    return RunRequest(run_key="steady-" + context.now.strftime("%H%M"))


@sensor(interval="1m", timeout=0.3)
def sleepy(context):
    _note("sleepy", context)
    if (HERE / "hang").exists():
        release.wait(20)
    return None


@sensor(interval="1m")
def landed(context):
    _note("landed", context)
    names = sorted(p.stem for p in (HERE / "inbox").glob("*.txt"))
    known = json.loads(context.cursor or "[]")
    new = [n for n in names if n not in known]
    return SensorResult(
        run_requests=[
            RunRequest("parsed", partitions=PartitionRequest.one(n), run_key="upload:" + n)
            for n in new
        ],
        cursor=json.dumps(names),
        add_partitions={"uploads": new},
    )
"""

CONFIG = '[tool.assetflow]\nmodules = ["assets"]\nexecutor = "inprocess"\n'


def make(make_project):
    root = make_project(SENSORS, config=CONFIG)
    (root / "requests.json").write_text("[]")
    (root / "inbox").mkdir()
    return root


def seen(root, name):
    lines = (root / "seen.jsonl").read_text().splitlines()
    return [entry for entry in map(json.loads, lines) if entry["sensor"] == name]


def test_run_requests_become_ticks_and_runs_and_the_cursor_is_saved_with_them(make_project):
    root = make(make_project)
    (root / "requests.json").write_text('["a"]')
    clock = FixedClock(NOW)
    daemon, store = scheduler_for(root, clock)
    daemon.cycle()
    settle(daemon, store, clock)
    [tick] = store.ticks("sensor:requests")
    assert tick.status == "started"
    assert tick.run_key == "a"
    assert tick.selection == "raw+"
    run = store.get_run(tick.run_id)
    assert run.status.value == "success"
    assert run.trigger == "sensor:requests"
    assert run.run_key == "a"
    assert store.sensor_cursor("sensor:requests") == "1"

    # The next evaluation is given the cursor saved with the ticks, and when it was last
    # evaluated.
    (root / "requests.json").write_text('["b"]')
    clock.advance(60)
    daemon.cycle()
    settle(daemon, store, clock)
    assert [(e["cursor"], e["last"]) for e in seen(root, "requests")] == [
        (None, None),
        ("1", NOW.isoformat()),
    ]
    assert store.sensor_cursor("sensor:requests") == "2"
    assert [t.run_key for t in store.ticks("sensor:requests")] == ["b", "a"]
    assert len(store.list_runs(limit=100)) == 4  # two of `requests`, two of `steady`


def test_a_sensor_is_evaluated_once_per_interval(make_project):
    root = make(make_project)
    clock = FixedClock(NOW)
    daemon, store = scheduler_for(root, clock)
    daemon.cycle()
    clock.advance(30)
    daemon.cycle()
    assert len(seen(root, "requests")) == 1
    clock.advance(30)
    report = daemon.cycle()
    assert len(seen(root, "requests")) == 2
    assert report.next_due == clock.now() + timedelta(seconds=60)
    settle(daemon, store, clock)


def test_a_run_key_already_used_starts_no_second_run_and_the_tick_says_so(make_project):
    root = make(make_project)
    (root / "requests.json").write_text('["same"]')
    clock = FixedClock(NOW)
    daemon, store = scheduler_for(root, clock)
    daemon.cycle()
    settle(daemon, store, clock)
    clock.advance(60)
    daemon.cycle()
    settle(daemon, store, clock)
    newest, first = store.ticks("sensor:requests")
    assert first.status == "started"
    assert newest.status == "skipped"
    assert newest.run_id is None or store.get_run(newest.run_id) is None
    assert "run key 'same' was already requested" in newest.reason
    assert [r.run_key for r in store.list_runs(limit=100)].count("same") == 1
    # The evaluation still counts: its cursor moved on.
    assert store.sensor_cursor("sensor:requests") == "2"


def test_a_sensor_that_raises_is_a_failed_tick_and_the_others_and_the_schedules_still_run(
    make_project,
):
    schedule = (
        CONFIG + '\n[tool.assetflow.schedules.hourly]\ncron = "0 * * * *"\nselect = "other"\n'
        'start = "2026-03-02T11:30:00+00:00"\n'
    )
    root = make_project(SENSORS, config=schedule)
    (root / "inbox").mkdir()
    (root / "requests.json").write_text('["boom"]')
    clock = FixedClock(NOW)
    daemon, store = scheduler_for(root, clock)
    daemon.store.save_sensor_evaluation("sensor:requests", "7", [])
    daemon.cycle()
    settle(daemon, store, clock)
    [failed] = store.ticks("sensor:requests")
    assert failed.status == "failed"
    assert failed.run_id is None
    assert "raised ValueError: the inbox is unreadable" in failed.reason
    # Its cursor is kept as it was; the other sensor and the schedule ran.
    assert store.sensor_cursor("sensor:requests") == "7"
    [steady] = store.ticks("sensor:steady")
    assert steady.status == "started"
    [hourly] = store.ticks("schedule:hourly")
    assert hourly.status == "started"
    assert store.get_run(hourly.run_id).status.value == "success"

    # Retried next interval: fixed, it runs, and sees the cursor it had.
    (root / "requests.json").write_text('["fixed"]')
    clock.advance(60)
    daemon.cycle()
    settle(daemon, store, clock)
    assert store.ticks("sensor:requests")[0].status == "started"
    assert seen(root, "requests")[-1]["cursor"] == "7"
    assert store.sensor_cursor("sensor:requests") == "8"


def test_a_hanging_sensor_times_out_the_cycle_returns_and_it_is_evaluated_again(make_project):
    root = make(make_project)
    (root / "hang").write_text("")
    (root / "requests.json").write_text('["a"]')
    clock = FixedClock(NOW)
    daemon, store = scheduler_for(root, clock)
    release = daemon.automation.sensors[0].fn.__globals__["release"]
    try:
        began = time.monotonic()
        daemon.cycle()
        assert time.monotonic() - began < 3
        [hung] = store.ticks("sensor:sleepy")
        assert hung.status == "failed"
        assert hung.reason == "timed out after 0.3 s"
        # The others went on in the same cycle.
        assert store.ticks("sensor:requests")[0].status in ("claimed", "started")
        settle(daemon, store, clock)
    finally:
        release.set()
    (root / "hang").unlink()
    # Next interval it is evaluated again (once its abandoned call has ended).
    deadline = time.monotonic() + 5
    while len(seen(root, "sleepy")) < 2 and time.monotonic() < deadline:
        clock.advance(60)
        daemon.cycle()
        settle(daemon, store, clock)
    assert len(seen(root, "sleepy")) == 2
    # It returned nothing this time: no new failure, only the timeout (and, while its
    # abandoned call still ran, evaluations that said so).
    *later, first = store.ticks("sensor:sleepy", limit=100)
    assert first.reason == "timed out after 0.3 s"
    assert all(t.reason.startswith("not started: its evaluation that timed out") for t in later)


def test_a_sensor_adding_dynamic_partition_keys_stores_them_and_runs_the_new_key(make_project):
    root = make(make_project)
    (root / "inbox" / "batch-1.txt").write_text("x")
    clock = FixedClock(NOW)
    daemon, store = scheduler_for(root, clock)
    daemon.cycle()
    settle(daemon, store, clock)
    assert store.partition_keys(["uploads"]) == {"uploads": ["batch-1"]}
    [tick] = store.ticks("sensor:landed")
    assert tick.status == "started"
    assert tick.partition_keys == ("batch-1",)
    run = store.get_run(tick.run_id)
    assert run.status.value == "success", run
    assert ("parsed", "batch-1") in store.latest_materializations(["parsed"])

    (root / "inbox" / "batch-2.txt").write_text("y")
    clock.advance(60)
    daemon.cycle()
    settle(daemon, store, clock)
    assert store.partition_keys(["uploads"]) == {"uploads": ["batch-1", "batch-2"]}
    newest = store.ticks("sensor:landed")[0]
    assert newest.partition_keys == ("batch-2",)
    assert store.get_run(newest.run_id).status.value == "success"
    assert set(store.latest_materializations(["parsed"])) == {
        ("parsed", "batch-1"),
        ("parsed", "batch-2"),
    }


def test_scheduler_once_evaluates_the_sensors_once(make_project):
    root = make(make_project)
    (root / "requests.json").write_text('["a", "b"]')
    result = CliRunner().invoke(
        cli, ["--project", str(root), "scheduler", "--once", "--now", "2026-03-02T12:00:00Z"]
    )
    assert result.exit_code == 0, result.output
    assert len(seen(root, "requests")) == 1
    assert len(seen(root, "steady")) == 1
    project = load(root)
    with open_project_store(project) as store:
        ticks = store.ticks("sensor:requests")
        assert sorted(t.run_key for t in ticks) == ["a", "b"]
        assert {t.status for t in ticks} == {"started"}
        assert {store.get_run(t.run_id).status.value for t in ticks} == {"success"}


SLOPPY = """
from assetflow import RunRequest, asset, sensor


@asset
def raw() -> dict:
    return {"n": 1}


@sensor(interval="1m")
def sloppy(context):
    return RunRequest("raw", partitions={"first": "a", "last": "a"}, run_key="k")


@sensor(interval="1m", select="raw")
def fine(context):
    return RunRequest(run_key="fine")


@sensor(interval="1m")
def lost(context):
    return RunRequest("no_such_asset", run_key="lost")
"""


def test_a_request_with_fields_of_the_wrong_type_is_a_failed_tick_not_a_broken_cycle(
    make_project,
):
    root = make_project(SLOPPY, config=CONFIG)
    clock = FixedClock(NOW)
    daemon, store = scheduler_for(root, clock)
    report = daemon.cycle()
    settle(daemon, store, clock)
    [failed] = store.ticks("sensor:sloppy")
    assert failed.status == "failed"
    assert "partitions is a dict; give PartitionRequest.one('KEY')" in failed.reason
    assert store.ticks("sensor:fine")[0].status == "started"
    assert report.next_due is not None


def test_a_request_whose_run_cannot_start_is_a_failed_tick_with_the_reason(make_project):
    root = make_project(SLOPPY, config=CONFIG)
    clock = FixedClock(NOW)
    daemon, store = scheduler_for(root, clock)
    daemon.cycle()
    settle(daemon, store, clock)
    [tick] = store.ticks("sensor:lost")
    assert tick.status == "failed"
    assert tick.reason.startswith("the run could not start: ")
    assert "no_such_asset" in tick.reason
    assert tick.run_id is None or store.get_run(tick.run_id) is None
    assert [r.run_key for r in store.list_runs(limit=100)] == ["fine"]


# --- sources with sensor=True -----------------------------------------------------------

SOURCES = """
from pathlib import Path

from assetflow import asset, file_source, source

HERE = Path(__file__).parent
listing = file_source("listing", "data/listing.csv", sensor=True, sensor_interval="1m")


@source(sensor=True, sensor_interval="1m")
def bucket() -> str:
    if (HERE / "bucket-gone").exists():
        raise OSError("the bucket is gone")
    return "v1"


@asset
def count(listing: Path) -> int:
    return len(listing.read_text().splitlines())


@asset
def doubled(count: int) -> int:
    return count * 2


@asset
def from_bucket(bucket: str) -> str:
    return bucket


@asset
def unrelated() -> int:
    return 1
"""


def materialized_in(store, run_id):
    return sorted(
        e.asset for e in store.run_events(run_id) if e.kind.value == "materialized" and e.asset
    )


def test_a_sensed_file_runs_its_stale_downstream_then_only_when_it_changes(make_project):
    root = make_project(SOURCES, config=CONFIG)
    (root / "data").mkdir()
    (root / "data" / "listing.csv").write_text("a\nb\n")
    clock = FixedClock(NOW)
    daemon, store = scheduler_for(root, clock)
    daemon.cycle()
    settle(daemon, store, clock)
    [first] = store.ticks("sensor:listing")
    assert first.status == "started"
    assert first.selection == "listing+"
    assert store.get_run(first.run_id).status.value == "success"
    assert store.get_run(first.run_id).trigger == "sensor:listing"
    assert materialized_in(store, first.run_id) == ["count", "doubled"]

    # Unchanged: the next interval starts nothing.
    clock.advance(60)
    daemon.cycle()
    settle(daemon, store, clock)
    assert len(store.ticks("sensor:listing")) == 1

    # Changed: a new run of its downstream.
    (root / "data" / "listing.csv").write_text("a\nb\nc\n")
    clock.advance(30)
    daemon.cycle()  # not yet a minute since it was observed
    assert len(store.ticks("sensor:listing")) == 1
    clock.advance(30)
    daemon.cycle()
    settle(daemon, store, clock)
    newest, _ = store.ticks("sensor:listing")
    assert newest.status == "started"
    assert newest.run_id != first.run_id
    assert materialized_in(store, newest.run_id) == ["count", "doubled"]
    assert [r.trigger for r in store.list_runs(limit=100)].count("sensor:listing") == 2

    # Back to what it was first: a change again, so its downstream runs again (the run
    # key of the first version must not hold this one back).
    (root / "data" / "listing.csv").write_text("a\nb\n")
    clock.advance(60)
    daemon.cycle()
    settle(daemon, store, clock)
    reverted = store.ticks("sensor:listing")[0]
    assert reverted.status == "started", reverted.reason
    assert materialized_in(store, reverted.run_id) == ["count", "doubled"]


def test_an_observer_that_raises_is_a_failed_tick_and_not_fatal(make_project):
    root = make_project(SOURCES, config=CONFIG)
    (root / "data").mkdir()
    (root / "data" / "listing.csv").write_text("a\n")
    (root / "bucket-gone").write_text("")
    clock = FixedClock(NOW)
    daemon, store = scheduler_for(root, clock)
    daemon.cycle()
    settle(daemon, store, clock)
    [failed] = store.ticks("sensor:bucket")
    assert failed.status == "failed"
    assert "observing it failed" in failed.reason
    assert "the bucket is gone" in failed.reason
    assert store.ticks("sensor:listing")[0].status == "started"

    # Back next interval: it runs its downstream.
    (root / "bucket-gone").unlink()
    clock.advance(60)
    daemon.cycle()
    settle(daemon, store, clock)
    newest = store.ticks("sensor:bucket")[0]
    assert newest.status == "started"
    assert materialized_in(store, newest.run_id) == ["from_bucket"]


DYNAMIC_SOURCE = """
from pathlib import Path

from assetflow import DynamicPartitions, asset, file_source

uploads = DynamicPartitions("uploads")
landed = file_source("landed", "inbox/{partition}.txt", partitions=uploads, sensor=True)


@asset(partitions=uploads)
def parsed(landed: Path) -> str:
    return landed.read_text()
"""


def test_a_sensed_source_with_dynamic_partitions_is_observed_in_its_stored_keys(make_project):
    root = make_project(DYNAMIC_SOURCE, config=CONFIG)
    (root / "inbox").mkdir()
    (root / "inbox" / "one.txt").write_text("1")
    clock = FixedClock(NOW)
    daemon, store = scheduler_for(root, clock)
    store.add_partition_keys("uploads", ["one"], NOW)
    daemon.cycle()
    settle(daemon, store, clock)
    [tick] = store.ticks("sensor:landed")
    assert tick.status == "started", tick.reason
    assert materialized_in(store, tick.run_id) == ["parsed"]

    # A second key and its file: observed, and its partition runs.
    (root / "inbox" / "two.txt").write_text("2")
    store.add_partition_keys("uploads", ["two"], NOW)
    clock.advance(30)
    daemon.cycle()
    settle(daemon, store, clock)
    newest = store.ticks("sensor:landed")[0]
    assert newest.status == "started", newest.reason
    assert [
        e.partition
        for e in store.run_events(newest.run_id)
        if e.kind.value == "materialized" and e.asset == "parsed"
    ] == ["two"]


MISNAMED = """
from assetflow import DynamicPartitions, PartitionRequest, RunRequest, SensorResult, asset, sensor

uploads = DynamicPartitions("uploads")


@asset(partitions=uploads)
def parsed(context) -> str:
    return context.partition_key


@sensor(interval="1m")
def landed(context):
    return SensorResult(
        run_requests=[RunRequest("parsed", partitions=PartitionRequest.one("b1"))],
        cursor="moved",
        add_partitions={"upload": ["b1"]},
    )
"""


def test_keys_added_to_dynamic_partitions_no_asset_uses_fail_the_evaluation(make_project):
    root = make_project(MISNAMED, config=CONFIG)
    clock = FixedClock(NOW)
    daemon, store = scheduler_for(root, clock)
    daemon.cycle()
    settle(daemon, store, clock)
    [tick] = store.ticks("sensor:landed")
    assert tick.status == "failed"
    assert tick.reason == (
        "returned add_partitions['upload'], but no asset is partitioned by "
        "DynamicPartitions('upload') (the project's dynamic partitions: 'uploads'). "
        "Did you mean 'uploads'? Name the DynamicPartitions its assets use."
    )
    assert store.partition_keys(["upload", "uploads"]) == {"upload": [], "uploads": []}
    assert store.sensor_cursor("sensor:landed") is None
    assert store.list_runs() == []
