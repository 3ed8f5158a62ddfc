"""Record builders for store tests: times counted from T0, defaults for every field."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from assetflow.store import EventKind, EventRecord, MaterializationRecord, RunRecord

T0 = datetime(2026, 3, 1, 6, 0, tzinfo=UTC)


def at(seconds: float) -> datetime:
    """T0 plus ``seconds``."""
    return T0 + timedelta(seconds=seconds)


def run(run_id: str, started: float = 0, **fields: object) -> RunRecord:
    """A run started ``started`` seconds after T0."""
    return RunRecord(**{"run_id": run_id, "started_at": at(started), **fields})


def materialization(
    asset: str, partition: str | None = None, finished: float = 0, **fields: object
) -> MaterializationRecord:
    """A materialization of ``asset`` finished ``finished`` seconds after T0."""
    values: dict[str, object] = {
        "run_id": "run-1",
        "asset": asset,
        "partition": partition,
        "io": "parquet",
        "started_at": at(finished - 1),
        "finished_at": at(finished),
        "duration_s": 1.0,
    }
    return MaterializationRecord(**{**values, **fields})


def event(
    kind: EventKind,
    asset: str | None = None,
    partition: str | None = None,
    time: float = 0,
    **fields: object,
) -> EventRecord:
    """An event of run-1 at ``time`` seconds after T0."""
    values: dict[str, object] = {
        "run_id": "run-1",
        "kind": kind,
        "at": at(time),
        "asset": asset,
        "partition": partition,
    }
    return EventRecord(**{**values, **fields})
