"""asset_states: each reason a plan gives maps to one state for `status`."""

from __future__ import annotations

import pytest

from assetflow.planner import Plan, Reason, ReasonKind, Snapshot, Status, Step, Verdict
from assetflow.planner.status import AssetState, AssetStatus, asset_states
from tests.planner.conftest import T0, record

NEVER = Reason(ReasonKind.NEVER_MATERIALIZED)
FAILED = Reason(ReasonKind.LAST_RUN_FAILED, run_id="r2")
CODE = Reason(ReasonKind.CODE_CHANGED, old="c1", new="c2")
UPSTREAM_STALE = Reason(ReasonKind.UPSTREAM_STALE, upstream="a")
UPSTREAM_CHANGED = Reason(ReasonKind.UPSTREAM_CHANGED, upstream="a", old="d1", new="d2")
UNAVAILABLE = Reason(ReasonKind.SOURCE_UNAVAILABLE, upstream="feed")
FORCED = Reason(ReasonKind.FORCED)
GONE = Reason(ReasonKind.OUTPUT_MISSING, run_id="r1")
CHANGED = Reason(ReasonKind.OUTPUT_DAMAGED, old="10 bytes", new="4 bytes", run_id="r1")


def plan_of(*steps, fresh=()):
    return Plan(selection="*", created_at=T0, steps=tuple(steps), fresh=tuple(fresh))


def one_state(status, *reasons):
    (state,) = asset_states(plan_of(Step("x", None, status, reasons)), Snapshot())
    return state.state


@pytest.mark.parametrize(
    ("status", "reasons", "state"),
    [
        (Status.STALE, (NEVER,), AssetState.MISSING),
        (Status.STALE, (GONE,), AssetState.MISSING),
        (Status.STALE, (GONE, UPSTREAM_STALE), AssetState.MISSING),
        (Status.STALE, (CHANGED,), AssetState.DAMAGED),
        (Status.STALE, (CHANGED, CODE), AssetState.DAMAGED),
        (Status.STALE, (FAILED, CHANGED), AssetState.FAILED),
        (Status.STALE, (FAILED,), AssetState.FAILED),
        (Status.STALE, (FAILED, CODE), AssetState.FAILED),
        (Status.STALE, (FAILED, UPSTREAM_STALE), AssetState.FAILED),
        (Status.WAITING, (UPSTREAM_STALE,), AssetState.WAITING),
        (Status.STALE, (CODE,), AssetState.STALE),
        (Status.STALE, (CODE, UPSTREAM_STALE), AssetState.STALE),
        (Status.STALE, (UPSTREAM_CHANGED,), AssetState.STALE),
        (Status.STALE, (UNAVAILABLE,), AssetState.STALE),
        (Status.STALE, (FORCED,), AssetState.STALE),
    ],
)
def test_reasons_map_to_states(status, reasons, state):
    assert one_state(status, *reasons) is state


def test_a_failed_attempt_at_a_never_materialized_partition_is_failed():
    assert one_state(Status.STALE, NEVER, FAILED) is AssetState.FAILED
    assert one_state(Status.STALE, NEVER) is AssetState.MISSING


def test_steps_first_in_plan_order_then_fresh_with_their_last_materialization():
    b_record = record(("b", None), code="c1", data="d1", inputs={"a": "d0"}, run_id="r1")
    a_record = record(("a", None), code="c1", data="d0", inputs={}, run_id="r0")
    plan = plan_of(
        Step("c", None, Status.WAITING, (Reason(ReasonKind.UPSTREAM_STALE, upstream="b"),)),
        Step("b", None, Status.STALE, (CODE,)),
        fresh=[Verdict("a", None, Status.FRESH)],
    )
    snapshot = Snapshot(latest={("a", None): a_record, ("b", None): b_record})
    states = asset_states(plan, snapshot)
    assert states == [
        AssetStatus("c", None, AssetState.WAITING, None, plan.steps[0].reasons),
        AssetStatus("b", None, AssetState.STALE, b_record, (CODE,)),
        AssetStatus("a", None, AssetState.FRESH, a_record, ()),
    ]


def test_partitions_are_kept():
    record_p = record(("daily", "2026-03-01"), code="c1", data="d1", inputs={})
    plan = plan_of(
        Step("daily", "2026-03-02", Status.STALE, (NEVER,)),
        fresh=[Verdict("daily", "2026-03-01", Status.FRESH)],
    )
    states = asset_states(plan, Snapshot(latest={("daily", "2026-03-01"): record_p}))
    assert [(s.asset, s.partition, s.state, s.last) for s in states] == [
        ("daily", "2026-03-02", AssetState.MISSING, None),
        ("daily", "2026-03-01", AssetState.FRESH, record_p),
    ]


def test_empty_plan_has_no_states():
    assert asset_states(plan_of(), Snapshot()) == []


def test_state_values_are_the_documented_words():
    assert [s.value for s in AssetState] == [
        "fresh",
        "stale",
        "waiting",
        "missing",
        "failed",
        "damaged",
    ]
