"""The coordinator with max_parallel > 1 on real projects: overlap, failures, order, storage."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from assetflow.api import load, materialize, open_project_store
from assetflow.api import plan as plan_only
from assetflow.clock import FixedClock
from assetflow.execution.coordinator import StepState
from assetflow.planner.keys import PartitionRequest
from assetflow.store import EventKind, RunStatus

#: Every partition of the projects below is complete by then.
T0 = datetime(2026, 3, 10, 9, tzinfo=UTC)
#: Two 0.3 s steps that overlap take about 0.3 s; one after the other, 0.6 s.
SLEEP_S = 0.3
PARALLEL_BOUND_S = 0.55


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(T0)


def states_of(root: Path) -> dict:
    """The newest stored state of every asset-partition of a project, each with its path
    resolved against the project's state dir (the store records it relative to that)."""
    project = load(root)
    with open_project_store(project) as store:
        states = store.latest_states()
    return {
        key: state._replace(path=str(project.state_dir / state.path)) if state.path else state
        for key, state in states.items()
    }


def by_key(result) -> dict:
    return {(r.asset, r.partition): r.state for r in result.results}


SLOW = f"""
    import time

    from assetflow import asset

    @asset
    def first() -> dict:
        started = time.perf_counter()
        time.sleep({SLEEP_S})
        return {{"started": started, "finished": time.perf_counter()}}

    @asset
    def second() -> dict:
        started = time.perf_counter()
        time.sleep({SLEEP_S})
        return {{"started": started, "finished": time.perf_counter()}}
"""


def test_two_independent_slow_assets_run_at_the_same_time(make_project, clock):
    root = make_project(SLOW)
    result = materialize(project=root, clock=clock, max_parallel=2)
    assert result.success
    spans = {}
    for name, state in states_of(root).items():
        spans[name[0]] = json.loads(Path(state.path).read_text())
    first, second = spans["first"], spans["second"]
    # Each step's own perf_counter readings: the two sleeps overlap ...
    assert first["started"] < second["finished"]
    assert second["started"] < first["finished"]
    # ... so both are done well before the sum of the sleeps.
    elapsed = max(first["finished"], second["finished"]) - min(first["started"], second["started"])
    assert SLEEP_S <= elapsed < PARALLEL_BOUND_S


def test_one_step_at_a_time_without_max_parallel(make_project, clock):
    root = make_project(SLOW)
    assert materialize(project=root, clock=clock).success
    spans = [json.loads(Path(s.path).read_text()) for s in states_of(root).values()]
    earlier, later = sorted(spans, key=lambda span: span["started"])
    assert earlier["finished"] <= later["started"]


DAILY_CHAIN = """
    from assetflow import DailyPartitions, asset

    DAYS = DailyPartitions(start="{start}", end="{end}")

    @asset(partitions=DAYS)
    def raw(context) -> dict:
        if context.partition_key == "{broken}":
            raise ValueError("bad day")
        return {{"day": context.partition_key}}

    @asset(partitions=DAYS)
    def clean(raw: dict) -> dict:
        return dict(raw, clean=True)

    @asset(partitions=DAYS)
    def report(clean: dict) -> dict:
        return {{"day": clean["day"], "ok": 1}}
"""


def chain(start="2026-03-01", end="2026-03-05", broken="never") -> str:
    return DAILY_CHAIN.format(start=start, end=end, broken=broken)


def test_a_failed_partition_blocks_only_its_downstream_partitions(make_project, clock):
    root = make_project(chain(broken="2026-03-02"))
    result = materialize(project=root, clock=clock, max_parallel=2)
    states = by_key(result)
    assert states.pop(("raw", "2026-03-02")) is StepState.FAILED
    assert states.pop(("clean", "2026-03-02")) is StepState.BLOCKED
    assert states.pop(("report", "2026-03-02")) is StepState.BLOCKED
    assert set(states.values()) == {StepState.MATERIALIZED}
    assert len(states) == 9  # three other days of three assets
    assert result.status is RunStatus.FAILED
    assert not result.success
    messages = {(r.asset, r.partition): r.message for r in result.results}
    assert messages[("clean", "2026-03-02")] == "upstream failed: raw[2026-03-02]"
    assert messages[("report", "2026-03-02")] == "upstream failed: clean[2026-03-02]"
    assert "ValueError: bad day" in messages[("raw", "2026-03-02")]
    with open_project_store(load(root)) as store:
        assert store.get_run(result.run_id).status is RunStatus.FAILED
        assert ("raw", "2026-03-02") in store.latest_failures()


