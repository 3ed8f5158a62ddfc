"""Leases on asset-partitions, run against every backend: one run at a time materializes each."""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from assetflow.errors import StoreError
from assetflow.store import AssetPartition, Lease, MetadataStore, RunStatus, open_store
from tests.store.builders import at, run


def lease(
    asset: str = "clean",
    partition: str | None = None,
    run_id: str = "r-1",
    expires: float = 60,
    acquired: float = 0,
    pid: int = 4242,
    host: str = "here",
) -> Lease:
    """A lease of ``run_id`` taken ``acquired`` seconds after T0, expiring ``expires`` after T0."""
    return Lease(asset, partition, run_id, pid, host, at(acquired), at(expires))


def never(holder: Lease) -> bool:
    """A takeover check that must not be asked."""
    raise AssertionError(f"takeover asked about {holder}")


@pytest.fixture
def two_runs(store: MetadataStore) -> MetadataStore:
    """The store with runs r-1 and r-2, both running."""
    store.create_run(run("r-1"))
    store.create_run(run("r-2"))
    return store


def test_a_free_lease_is_acquired_and_listed(two_runs: MetadataStore) -> None:
    assert two_runs.leases() == []
    assert two_runs.acquire_lease(lease(), now=at(0), takeover=never) is None
    assert two_runs.leases() == [lease()]


def test_the_holder_acquiring_again_renews_its_expiry(two_runs: MetadataStore) -> None:
    two_runs.acquire_lease(lease(), now=at(0))
    again = lease(acquired=30, expires=90, pid=1, host="elsewhere")
    assert two_runs.acquire_lease(again, now=at(30), takeover=never) is None
    # Only the expiry moves: the lease was taken at 0, by the process that took it.
    assert two_runs.leases() == [lease(expires=90)]


def test_another_run_is_refused_and_told_the_holder(two_runs: MetadataStore) -> None:
    held = lease(run_id="r-1")
    two_runs.acquire_lease(held, now=at(0))
    assert two_runs.acquire_lease(lease(run_id="r-2", acquired=10), now=at(10)) == held
    assert two_runs.acquire_lease(lease(run_id="r-2"), now=at(10), takeover=lambda _: False) == held
    assert two_runs.leases() == [held]


def test_an_expired_lease_is_taken_over(two_runs: MetadataStore) -> None:
    two_runs.acquire_lease(lease(run_id="r-1", expires=60), now=at(0))
    # expires_at <= now has expired: at 60 exactly it no longer holds.
    assert two_runs.acquire_lease(lease(run_id="r-2", acquired=59), now=at(59)) is not None
    taker = lease(run_id="r-2", acquired=60, expires=120)
    assert two_runs.acquire_lease(taker, now=at(60), takeover=never) is None
    assert two_runs.leases() == [taker]


@pytest.mark.parametrize(
    "status", [RunStatus.SUCCESS, RunStatus.FAILED, RunStatus.CANCELLED, RunStatus.CRASHED]
)
def test_a_lease_of_a_run_that_ended_is_taken_over(store: MetadataStore, status: RunStatus) -> None:
    store.create_run(run("r-1"))
    store.create_run(run("r-2"))
    store.finish_run("r-1", status, at(5))
    # finish_run released r-1's leases; one it takes afterwards (the store does not
    # police which runs take leases) lapses all the same, since r-1 is not running.
    store.acquire_lease(lease(run_id="r-1"), now=at(6))
    taker = lease(run_id="r-2", acquired=10)
    assert store.acquire_lease(taker, now=at(10), takeover=never) is None
    assert store.leases() == [taker]


def test_a_lease_of_a_run_never_recorded_is_taken_over(store: MetadataStore) -> None:
    store.create_run(run("r-2"))
    store.acquire_lease(lease(run_id="ghost"), now=at(0))
    taker = lease(run_id="r-2", acquired=10)
    assert store.acquire_lease(taker, now=at(10), takeover=never) is None
    assert store.leases() == [taker]


