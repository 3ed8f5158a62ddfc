"""plan_text, and the plan's and status's JSON twins: for people, and stable layouts for tools."""

from __future__ import annotations

import json
from dataclasses import replace

from hypothesis import given, settings

from assetflow.planner import Plan, Reason, ReasonKind, Snapshot, Status, Step, Verdict, plan_run
from assetflow.planner.explain import plan_text
from assetflow.planner.status import AssetState, AssetStatus
from assetflow.views.json import (
    PLAN_JSON_VERSION,
    STATUS_JSON_VERSION,
    dumps,
    plan_document,
    status_document,
)
from tests.planner.conftest import T0, dags, record

CODE = Reason(
    ReasonKind.CODE_CHANGED,
    old="da61097b",
    new="3f0e1234",
    details=("helper cleaning.normalise_emails changed",),
)
CODE_JSON = {
    "kind": "code changed",
    "upstream": None,
    "old": "da61097b",
    "new": "3f0e1234",
    "run_id": None,
    "details": ["helper cleaning.normalise_emails changed"],
    "text": "code changed: helper cleaning.normalise_emails changed",
}
STALE_CLEAN = Reason(ReasonKind.UPSTREAM_STALE, upstream="clean_records")
STALE_DAILY = Reason(ReasonKind.UPSTREAM_STALE, upstream="daily_totals")
STALE_TOP = Reason(ReasonKind.UPSTREAM_STALE, upstream="top_customers")

WORKED_EXAMPLE = Plan(
    selection="*",
    created_at=T0,
    steps=(
        Step("clean_records", None, Status.STALE, (CODE,)),
        Step("daily_totals", None, Status.WAITING, (STALE_CLEAN,)),
        Step("top_customers", None, Status.WAITING, (STALE_CLEAN,)),
        Step("summary_report", None, Status.WAITING, (STALE_DAILY, STALE_TOP)),
    ),
    fresh=(Verdict("raw_records", None, Status.FRESH),),
)

PLAN_KEYS = {
    "version",
    "selection",
    "created_at",
    "counts",
    "warnings",
    "steps",
    "fresh",
    "overdue",
}
STEP_KEYS = {"asset", "partition", "status", "reasons"}
REASON_KEYS = {"kind", "upstream", "old", "new", "run_id", "details", "text"}
STATUS_ASSET_KEYS = {
    "asset",
    "partition",
    "state",
    "last_run_id",
    "last_materialized_at",
    "rows",
    "reasons",
    "checks",
    "attempt",
    "overdue",
}


def test_plan_text_of_the_worked_example():
    assert plan_text(WORKED_EXAMPLE) == "\n".join(
        [
            "Plan for '*': 1 stale, 3 waiting, 1 fresh",
            "",
            "    1. clean_records   stale    code changed: helper cleaning.normalise_emails "
            "changed",
            "    2. daily_totals    waiting  upstream stale: clean_records",
            "    3. top_customers   waiting  upstream stale: clean_records",
            "    4. summary_report  waiting  upstream stale: daily_totals; upstream stale: "
            "top_customers",
            "",
            "Waiting steps run only if an upstream rebuild changes its data.",
            "",
            "Fresh (will not run): raw_records",
        ]
    )


def test_plan_text_without_waiting_or_fresh_steps_and_with_partitions():
    plan = Plan(
        selection="daily+",
        created_at=T0,
        steps=(
            Step("daily", "2026-03-01", Status.STALE, (Reason(ReasonKind.NEVER_MATERIALIZED),)),
            Step("x", None, Status.STALE, (Reason(ReasonKind.FORCED),)),
        ),
    )
    assert plan_text(plan) == (
        "Plan for 'daily+': 2 stale, 0 waiting, 0 fresh\n"
        "\n"
        "    1. daily[2026-03-01]  stale    never materialized\n"
        "    2. x                  stale    forced"
    )


def test_plan_text_puts_warnings_first():
    plan = Plan(
        selection="*",
        created_at=T0,
        steps=(
            Step(
                "reader",
                None,
                Status.STALE,
                (Reason(ReasonKind.SOURCE_UNAVAILABLE, upstream="feed"),),
            ),
        ),
        warnings=("source 'feed' could not be observed: RuntimeError: down",),
    )
    lines = plan_text(plan).splitlines()
    assert lines[0] == "Warning: source 'feed' could not be observed: RuntimeError: down"
    assert lines[1] == "Plan for '*': 1 stale, 0 waiting, 0 fresh"
    assert lines[3] == "    1. reader  stale    source unavailable: feed"


