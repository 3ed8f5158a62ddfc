"""plan_run on partitioned assets: per-partition staleness, mappings, missing inputs, --redo."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from assetflow.asset import MISSING, AssetSettings, AssetSpec, Param, make_spec
from assetflow.clock import FixedClock
from assetflow.errors import MissingInputError
from assetflow.graph import AssetGraph, build_graph
from assetflow.partitions import DailyPartitions, MonthlyPartitions, Offset, Window
from assetflow.planner import ReasonKind, Snapshot, Status, plan_run
from assetflow.planner.keys import PartitionRequest, keys_by_asset
from assetflow.planner.plan import input_keys_of
from assetflow.request import RunRequest
from assetflow.store.records import EventKind, EventRecord
from tests.planner.conftest import dags, record, simulate_run

#: Five days, 2026-03-01 .. 2026-03-05, all complete at NOW.
DAILY = DailyPartitions(start="2026-03-01", end="2026-03-06")
DAYS = ["2026-03-01", "2026-03-02", "2026-03-03", "2026-03-04", "2026-03-05"]
NOW = FixedClock(datetime(2026, 3, 10, 9, tzinfo=UTC)).now()
#: When a later run re-materialized or failed something: after every record of T0.
LATER = datetime(2026, 3, 9, tzinfo=UTC)
FAST = settings(max_examples=40, deadline=None)


def raw():
    return None


def clean(raw):
    return raw


def report(clean):
    return clean


def total(raw):
    return raw


def rolling(raw):
    return raw


def previous(raw):
    return raw


def by_month(raw):
    return raw


@pytest.fixture
def chain() -> AssetGraph:
    """raw -> clean -> report, all daily: each partition reads the same key."""
    return build_graph(
        [
            make_spec(raw, AssetSettings(partitions=DAILY)),
            make_spec(clean, AssetSettings(partitions=DAILY)),
            make_spec(report, AssetSettings(partitions=DAILY)),
        ]
    )


@pytest.fixture
def readers() -> AssetGraph:
    """raw (daily), read whole by total, by a 3-day window, the day before, and by month."""
    return build_graph(
        [
            make_spec(raw, AssetSettings(partitions=DAILY)),
            make_spec(total),
            make_spec(rolling, AssetSettings(partitions=DAILY, mappings={"raw": Window(3)})),
            make_spec(previous, AssetSettings(partitions=DAILY, mappings={"raw": Offset(-1)})),
            make_spec(by_month, AssetSettings(partitions=MonthlyPartitions(start="2026-03-01"))),
        ]
    )


def codes(graph: AssetGraph, version: str = "c1") -> dict[str, str]:
    return {name: version for name in graph.names}


def datas(graph: AssetGraph) -> dict[str, str]:
    return {name: f"{name}-d1" for name in graph.names}


def plan(graph, snapshot=None, selected=None, *, request=None, code=None, **options):
    """plan_run over the keys `keys_by_asset` gives the selection (default: everything)."""
    selected = set(graph.names if selected is None else selected)
    return plan_run(
        graph,
        selected,
        snapshot or Snapshot(),
        code or codes(graph),
        now=NOW,
        keys=keys_by_asset(graph, selected, request, NOW),
        request=RunRequest(redo=options.pop("redo", None), partitions=request),
        **options,
    )


def materialized(graph, selected=None, *, request=None) -> Snapshot:
    """The snapshot after a run of the selection, every step writing `<asset>-d1`."""
    snapshot, _ = simulate_run(
        graph, plan(graph, selected=selected, request=request), Snapshot(), datas(graph)
    )
    return snapshot


def rematerialized(snapshot: Snapshot, key, data: str) -> Snapshot:
    """The snapshot after `key` was rebuilt alone, with new data."""
    previous_record = snapshot.latest[key]
    new = record(
        key,
        code=previous_record.code_version,
        data=data,
        inputs=previous_record.input_versions,
        run_id="r2",
        at=LATER,
    )
    return replace(snapshot, latest={**snapshot.latest, key: new})


def failed(snapshot: Snapshot, *keys, run_id: str = "r3") -> Snapshot:
    """The snapshot after a run in which `keys` failed."""
    failures = {
        key: EventRecord(
            run_id=run_id, kind=EventKind.FAILED, at=LATER, asset=key[0], partition=key[1]
        )
        for key in keys
    }
    return replace(snapshot, failures={**snapshot.failures, **failures})


def forgotten(snapshot: Snapshot, *keys) -> Snapshot:
    """The snapshot as if `keys` had never been materialized."""
    return replace(snapshot, latest={k: v for k, v in snapshot.latest.items() if k not in keys})


def steps_of(result):
    return [(step.asset, step.partition, step.status) for step in result.steps]


# -- identity: one partition at a time ---------------------------------------------------


def test_first_plan_builds_every_partition_in_dependency_order(chain):
    result = plan(chain)
    assert [(s.asset, s.partition) for s in result.steps] == [
        (name, day) for name in ("raw", "clean", "report") for day in DAYS
    ]
    assert {s.status for s in result.steps} == {Status.STALE}
    by_key = {s.key: s for s in result.steps}
    assert by_key[("clean", "2026-03-02")].inputs == (("raw", "2026-03-02"),)
    assert by_key[("raw", "2026-03-02")].reasons[0].kind is ReasonKind.NEVER_MATERIALIZED


def test_new_data_in_one_partition_stales_only_its_downstream_partition(chain):
    snapshot = rematerialized(materialized(chain), ("raw", "2026-03-02"), "raw-new")
    result = plan(chain, snapshot)
    assert steps_of(result) == [
        ("clean", "2026-03-02", Status.STALE),
        ("report", "2026-03-02", Status.WAITING),
    ]
    (reason,) = result.steps[0].reasons
    assert reason.render() == "upstream changed: raw[2026-03-02]"
    assert (reason.old, reason.new, reason.run_id) == ("raw-d1", "raw-new", "r2")
    assert result.steps[1].reasons[0].render() == "upstream stale: clean[2026-03-02]"
    assert result.count(Status.FRESH) == 3 * len(DAYS) - 2


def test_materialize_then_plan_is_empty(chain):
    result = plan(chain, materialized(chain))
    assert result.is_empty
    assert result.count(Status.FRESH) == 3 * len(DAYS)


def test_a_code_change_stales_every_partition_of_the_asset(chain):
    result = plan(chain, materialized(chain), code={**codes(chain), "clean": "c2"})
    assert steps_of(result) == [("clean", day, Status.STALE) for day in DAYS] + [
        ("report", day, Status.WAITING) for day in DAYS
    ]


# -- input_keys_of: what the store is asked for ------------------------------------------


def test_input_keys_of_each_mapping(readers):
    some = ["2026-03-01", "2026-03-04"]
    assert input_keys_of(readers, "total", [None], NOW) == [("raw", None)]  # all of them
    assert input_keys_of(readers, "rolling", some, NOW) == [
        ("raw", {"2026-03-01", "2026-03-02", "2026-03-03", "2026-03-04"})
    ]
    assert input_keys_of(readers, "previous", some, NOW) == [("raw", {"2026-03-03"})]
    assert input_keys_of(readers, "by_month", ["2026-03"], NOW) == [("raw", set(DAYS))]
    assert input_keys_of(readers, "raw", some, NOW) == []


def test_input_keys_of_identity_and_unpartitioned_inputs():
    graph = build_graph([make_spec(raw), make_spec(clean, AssetSettings(partitions=DAILY))])
    assert input_keys_of(graph, "clean", DAYS[:2], NOW) == [("raw", {None})]
    daily = build_graph(
        [
            make_spec(raw, AssetSettings(partitions=DAILY)),
            make_spec(clean, AssetSettings(partitions=DAILY)),
        ]
    )
    assert input_keys_of(daily, "clean", DAYS[:2], NOW) == [("raw", set(DAYS[:2]))]


# -- an unpartitioned asset reading every partition --------------------------------------


def test_reading_all_partitions_reads_those_that_exist_and_warns_about_the_rest(readers):
    snapshot = materialized(readers, {"raw"}, request=PartitionRequest("2026-03-02", "2026-03-03"))
    result = plan(readers, snapshot, {"total"})
    (step,) = result.steps
    assert step.inputs == (("raw", "2026-03-02"), ("raw", "2026-03-03"))
    assert result.warnings == (
        "'total' reads all partitions of 'raw'; 3 of them were never materialized and are "
        "left out: 2026-03-01, 2026-03-04..2026-03-05 (2)",
    )


def test_reading_all_partitions_counts_those_planned_in_the_same_run(readers):
    snapshot = materialized(readers, {"raw"}, request=PartitionRequest("2026-03-02", "2026-03-03"))
    result = plan(readers, snapshot, {"raw", "total"}, request=PartitionRequest.one("2026-03-05"))
    assert steps_of(result) == [("raw", "2026-03-05", Status.STALE), ("total", None, Status.STALE)]
    assert result.steps[1].inputs == (
        ("raw", "2026-03-02"),
        ("raw", "2026-03-03"),
        ("raw", "2026-03-05"),
    )
    assert result.warnings == (
        "'total' reads all partitions of 'raw'; 2 of them were never materialized and are "
        "left out: 2026-03-01, 2026-03-04",
    )


def test_one_partition_left_out_is_said_in_the_singular(readers):
    snapshot = forgotten(materialized(readers, {"raw"}), ("raw", "2026-03-03"))
    result = plan(readers, snapshot, {"total"})
    assert result.warnings == (
        "'total' reads all partitions of 'raw'; 1 of them was never materialized and is "
        "left out: 2026-03-03",
    )


def test_reading_all_partitions_when_none_exist_is_a_missing_input(readers):
    with pytest.raises(MissingInputError) as caught:
        plan(readers, Snapshot(), {"total"})
    assert caught.value.message == (
        "cannot run the selection: an input is missing.\n"
        "  - 'total' reads 'raw[2026-03-01 .. 2026-03-05, 5 partitions]', which is not "
        "selected and was never materialized"
    )
    assert "`assetflow materialize '+total'`" in caught.value.hint
    assert caught.value.exit_code == 2


# -- windows and offsets -----------------------------------------------------------------


def test_a_window_is_clipped_at_the_start(readers):
    result = plan(readers, selected={"raw", "rolling"})
    inputs = {s.partition: s.inputs for s in result.steps if s.asset == "rolling"}
    assert inputs["2026-03-01"] == (("raw", "2026-03-01"),)
    assert inputs["2026-03-02"] == (("raw", "2026-03-01"), ("raw", "2026-03-02"))
    assert inputs["2026-03-05"] == (
        ("raw", "2026-03-03"),
        ("raw", "2026-03-04"),
        ("raw", "2026-03-05"),
    )


def test_offset_minus_one_reads_the_day_before_and_nothing_on_the_first(readers):
    result = plan(readers, selected={"raw", "previous"})
    inputs = {s.partition: s.inputs for s in result.steps if s.asset == "previous"}
    assert inputs["2026-03-01"] == ()
    assert inputs["2026-03-04"] == (("raw", "2026-03-03"),)


def test_new_data_in_one_day_stales_the_windows_and_the_day_after_that_read_it(readers):
    snapshot = materialized(readers, {"raw", "rolling", "previous"})
    snapshot = rematerialized(snapshot, ("raw", "2026-03-02"), "raw-new")
    result = plan(readers, snapshot, {"raw", "rolling", "previous"})
    assert steps_of(result) == [
        ("previous", "2026-03-03", Status.STALE),
        ("rolling", "2026-03-02", Status.STALE),
        ("rolling", "2026-03-03", Status.STALE),
        ("rolling", "2026-03-04", Status.STALE),
    ]


def test_a_window_partition_outside_the_range_never_materialized_is_a_missing_input(readers):
    snapshot = materialized(readers, {"raw"}, request=PartitionRequest.one("2026-03-03"))
    with pytest.raises(MissingInputError) as caught:
        plan(readers, snapshot, {"raw", "rolling"}, request=PartitionRequest.one("2026-03-05"))
    assert caught.value.message == (
        "cannot run the selection: an input is missing.\n"
        "  - 'rolling[2026-03-05]' reads 'raw[2026-03-04]', which is not in this run "
        "and was never materialized"
    )
    assert caught.value.hint.endswith(
        "For partitions, widen --from/--to to cover the partitions it reads."
    )


def test_a_window_reading_stored_partitions_outside_the_range_plans(readers):
    snapshot = materialized(readers, {"raw"})
    result = plan(readers, snapshot, {"raw", "rolling"}, request=PartitionRequest.one("2026-03-05"))
    assert steps_of(result) == [("rolling", "2026-03-05", Status.STALE)]


# -- --redo: which not-fresh partitions a backfill runs ----------------------------------


@pytest.fixture
def mixed_states(chain) -> Snapshot:
    """raw: 03-02 failed after its last success, 03-04 never materialized (nor clean, report)."""
    snapshot = materialized(chain)
    snapshot = forgotten(snapshot, *((name, "2026-03-04") for name in ("raw", "clean", "report")))
    return failed(snapshot, ("raw", "2026-03-02"))


def test_without_redo_every_not_fresh_partition_runs(chain, mixed_states):
    result = plan(chain, mixed_states)
    assert [(s.asset, s.partition) for s in result.steps] == [
        ("raw", "2026-03-02"),
        ("raw", "2026-03-04"),
        ("clean", "2026-03-02"),
        ("clean", "2026-03-04"),
        ("report", "2026-03-02"),
        ("report", "2026-03-04"),
    ]


def test_redo_failed_runs_the_failed_partitions_and_those_they_feed(chain, mixed_states):
    result = plan(chain, mixed_states, redo=frozenset({"failed"}))
    assert steps_of(result) == [
        ("raw", "2026-03-02", Status.STALE),
        ("clean", "2026-03-02", Status.WAITING),
        ("report", "2026-03-02", Status.WAITING),
    ]
    (reason,) = result.steps[0].reasons
    assert (reason.kind, reason.run_id) == (ReasonKind.LAST_RUN_FAILED, "r3")


def test_redo_missing_runs_the_never_materialized_partitions(chain, mixed_states):
    result = plan(chain, mixed_states, redo=frozenset({"missing"}))
    assert steps_of(result) == [
        ("raw", "2026-03-04", Status.STALE),
        ("clean", "2026-03-04", Status.STALE),
        ("report", "2026-03-04", Status.STALE),
    ]


def test_redo_stale_leaves_failed_and_missing_partitions(chain, mixed_states):
    result = plan(chain, mixed_states, redo=frozenset({"stale"}))
    assert result.is_empty


def test_redo_can_be_combined(chain, mixed_states):
    result = plan(chain, mixed_states, redo=frozenset({"failed", "missing"}))
    assert len(result.steps) == 6


def test_a_failed_attempt_at_a_never_materialized_partition(chain):
    snapshot = failed(Snapshot(), ("raw", "2026-03-01"), run_id="r7")
    result = plan(chain, snapshot, {"raw"}, request=PartitionRequest.one("2026-03-01"))
    (step,) = result.steps
    assert [r.kind for r in step.reasons] == [
        ReasonKind.NEVER_MATERIALIZED,
        ReasonKind.LAST_RUN_FAILED,
    ]
    assert step.reasons[1].run_id == "r7"
    # Its last attempt failed: --redo failed picks it.
    again = plan(chain, snapshot, {"raw"}, redo=frozenset({"failed"}))
    assert [(s.asset, s.partition) for s in again.steps] == [("raw", "2026-03-01")]


# -- generated DAGs of daily assets ------------------------------------------------------

#: Three days, so that every asset has a few partitions but examples stay small.
THREE_DAYS = DailyPartitions(start="2026-03-01", end="2026-03-04")


def daily(graph: AssetGraph) -> AssetGraph:
    """The same DAG with every asset partitioned by THREE_DAYS (so mapped key to key)."""
    specs = [
        AssetSpec(
            name=name,
            fn=lambda **_: None,
            params=tuple(Param(p, has_default=False) for p in sorted(graph.parents(name))),
            returns=MISSING,
            settings=AssetSettings(partitions=THREE_DAYS),
        )
        for name in graph.names
    ]
    return build_graph(specs)


def materialized_dag(graph: AssetGraph) -> Snapshot:
    keys = keys_by_asset(graph, graph.names, None, NOW)
    first = plan_run(graph, graph.names, Snapshot(), codes(graph), now=NOW, keys=keys)
    snapshot, _ = simulate_run(graph, first, Snapshot(), datas(graph))
    return snapshot


@FAST
@given(dag=dags(max_assets=8))
def test_generated_materialize_then_plan_is_empty(dag):
    graph = daily(dag)
    snapshot = materialized_dag(graph)
    assert len(snapshot.latest) == 3 * len(graph)
    keys = keys_by_asset(graph, graph.names, None, NOW)
    result = plan_run(graph, graph.names, snapshot, codes(graph), now=NOW, keys=keys)
    assert result.is_empty
    assert result.count(Status.FRESH) == 3 * len(graph)


@FAST
@given(dag=dags(max_assets=8), data=st.data())
def test_generated_code_change_stales_its_partitions_and_waits_its_descendants(dag, data):
    graph = daily(dag)
    snapshot = materialized_dag(graph)
    name = data.draw(st.sampled_from(sorted(graph.names)))
    keys = keys_by_asset(graph, graph.names, None, NOW)
    changed = {**codes(graph), name: "c2"}
    result = plan_run(graph, graph.names, snapshot, changed, now=NOW, keys=keys)
    days = THREE_DAYS.keys(NOW)
    stale = {s.key for s in result.steps if s.status is Status.STALE}
    waiting = {s.key for s in result.steps if s.status is Status.WAITING}
    assert stale == {(name, day) for day in days}
    assert waiting == {(other, day) for other in graph.downstream(name) for day in days}
    assert all(
        s.reasons[0].kind is ReasonKind.CODE_CHANGED for s in result.steps if s.asset == name
    )
    # A new code version that makes the same data: nothing downstream runs.
    _, ran = simulate_run(graph, result, snapshot, datas(graph))
    assert ran == [name] * len(days)