def test_takeover_is_asked_about_a_live_holder_only(two_runs: MetadataStore) -> None:
    held = lease(run_id="r-1", pid=777, host="here")
    two_runs.acquire_lease(held, now=at(0))
    asked: list[Lease] = []

    def holder_is_dead(holder: Lease) -> bool:
        asked.append(holder)
        return holder.pid == 777

    taker = lease(run_id="r-2", acquired=10)
    assert two_runs.acquire_lease(taker, now=at(10), takeover=holder_is_dead) is None
    assert asked == [held]
    assert two_runs.leases() == [taker]


def test_a_takeover_check_that_raises_changes_nothing(two_runs: MetadataStore) -> None:
    held = lease(run_id="r-1")
    two_runs.acquire_lease(held, now=at(0))

    def broken(holder: Lease) -> bool:
        raise RuntimeError("cannot probe")

    with pytest.raises(RuntimeError, match="cannot probe"):
        two_runs.acquire_lease(lease(run_id="r-2"), now=at(10), takeover=broken)
    assert two_runs.leases() == [held]
    # The store is still usable: the failed attempt left no transaction open.
    assert two_runs.acquire_lease(lease("other", run_id="r-2"), now=at(10)) is None


def test_partition_none_and_partition_keys_are_distinct_leases(two_runs: MetadataStore) -> None:
    whole = lease("clean", None, run_id="r-1")
    day = lease("clean", "2026-03-01", run_id="r-2")
    assert two_runs.acquire_lease(whole, now=at(0)) is None
    assert two_runs.acquire_lease(day, now=at(0)) is None
    assert two_runs.acquire_lease(lease("clean", "2026-03-01", run_id="r-1"), now=at(0)) == day
    assert two_runs.acquire_lease(lease("clean", None, run_id="r-2"), now=at(0)) == whole
    assert two_runs.leases() == [whole, day]


def test_leases_are_sorted_by_asset_then_partition(two_runs: MetadataStore) -> None:
    keys = [("b", "2026-03-02"), ("b", None), ("a", "2026-03-01"), ("b", "2026-03-01")]
    for asset, partition in keys:
        two_runs.acquire_lease(lease(asset, partition), now=at(0))
    assert [held.key for held in two_runs.leases()] == [
        ("a", "2026-03-01"),
        ("b", None),
        ("b", "2026-03-01"),
        ("b", "2026-03-02"),
    ]


def test_release_drops_the_runs_leases_on_those_keys_only(two_runs: MetadataStore) -> None:
    for partition in ["p1", "p2", "p3"]:
        two_runs.acquire_lease(lease("a", partition, run_id="r-1"), now=at(0))
    theirs = lease("b", run_id="r-2")
    two_runs.acquire_lease(theirs, now=at(0))
    # ("b", None) is r-2's, and ("zzz", None) is nobody's: both are left alone.
    two_runs.release_leases("r-1", [("a", "p1"), ("a", "p3"), ("b", None), ("zzz", None)])
    assert two_runs.leases() == [lease("a", "p2", run_id="r-1"), theirs]
    two_runs.release_leases("r-1", iter([]))
    two_runs.release_leases("r-1")
    assert two_runs.leases() == [theirs]
    two_runs.release_leases("r-1")
    assert two_runs.leases() == [theirs]


def test_a_released_lease_can_be_taken_by_another_run(two_runs: MetadataStore) -> None:
    two_runs.acquire_lease(lease(run_id="r-1"), now=at(0))
    two_runs.release_leases("r-1", [("clean", None)])
    assert two_runs.acquire_lease(lease(run_id="r-2"), now=at(1)) is None


def test_renew_pushes_back_every_lease_of_the_run_only(two_runs: MetadataStore) -> None:
    two_runs.acquire_lease(lease("a", run_id="r-1"), now=at(0))
    two_runs.acquire_lease(lease("b", "p1", run_id="r-1"), now=at(0))
    theirs = lease("c", run_id="r-2")
    two_runs.acquire_lease(theirs, now=at(0))
    two_runs.renew_leases("r-1", at(600))
    assert two_runs.leases() == [
        lease("a", run_id="r-1", expires=600),
        lease("b", "p1", run_id="r-1", expires=600),
        theirs,
    ]
    # Renewed, it still holds past its first expiry.
    assert two_runs.acquire_lease(lease("a", run_id="r-2"), now=at(300)) is not None