def test_a_parallel_run_records_what_a_sequential_run_records(make_project, clock):
    sequential = make_project(chain(), name="sequential")
    parallel = make_project(chain(), name="parallel")
    assert materialize(project=sequential, clock=clock, max_parallel=1).success
    assert materialize(project=parallel, clock=clock, max_parallel=2).success

    def recorded(root):
        return {
            key: (state.code_version, state.data_version, state.input_versions)
            for key, state in states_of(root).items()
        }

    one, two = recorded(sequential), recorded(parallel)
    assert len(one) == 12
    assert one == two


def test_newest_first_materializes_the_newest_partitions_first(make_project, clock):
    root = make_project(chain())
    result = materialize(project=root, clock=clock, max_parallel=1, newest_first=True)
    with open_project_store(load(root)) as store:
        events = store.run_events(result.run_id)
    order = [(e.asset, e.partition) for e in events if e.kind is EventKind.MATERIALIZED]
    assert order == [
        (name, day)
        for day in ("2026-03-04", "2026-03-03", "2026-03-02", "2026-03-01")
        for name in ("raw", "clean", "report")
    ]


def test_a_month_long_backfill_then_nothing_to_do(make_project, clock):
    root = make_project(chain(start="2026-01-01", end="2026-02-01"))
    january = PartitionRequest("2026-01-01", "2026-01-31")
    result = materialize(project=root, clock=clock, max_parallel=2, partitions=january)
    assert result.success
    assert result.counts() == {StepState.MATERIALIZED: 93}
    assert len(states_of(root)) == 93
    again = plan_only(project=root, clock=clock, partitions=january)
    assert again.is_empty
    assert again.partitions == "2026-01-01..2026-01-31"


WAREHOUSE = """
    import pandas as pd

    from assetflow import DailyPartitions, asset

    DAYS = DailyPartitions(start="2026-03-01", end="2026-03-05")

    @asset(partitions=DAYS, io="duckdb")
    def events(context) -> pd.DataFrame:
        day = context.partition_key
        count = int(day[-1])  # 1 row on the 1st, 2 on the 2nd, ...
        return pd.DataFrame({"day": [day] * count, "n": list(range(count))})

    @asset
    def summary(events: pd.DataFrame) -> dict:
        return {
            "rows": len(events),
            "by_day": {day: int(n) for day, n in events.groupby("day").size().items()},
        }
"""


def test_a_duckdb_partitioned_asset_is_read_whole_from_storage_in_a_later_run(make_project, clock):
    root = make_project(WAREHOUSE)
    # One step at a time: two threads that create the same DuckDB table at once can fail
    # ("Table Function with name python_arrow_scan does not exist", reported as a bug).
    # What this test is about is the later run reading every partition back.
    first = materialize("events", project=root, clock=clock, max_parallel=1)
    assert first.success
    assert first.counts() == {StepState.MATERIALIZED: 4}

    second = materialize("summary", project=root, clock=clock, max_parallel=2)
    assert second.success
    assert [(s.asset, s.partition) for s in second.plan.steps] == [("summary", None)]
    state = states_of(root)[("summary", None)]
    assert json.loads(Path(state.path).read_text()) == {
        "rows": 1 + 2 + 3 + 4,
        "by_day": {"2026-03-01": 1, "2026-03-02": 2, "2026-03-03": 3, "2026-03-04": 4},
    }
    assert set(state.input_versions) == {
        "events[2026-03-01]",
        "events[2026-03-02]",
        "events[2026-03-03]",
        "events[2026-03-04]",
    }
