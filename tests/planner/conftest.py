"""Generated DAGs and a pure stand-in for a run, so the planner is tested with plain values."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta

from hypothesis import strategies as st

from assetflow.asset import MISSING, AssetSpec, Param
from assetflow.graph import AssetGraph, build_graph
from assetflow.keys import AssetPartition, key_text
from assetflow.planner import Plan, Snapshot
from assetflow.store.records import MaterializationRecord

T0 = datetime(2026, 3, 1, tzinfo=UTC)


def graph_from_edges(names: list[str], edges: set[tuple[str, str]]) -> AssetGraph:
    """An AssetGraph whose asset `child` has one parameter per parent."""
    specs = []
    for name in names:
        parents = sorted(p for p, c in edges if c == name)
        specs.append(
            AssetSpec(
                name=name,
                fn=lambda **_: None,
                params=tuple(Param(p, has_default=False) for p in parents),
                returns=MISSING,
            )
        )
    return build_graph(specs)


@st.composite
def dags(draw: st.DrawFn, max_assets: int = 12) -> AssetGraph:
    """Random DAGs: edges only go from a lower to a higher index, so no cycles."""
    count = draw(st.integers(min_value=1, max_value=max_assets))
    names = [f"a{i:02d}" for i in range(count)]
    pairs = [(names[i], names[j]) for i in range(count) for j in range(i + 1, count)]
    edges = draw(st.sets(st.sampled_from(pairs), max_size=3 * count)) if pairs else set()
    return graph_from_edges(names, edges)


def record(
    key: AssetPartition,
    *,
    code: str,
    data: str,
    inputs: Mapping[str, str],
    run_id: str = "r1",
    at: datetime = T0,
) -> MaterializationRecord:
    return MaterializationRecord(
        run_id=run_id,
        asset=key[0],
        partition=key[1],
        io="json",
        started_at=at,
        finished_at=at,
        duration_s=0.0,
        code_version=code,
        data_version=data,
        input_versions=dict(inputs),
    )


def simulate_run(
    graph: AssetGraph,
    plan: Plan,
    snapshot: Snapshot,
    data_versions: Mapping[str, str],
    *,
    run_id: str = "r1",
    at: datetime = T0,
) -> tuple[Snapshot, list[str]]:
    """Apply a plan as the coordinator would: run stale steps, cut off unchanged waiting ones.

    Returns the new snapshot and the assets that actually ran.
    """
    latest = dict(snapshot.latest)
    ran = []
    for step in plan.steps:
        previous = latest.get(step.key)
        inputs = {key_text(k): latest[k].data_version for k in step.inputs if k in latest}
        unchanged = previous is not None and all(
            previous.input_versions.get(name) == v for name, v in inputs.items()
        )
        if step.status.value == "waiting" and unchanged:
            continue
        latest[step.key] = record(
            step.key,
            code=plan.code_versions[step.asset],
            data=data_versions[step.asset],
            inputs=inputs,
            run_id=run_id,
            at=at + timedelta(seconds=1),
        )
        ran.append(step.asset)
    return Snapshot(latest=latest, failures=snapshot.failures), ran