def test_finish_run_releases_the_runs_leases(two_runs: MetadataStore) -> None:
    two_runs.acquire_lease(lease("a", run_id="r-1"), now=at(0))
    two_runs.acquire_lease(lease("a", "p1", run_id="r-1"), now=at(0))
    theirs = lease("b", run_id="r-2")
    two_runs.acquire_lease(theirs, now=at(0))
    two_runs.finish_run("r-1", RunStatus.SUCCESS, at(30))
    assert two_runs.leases() == [theirs]


def test_finishing_an_unknown_run_releases_nothing(store: MetadataStore) -> None:
    store.acquire_lease(lease(run_id="ghost"), now=at(0))
    with pytest.raises(StoreError, match="no such run"):
        store.finish_run("ghost", RunStatus.SUCCESS, at(30))
    assert store.finish_run_if_running("ghost", RunStatus.CRASHED, at(30)) is False
    assert store.leases() == [lease(run_id="ghost")]


def test_finish_run_if_running_releases_when_it_finishes(two_runs: MetadataStore) -> None:
    two_runs.acquire_lease(lease("a", run_id="r-1"), now=at(0))
    theirs = lease("b", run_id="r-2")
    two_runs.acquire_lease(theirs, now=at(0))
    assert two_runs.finish_run_if_running("r-1", RunStatus.CRASHED, at(30)) is True
    assert two_runs.leases() == [theirs]


def test_finish_run_if_running_leaves_leases_when_it_does_not_finish(store: MetadataStore) -> None:
    store.create_run(run("r-1"))
    store.finish_run("r-1", RunStatus.SUCCESS, at(10))
    # The store does not police which runs take leases; this one is finished.
    store.acquire_lease(lease(run_id="r-1"), now=at(20))
    assert store.finish_run_if_running("r-1", RunStatus.CRASHED, at(30)) is False
    assert store.leases() == [lease(run_id="r-1")]


def test_lease_times_are_kept_in_utc_and_naive_ones_refused(store: MetadataStore) -> None:
    paris = timezone(timedelta(hours=1))
    local = datetime(2026, 3, 1, 8, 0, tzinfo=paris)
    store.acquire_lease(lease()._replace(acquired_at=local), now=local)
    (kept,) = store.leases()
    assert kept.acquired_at == local
    assert kept.acquired_at.utcoffset() == timedelta(0)
    naive = datetime(2026, 3, 1)
    with pytest.raises(StoreError, match=r"lease on 'x' of run 'r-1' expires_at is a naive"):
        store.acquire_lease(lease("x")._replace(expires_at=naive), now=at(0))
    with pytest.raises(StoreError, match="naive datetime"):
        store.acquire_lease(lease("x"), now=naive)
    with pytest.raises(StoreError, match="naive datetime"):
        store.renew_leases("r-1", naive)
    assert store.leases() == [kept]


def test_an_empty_partition_key_is_refused(store: MetadataStore) -> None:
    with pytest.raises(StoreError, match="has an empty partition key") as caught:
        store.acquire_lease(lease("a", ""), now=at(0))
    assert "partition=None" in caught.value.hint
    store.acquire_lease(lease("a", None), now=at(0))
    # No lease is held under '', so releasing it does not release the one of None.
    store.release_leases("r-1", [("a", "")])
    assert store.leases() == [lease("a", None)]


def test_invalid_lease_text_and_pids_are_refused(store: MetadataStore) -> None:
    with pytest.raises(StoreError, match="host that is not valid Unicode"):
        store.acquire_lease(lease(host="caf\udce9"), now=at(0))
    with pytest.raises(StoreError, match="pid 9223372036854775808, which does not fit"):
        store.acquire_lease(lease(pid=2**63), now=at(0))
    assert store.leases() == []