def test_nothing_to_do():
    fresh = tuple(Verdict(name, None, Status.FRESH) for name in ("a", "b"))
    assert plan_text(Plan("*", T0, (), fresh)) == "Nothing to do: 2 assets fresh."
    assert plan_text(Plan("*", T0, (), fresh[:1])) == "Nothing to do: 1 asset fresh."
    assert plan_text(Plan("*", T0, ())) == "Nothing to do: 0 assets fresh."
    warned = Plan("*", T0, (), fresh[:1], warnings=("w1", "w2"))
    assert plan_text(warned) == "Warning: w1\nWarning: w2\nNothing to do: 1 asset fresh."


def test_plan_json_layout_is_stable():
    warned = Plan(
        selection=WORKED_EXAMPLE.selection,
        created_at=T0,
        steps=WORKED_EXAMPLE.steps,
        fresh=WORKED_EXAMPLE.fresh,
        warnings=("a warning",),
    )
    document = json.loads(_plan_json(warned))
    assert PLAN_JSON_VERSION == 1
    assert set(document) == PLAN_KEYS
    assert document["version"] == 1
    assert document["selection"] == "*"
    assert document["created_at"] == "2026-03-01T00:00:00+00:00"
    assert document["counts"] == {"fresh": 1, "waiting": 3, "stale": 1}
    assert document["warnings"] == ["a warning"]
    assert document["fresh"] == [{"asset": "raw_records", "partition": None}]
    assert [step["asset"] for step in document["steps"]] == [
        "clean_records",
        "daily_totals",
        "top_customers",
        "summary_report",
    ]
    first = document["steps"][0]
    assert set(first) == STEP_KEYS
    assert (first["asset"], first["partition"], first["status"]) == ("clean_records", None, "stale")
    assert first["reasons"] == [CODE_JSON]
    last = document["steps"][-1]
    assert [r["text"] for r in last["reasons"]] == [
        "upstream stale: daily_totals",
        "upstream stale: top_customers",
    ]
    assert all(set(r) == REASON_KEYS for s in document["steps"] for r in s["reasons"])


def test_status_json_layout_is_stable():
    last = replace(record(("b", None), code="c1", data="d1", inputs={}, run_id="r1"), rows=42)
    states = [
        AssetStatus("b", None, AssetState.STALE, last, (CODE,)),
        AssetStatus("c", "2026-03-01", AssetState.MISSING, None, ()),
    ]
    document = json.loads(_status_json(states))
    assert STATUS_JSON_VERSION == 2
    assert set(document) == {"version", "assets"}
    assert document["version"] == 2
    first, second = document["assets"]
    assert set(first) == set(second) == STATUS_ASSET_KEYS
    assert first == {
        "asset": "b",
        "partition": None,
        "state": "stale",
        "last_run_id": "r1",
        "last_materialized_at": "2026-03-01T00:00:00+00:00",
        "rows": 42,
        "reasons": [CODE_JSON],
        "checks": [],
        "attempt": None,
        "overdue": [],
    }
    assert second == {
        "asset": "c",
        "partition": "2026-03-01",
        "state": "missing",
        "last_run_id": None,
        "last_materialized_at": None,
        "rows": None,
        "reasons": [],
        "checks": [],
        "attempt": None,
        "overdue": [],
    }
    assert json.loads(_status_json([])) == {"version": 2, "assets": []}


@settings(max_examples=30, deadline=None)
@given(graph=dags())
def test_plan_json_lists_every_step_in_run_order(graph):
    plan = plan_run(graph, graph.names, Snapshot(), dict.fromkeys(graph.names, "c1"), now=T0)
    document = json.loads(_plan_json(plan))
    assert [s["asset"] for s in document["steps"]] == [s.asset for s in plan.steps]
    assert sum(document["counts"].values()) == len(graph)
    assert (
        plan_text(plan).splitlines()[0] == f"Plan for '*': {len(graph)} stale, 0 waiting, 0 fresh"
    )


def _plan_json(plan):
    return dumps(plan_document(plan))


def _status_json(states):
    return dumps(status_document(states))
