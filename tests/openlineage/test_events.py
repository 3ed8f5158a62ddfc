"""The events module: its JSON is the client's, byte for byte, and its run ids are the
same whoever computes them."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st
from openlineage.client.event_v2 import RunState
from openlineage.client.serde import Serde

from assetflow.openlineage import events
from assetflow.openlineage.events import (
    PRODUCER,
    AssetflowRunFacet,
    checked_dataset,
    output_dataset,
    run_event,
    run_uuid,
    step_facet,
)
from assetflow.store.records import CheckRecord, Column, MaterializationRecord
from tests.openlineage.receiver import validate

AT = datetime(2026, 3, 1, 6, 0, 0, 123456, tzinfo=UTC)
RUN = "0b7a07e81c6a4ff6a5537a9bce70d0f7"


def _record(partition: str | None, rows: int | None) -> MaterializationRecord:
    return MaterializationRecord(
        run_id=RUN,
        asset="orders",
        partition=partition,
        started_at=AT,
        finished_at=AT,
        duration_s=0.5,
        io="parquet",
        path=f"data/orders/{partition}.parquet" if partition else "data/orders.parquet",
        data_version="d" * 16,
        code_version="c" * 16,
        input_versions={"raw[2026-03-01]": "e" * 16},
        columns=(Column(name="id", type="int64"), Column(name="amount", type="double")),
        rows=rows,
        bytes=None if rows is None else rows * 16,
    )


def _check(name: str, passed: bool) -> CheckRecord:
    return CheckRecord(
        run_id=RUN, asset="orders", check=name, passed=passed, message="", severity="warn", at=AT
    )


def _objects(partition: str | None, rows: int | None, error: str | None) -> list[object]:
    """RunEvents as `run_event` builds them (caught before they become JSON)."""
    caught: list[object] = []
    real = events.to_json
    events.to_json = lambda event: caught.append(event) or real(event)  # type: ignore[assignment]
    try:
        record = _record(partition, rows)
        parent = ("shop", run_uuid(RUN, AT))
        run_event(RunState.START, AT, namespace="ns", job="shop", run_id=parent[1],
                  assetflow_run_id=RUN)  # fmt: skip
        run_event(
            RunState.COMPLETE if error is None else RunState.FAIL,
            AT,
            namespace="ns",
            job="shop.orders",
            run_id=run_uuid(RUN, AT, ("orders", partition)),
            assetflow_run_id=RUN,
            parent=parent,
            inputs=[("raw", partition)],
            checked=[checked_dataset("ns", ("orders", partition), [_check("rows", False)])],
            outputs=[output_dataset("ns", record, events.Path("/state"))] if not error else [],
            facet=step_facet(RUN, [record], code_version="c", attempts=2),
            error=error,
        )
        run_event(RunState.ABORT, AT, namespace="ns", job="shop", run_id=parent[1],
                  assetflow_run_id=RUN,
                  facet=AssetflowRunFacet(runId=RUN, producer=PRODUCER))  # fmt: skip
    finally:
        events.to_json = real  # type: ignore[assignment]
    return caught


@settings(max_examples=60, deadline=None)
@given(
    partition=st.none() | st.text(min_size=1, max_size=12),
    rows=st.none() | st.integers(min_value=0, max_value=10**12),
    error=st.none() | st.text(max_size=40),
)
def test_the_json_is_the_clients_byte_for_byte(partition, rows, error) -> None:
    for event in _objects(partition, rows, error):
        ours = events.to_json(event)  # type: ignore[arg-type]
        assert ours == Serde.to_json(event)
        validate(json.loads(ours))


def test_run_ids_are_the_same_whoever_computes_them() -> None:
    run = run_uuid(RUN, AT)
    assert run == run_uuid(RUN, AT.replace(microsecond=123000))  # a store keeping ms
    assert run == run_uuid(RUN, AT.astimezone(UTC))
    assert run != run_uuid(RUN, AT + timedelta(milliseconds=1))
    assert run != run_uuid("another", AT)
    steps = {run_uuid(RUN, AT, key) for key in [("a", None), ("a", "None"), ("a", "x"), ("b", "x")]}
    assert len(steps) == 4
    assert run not in steps
    assert run[14] == "7"  # a UUIDv7, as OpenLineage recommends
