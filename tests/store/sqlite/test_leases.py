"""Leases in the SQLite store: exclusive across connections and processes, and cheap."""

from __future__ import annotations

import logging
import multiprocessing
import os
import random
import socket
import statistics
import time
from datetime import UTC, datetime, timedelta
from itertools import pairwise
from multiprocessing.synchronize import Barrier
from pathlib import Path
from typing import NamedTuple

import pytest

from assetflow.errors import StoreError
from assetflow.store import Lease, RunRecord, RunStatus, SqliteStore
from tests.store.builders import at, run
from tests.store.racing import PROCESS_TIMEOUT_S, race

RACERS = 4
ATTEMPTS_PER_RACER = 200
#: How long a racer holds the lease once it has it, and at most how long it pauses
#: between attempts (so that the others get their turns).
HOLD_S = 0.0005
MAX_PAUSE_S = 0.001
#: Long enough that no lease expires during the race: only exclusion is tested.
LEASE_S = 600
#: The executor takes a lease once per step (measured ~0.03 ms median on a 2-CPU VM).
ACQUIRE_BOUND_S = 0.001
CONTESTED = ("contested", None)


class RaceOutcome(NamedTuple):
    """What one racing process reports: its errors, its holds, its refusals and retries."""

    worker: int
    errors: list[str]
    #: (began, ended) of each hold, in time.monotonic_ns(), which every process shares
    holds: list[tuple[int, int]]
    refused: int
    retries: list[str]


class _Log(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


def _race(
    path: str, worker: int, start: Barrier, results: multiprocessing.Queue[RaceOutcome]
) -> None:
    """Create a run, then try ATTEMPTS_PER_RACER times to take, hold and release CONTESTED."""
    log = _Log()
    connection_logger = logging.getLogger("assetflow.store.sqlite.connection")
    connection_logger.addHandler(log)
    connection_logger.setLevel(logging.DEBUG)
    errors: list[str] = []
    holds: list[tuple[int, int]] = []
    refused = 0
    run_id = f"racer-{worker}"
    pause = random.Random(worker)
    try:
        with SqliteStore(path) as store:
            store.create_run(
                RunRecord(run_id=run_id, started_at=datetime.now(UTC), pid=os.getpid())
            )
            start.wait(PROCESS_TIMEOUT_S)
            for _ in range(ATTEMPTS_PER_RACER):
                now = datetime.now(UTC)
                wanted = Lease(
                    asset=CONTESTED[0],
                    partition=CONTESTED[1],
                    run_id=run_id,
                    pid=os.getpid(),
                    host=socket.gethostname(),
                    acquired_at=now,
                    expires_at=now + timedelta(seconds=LEASE_S),
                )
                try:
                    holder = store.acquire_lease(wanted, now=now)
                    if holder is None:
                        began = time.monotonic_ns()
                        time.sleep(HOLD_S)
                        holds.append((began, time.monotonic_ns()))
                        store.release_leases(run_id, [CONTESTED])
                    else:
                        refused += 1
                except StoreError as error:
                    errors.append(error.message)
                time.sleep(pause.uniform(0, MAX_PAUSE_S))
            store.finish_run(run_id, RunStatus.SUCCESS, datetime.now(UTC))
    except StoreError as error:
        errors.append(error.message)
    results.put(RaceOutcome(worker, errors, holds, refused, log.messages))


def test_racing_processes_never_hold_one_lease_at_once(tmp_path: Path) -> None:
    path = tmp_path / "metadata.sqlite"
    SqliteStore(path).close()  # created and migrated before the race
    outcomes = race(_race, path, RACERS)
    # No "database is locked" (nor any other error) ever reached a racer.
    assert [o.errors for o in outcomes] == [[]] * RACERS, [o.retries for o in outcomes]
    holds = sorted(hold for o in outcomes for hold in o.holds)
    overlaps = [(a, b) for a, b in pairwise(holds) if b[0] < a[1]]
    assert overlaps == []
    # The race was real: the lease changed hands, and was refused while held.
    assert sum(1 for o in outcomes if o.holds) >= 2
    assert sum(o.refused for o in outcomes) > 0
    assert sum(len(o.holds) + o.refused for o in outcomes) == RACERS * ATTEMPTS_PER_RACER
    with SqliteStore(path) as store:
        assert store.leases() == []
        assert {r.status for r in store.list_runs()} == {RunStatus.SUCCESS}


def test_a_lease_held_through_one_connection_excludes_another(tmp_path: Path) -> None:
    path = tmp_path / "metadata.sqlite"
    with SqliteStore(path) as first, SqliteStore(path) as second:
        first.create_run(run("r-1"))
        second.create_run(run("r-2"))
        held = Lease("clean", "2026-03-01", "r-1", 11, "here", at(0), at(60))
        assert first.acquire_lease(held, now=at(0)) is None
        refused = Lease("clean", "2026-03-01", "r-2", 22, "here", at(1), at(61))
        assert second.acquire_lease(refused, now=at(1)) == held
        assert second.leases() == [held]
        first.finish_run("r-1", RunStatus.SUCCESS, at(2))
        assert second.acquire_lease(refused, now=at(3)) is None
        assert first.leases() == [refused]


def _acquire_durations(store: SqliteStore, count: int) -> list[float]:
    durations = []
    for number in range(count):
        wanted = Lease(f"asset_{number}", "2026-03-01", "r-1", 11, "here", at(0), at(60))
        started = time.perf_counter()
        store.acquire_lease(wanted, now=at(0))
        durations.append(time.perf_counter() - started)
    return durations


@pytest.mark.slow
def test_acquiring_a_lease_takes_well_under_a_millisecond(tmp_path: Path) -> None:
    with SqliteStore(tmp_path / "metadata.sqlite") as store:
        store.create_run(run("r-1"))
        durations = _acquire_durations(store, 1000)
        assert len(store.leases()) == 1000
        assert statistics.median(durations) < ACQUIRE_BOUND_S
