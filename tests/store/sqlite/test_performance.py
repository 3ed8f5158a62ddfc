"""The SQLite store stays fast at the sizes the planner and the executor use it at."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from assetflow.store import EventKind, SqliteStore
from tests.store.builders import event, materialization

ASSETS = 10_000
MATERIALIZATIONS_PER_ASSET = 3
#: The planner asks for every asset at once; this is the bound on its wait (measured
#: ~0.2-0.3 s on a 2-CPU VM), with room for a loaded CI machine.
LATEST_BOUND_S = 1.0
#: The executor records once per finished step (measured ~0.15 ms median).
RECORD_BOUND_S = 0.001
COLUMNS = [{"name": f"column_{n}", "type": "int64"} for n in range(8)]


def _best_of(times: int, fn: Callable[[], object]) -> float:
    durations = []
    for _ in range(times):
        started = time.perf_counter()
        fn()
        durations.append(time.perf_counter() - started)
    return min(durations)


@pytest.mark.slow
def test_latest_materializations_of_ten_thousand_assets_is_fast(tmp_path: Path) -> None:
    names = [f"asset_{number:05d}" for number in range(ASSETS)]
    with SqliteStore(tmp_path / "metadata.sqlite") as store:
        for generation in range(MATERIALIZATIONS_PER_ASSET):
            store.record(
                [
                    materialization(
                        name,
                        finished=generation * 100 + number % 50,
                        run_id=f"run-{generation}",
                        columns=COLUMNS,
                        input_versions={"upstream": "u" * 64},
                        data_version=f"{name}-{generation}",
                    )
                    for number, name in enumerate(names)
                ]
            )
        latest = store.latest_materializations(names)
        assert len(latest) == ASSETS
        assert {record.run_id for record in latest.values()} == {"run-2"}
        assert _best_of(3, lambda: store.latest_materializations(names)) < LATEST_BOUND_S
        assert _best_of(3, store.latest_materializations) < LATEST_BOUND_S


@pytest.mark.slow
def test_recording_a_step_takes_well_under_a_millisecond(tmp_path: Path) -> None:
    with SqliteStore(tmp_path / "metadata.sqlite") as store:
        durations = []
        for number in range(500):
            done = materialization(f"asset_{number}", "2026-03-01", columns=COLUMNS)
            events = [
                event(EventKind.STARTED, f"asset_{number}", "2026-03-01"),
                event(EventKind.MATERIALIZED, f"asset_{number}", "2026-03-01"),
            ]
            started = time.perf_counter()
            store.record([done], events)
            durations.append(time.perf_counter() - started)
        assert statistics.median(durations) < RECORD_BOUND_S
