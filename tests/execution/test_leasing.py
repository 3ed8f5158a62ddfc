"""Leases as a run takes and keeps them: times from the caller, holders judged by pid or beat."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from assetflow.clock import FixedClock
from assetflow.execution import leasing
from assetflow.execution.liveness import HEARTBEAT_TIMEOUT, HOST
from assetflow.planner.plan import Step
from assetflow.planner.staleness import Status
from assetflow.store import Lease, MetadataStore, RunRecord, RunStatus
from tests.store.conftest import BACKENDS, open_backend

T0 = datetime(2026, 3, 1, 6, 0, tzinfo=UTC)
OTHER_HOST = f"not-{HOST}"


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


@pytest.fixture(params=BACKENDS)
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[MetadataStore]:
    with open_backend(request, tmp_path) as opened:
        yield opened


@pytest.fixture(scope="module")
def dead_pid() -> int:
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid


def _step() -> Step:
    return Step("orders", "2026-03-01", Status.STALE, ())


def _holder(store: MetadataStore, run: RunRecord, *, host: str, pid: int) -> Lease:
    """Record ``run`` holding the step's lease from its process ``pid`` on ``host``."""
    store.create_run(run)
    lease = Lease("orders", "2026-03-01", run.run_id, pid, host, at(0), at(3600))
    assert store.acquire_lease(lease, now=at(0)) is None
    return lease


def test_a_new_lease_starts_at_the_given_time() -> None:
    lease = leasing.new_lease(_step(), "r-1", at(10))
    assert lease == Lease(
        "orders", "2026-03-01", "r-1", os.getpid(), HOST, at(10), at(10) + leasing.TTL
    )


def test_renew_pushes_expiry_from_the_given_time(store: MetadataStore) -> None:
    store.create_run(RunRecord(run_id="r-1", started_at=at(0)))
    assert leasing.acquire(store, leasing.new_lease(_step(), "r-1", at(0))) is None
    leasing.renew(store, "r-1", at(100))
    assert [lease.expires_at for lease in store.leases()] == [at(100) + leasing.TTL]


def test_a_remote_holder_with_a_fresh_heartbeat_keeps_its_lease(store: MetadataStore) -> None:
    fresh = RunRecord(run_id="remote", started_at=at(0), host=OTHER_HOST, heartbeat_at=at(20))
    held = _holder(store, fresh, host=OTHER_HOST, pid=1)
    store.create_run(RunRecord(run_id="mine", started_at=at(0)))
    now = at(20) + HEARTBEAT_TIMEOUT
    assert not leasing.holder_is_gone(store, held, now)
    assert leasing.acquire(store, leasing.new_lease(_step(), "mine", now)) == held
    assert store.leases() == [held]


def test_a_remote_holder_with_a_stale_heartbeat_is_taken_over(store: MetadataStore) -> None:
    stale = RunRecord(run_id="remote", started_at=at(0), host=OTHER_HOST, heartbeat_at=at(20))
    held = _holder(store, stale, host=OTHER_HOST, pid=1)
    store.create_run(RunRecord(run_id="mine", started_at=at(0)))
    now = at(21) + HEARTBEAT_TIMEOUT
    assert leasing.holder_is_gone(store, held, now)
    mine = leasing.new_lease(_step(), "mine", now)
    assert leasing.acquire(store, mine) is None
    assert store.leases() == [mine]


def test_a_remote_holder_without_a_run_is_left_to_the_store(store: MetadataStore) -> None:
    held = Lease("orders", "2026-03-01", "ghost", 1, OTHER_HOST, at(0), at(3600))
    assert not leasing.holder_is_gone(store, held, at(10_000))


@pytest.mark.skipif(sys.platform == "win32", reason="no pid probe on Windows")
def test_a_local_holder_is_judged_by_its_pid(store: MetadataStore, dead_pid: int) -> None:
    # A fresh heartbeat does not save a local run whose process is gone.
    beat = {"host": HOST, "heartbeat_at": at(100)}
    dead = _holder(
        store, RunRecord(run_id="dead", started_at=at(0), **beat), host=HOST, pid=dead_pid
    )
    assert leasing.holder_is_gone(store, dead, at(100))
    assert leasing.is_local_holder_gone(dead)
    store.create_run(RunRecord(run_id="mine", started_at=at(0)))
    mine = leasing.new_lease(_step(), "mine", at(100))
    assert leasing.acquire(store, mine) is None
    alive = dead._replace(run_id="mine", pid=os.getpid())
    assert not leasing.holder_is_gone(store, alive, at(100))


def test_renewing_renews_from_the_clock(
    store: MetadataStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(leasing, "RENEW_S", 0.01)
    store.create_run(RunRecord(run_id="r-1", started_at=at(0), status=RunStatus.RUNNING))
    assert leasing.acquire(store, leasing.new_lease(_step(), "r-1", at(0))) is None
    wanted = at(500) + leasing.TTL
    with leasing.renewing(store, "r-1", FixedClock(at(500))):
        deadline = time.monotonic() + 10
        while store.leases()[0].expires_at != wanted:
            assert time.monotonic() < deadline, "the leases were never renewed"
            time.sleep(0.01)
