"""plan_run: the scheduler's order over the rebuilder's verdicts, on generated DAGs."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from assetflow.errors import MissingInputError
from assetflow.planner import Snapshot, Status, plan_run
from assetflow.request import RunRequest
from tests.planner.conftest import T0, dags, graph_from_edges, simulate_run

FAST = settings(max_examples=60, deadline=None)


def codes(graph, version="c1"):
    return {name: version for name in graph.names}


def datas(graph, version="d1"):
    return {name: f"{name}-{version}" for name in graph.names}


def fully_materialized(graph):
    plan = plan_run(graph, graph.names, Snapshot(), codes(graph), now=T0)
    snapshot, _ = simulate_run(graph, plan, Snapshot(), datas(graph))
    return snapshot


@FAST
@given(graph=dags())
def test_steps_are_topologically_ordered(graph):
    plan = plan_run(graph, graph.names, Snapshot(), codes(graph), now=T0)
    position = {step.asset: i for i, step in enumerate(plan.steps)}
    assert set(position) == graph.names
    for name in graph.names:
        for parent in graph.parents(name):
            assert position[parent] < position[name]


@FAST
@given(graph=dags())
def test_materialize_then_plan_is_empty(graph):
    snapshot = fully_materialized(graph)
    plan = plan_run(graph, graph.names, snapshot, codes(graph), now=T0)
    assert plan.is_empty
    assert plan.count(Status.FRESH) == len(graph)


@FAST
@given(graph=dags(), data=st.data())
def test_code_change_stales_it_and_waits_its_descendants(graph, data):
    snapshot = fully_materialized(graph)
    name = data.draw(st.sampled_from(sorted(graph.names)))
    changed = {**codes(graph), name: "c2"}
    plan = plan_run(graph, graph.names, snapshot, changed, now=T0)
    by_asset = {step.asset: step for step in plan.steps}
    assert set(by_asset) == {name} | graph.downstream(name)
    assert by_asset[name].status is Status.STALE
    assert by_asset[name].reasons[0].kind.value == "code changed"
    for other in graph.downstream(name):
        assert by_asset[other].status is Status.WAITING


@FAST
@given(graph=dags(), data=st.data())
def test_unchanged_rebuild_cuts_off_all_descendants(graph, data):
    snapshot = fully_materialized(graph)
    name = data.draw(st.sampled_from(sorted(graph.names)))
    plan = plan_run(graph, graph.names, snapshot, {**codes(graph), name: "c2"}, now=T0)
    _, ran = simulate_run(graph, plan, snapshot, datas(graph))  # same data as before
    assert ran == [name]


@FAST
@given(graph=dags(), data=st.data())
def test_changed_rebuild_runs_its_children(graph, data):
    snapshot = fully_materialized(graph)
    name = data.draw(st.sampled_from(sorted(graph.names)))
    plan = plan_run(graph, graph.names, snapshot, {**codes(graph), name: "c2"}, now=T0)
    new_data = {**datas(graph), name: "changed"}
    _, ran = simulate_run(graph, plan, snapshot, new_data)
    assert set(ran) == {name, *graph.children(name)}


@FAST
@given(graph=dags(), data=st.data())
def test_forced_selection_runs_exactly_the_selection(graph, data):
    snapshot = fully_materialized(graph)
    chosen = data.draw(st.sets(st.sampled_from(sorted(graph.names)), min_size=1))
    plan = plan_run(graph, chosen, snapshot, codes(graph), now=T0, request=RunRequest(force=True))
    assert {step.asset for step in plan.steps} == chosen
    assert all(step.reasons[0].kind.value == "forced" for step in plan.steps)


def test_unselected_input_never_materialized_is_an_error():
    graph = graph_from_edges(["raw", "clean", "totals"], {("raw", "clean"), ("clean", "totals")})
    with pytest.raises(MissingInputError, match="'totals' reads 'clean', which is not selected"):
        plan_run(graph, {"totals"}, Snapshot(), {"totals": "c"}, now=T0)
    with pytest.raises(MissingInputError, match=r"assetflow materialize '\+totals'"):
        plan_run(graph, {"totals"}, Snapshot(), {"totals": "c"}, now=T0)


def test_unselected_stored_input_is_read_not_rebuilt():
    graph = graph_from_edges(["raw", "clean"], {("raw", "clean")})
    snapshot = fully_materialized(graph)
    plan = plan_run(
        graph, {"clean"}, snapshot, codes(graph), now=T0, request=RunRequest(force=True)
    )
    assert [step.asset for step in plan.steps] == ["clean"]


def test_new_upstream_data_stales_the_reader():
    graph = graph_from_edges(["raw", "clean"], {("raw", "clean")})
    snapshot = fully_materialized(graph)
    # raw rebuilt alone with different data: clean now reads a newer version
    plan = plan_run(graph, {"raw"}, snapshot, codes(graph), now=T0, request=RunRequest(force=True))
    snapshot, _ = simulate_run(graph, plan, snapshot, {"raw": "new", "clean": "x"}, run_id="r2")
    plan = plan_run(graph, graph.names, snapshot, codes(graph), now=T0)
    (step,) = plan.steps
    assert step.asset == "clean"
    assert step.status is Status.STALE
    (reason,) = step.reasons
    assert reason.render() == "upstream changed: raw"
    assert (reason.old, reason.new, reason.run_id) == ("raw-d1", "new", "r2")