def test_a_closed_store_refuses_leases(store: MetadataStore) -> None:
    store.close()
    with pytest.raises(StoreError, match="is closed"):
        store.acquire_lease(lease(), now=at(0))
    with pytest.raises(StoreError, match="is closed"):
        store.leases()


# -- every backend gives the same answers ---------------------------------------------------

#: Few runs and keys, so that runs often contend. r-1 and r-2 are created first,
#: r-3 only when an operation does, "ghost" never.
_RUN_IDS = ("r-1", "r-2", "r-3", "ghost")
_KEYS: tuple[AssetPartition, ...] = (("a", None), ("a", "p1"))


@dataclass(frozen=True)
class _Create:
    run_id: str

    def apply(self, store: MetadataStore) -> object:
        store.create_run(run(self.run_id))
        return None


@dataclass(frozen=True)
class _Acquire:
    run_id: str
    key: AssetPartition
    now: int
    expires: int
    #: what the takeover check answers, or None for no check
    answer: bool | None

    def apply(self, store: MetadataStore) -> object:
        answer = self.answer
        takeover = None if answer is None else (lambda _: answer)
        wanted = lease(*self.key, run_id=self.run_id, acquired=self.now, expires=self.expires)
        return store.acquire_lease(wanted, now=at(self.now), takeover=takeover)


@dataclass(frozen=True)
class _Release:
    run_id: str
    keys: list[AssetPartition] | None

    def apply(self, store: MetadataStore) -> object:
        store.release_leases(self.run_id, self.keys)
        return None


@dataclass(frozen=True)
class _Renew:
    run_id: str
    expires: int

    def apply(self, store: MetadataStore) -> object:
        store.renew_leases(self.run_id, at(self.expires))
        return None


@dataclass(frozen=True)
class _Finish:
    run_id: str
    status: RunStatus

    def apply(self, store: MetadataStore) -> object:
        store.finish_run(self.run_id, self.status, at(30))
        return None


@dataclass(frozen=True)
class _FinishIfRunning:
    run_id: str

    def apply(self, store: MetadataStore) -> object:
        return store.finish_run_if_running(self.run_id, RunStatus.CRASHED, at(30))


_Operation = _Create | _Acquire | _Release | _Renew | _Finish | _FinishIfRunning

_run_ids = st.sampled_from(_RUN_IDS)
_keys = st.sampled_from(_KEYS)
_seconds = st.integers(min_value=0, max_value=20)
# Asked in the first half of the clock, leases mostly outlive the next request.
_acquires = st.builds(
    _Acquire,
    _run_ids,
    _keys,
    st.integers(min_value=0, max_value=10),
    _seconds,
    st.sampled_from([None, False, True]),
)
_operations: st.SearchStrategy[_Operation] = st.one_of(
    st.builds(_Create, st.just("r-3")),
    *[_acquires] * 3,  # three times as likely: taking leases is what is under test
    st.builds(_Release, _run_ids, st.none() | st.lists(_keys, max_size=3)),
    st.builds(_Renew, _run_ids, _seconds),
    st.builds(_Finish, _run_ids, st.sampled_from(list(RunStatus))),
    st.builds(_FinishIfRunning, _run_ids),
)


def _outcome(store: MetadataStore, operation: _Operation) -> object:
    """What the operation returned, or the kind of error it raised."""
    try:
        return operation.apply(store)
    except StoreError as error:
        return type(error).__name__


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(operations=st.lists(_operations, min_size=5, max_size=40))
def test_memory_and_sqlite_stores_agree_on_leases(operations: list[_Operation]) -> None:
    with tempfile.TemporaryDirectory() as directory:
        memory = open_store("memory")
        sqlite = open_store("sqlite", Path(directory) / "meta.sqlite")
        with memory, sqlite:
            for run_id in ["r-1", "r-2"]:
                memory.create_run(run(run_id))
                sqlite.create_run(run(run_id))
            for operation in operations:
                assert _outcome(memory, operation) == _outcome(sqlite, operation), operation
                assert memory.leases() == sqlite.leases(), operation
