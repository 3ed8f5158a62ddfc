"""The scheduler's records beyond claiming, run against every backend: the leader lease,
sensor cursors saved with their ticks, origin states, tick queries, and real processes
racing for ticks and for the lease on one SQLite file."""

from __future__ import annotations

import multiprocessing
import os
import sqlite3
import tempfile
from dataclasses import replace
from datetime import datetime, timedelta, timezone
from multiprocessing.synchronize import Barrier
from pathlib import Path
from typing import Any, NamedTuple

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from assetflow.errors import StoreError
from assetflow.store import (
    MetadataStore,
    OriginState,
    SchedulerLease,
    SqliteStore,
    TickRecord,
    open_store,
)
from tests.store.builders import at, run
from tests.store.racing import PROCESS_TIMEOUT_S, race
from tests.store.ticks import tick

TTL = timedelta(seconds=30)
NAIVE = datetime(2026, 3, 1, 6, 0)


def take(store: MetadataStore, holder: str, now: float, pid: int = 1) -> SchedulerLease:
    """``holder`` (pid ``pid`` on host-``holder``) asks for the lease ``now`` seconds after T0."""
    return store.acquire_scheduler_lease(holder, pid, f"host-{holder}", at(now), TTL)


# -- the scheduler lease ---------------------------------------------------------------------


def test_a_free_lease_is_acquired(store: MetadataStore) -> None:
    assert store.scheduler_lease() is None
    taken = take(store, "a", 0, pid=11)
    assert taken == SchedulerLease("a", 11, "host-a", at(0), at(0), at(30))
    assert store.scheduler_lease() == taken


def test_a_second_holder_gets_the_current_lease_back_and_does_not_lead(
    store: MetadataStore,
) -> None:
    held = take(store, "a", 0, pid=11)
    answer = take(store, "b", 10, pid=22)
    assert answer == held
    assert (answer.holder, answer.pid, answer.host, answer.heartbeat_at) == (
        "a",
        11,
        "host-a",
        at(0),
    )
    assert store.scheduler_lease() == held


def test_the_holder_acquiring_again_renews_and_keeps_its_start(store: MetadataStore) -> None:
    take(store, "a", 0)
    again = take(store, "a", 20, pid=12)
    assert again == SchedulerLease("a", 12, "host-a", at(0), at(20), at(50))
    assert store.scheduler_lease() == again


def test_renewing_by_the_holder_extends_it(store: MetadataStore) -> None:
    take(store, "a", 0)
    assert store.renew_scheduler_lease("a", at(20), TTL) is True
    renewed = store.scheduler_lease()
    assert renewed == SchedulerLease("a", 1, "host-a", at(0), at(20), at(50))
    # Past the first expiry (30), the renewed lease still holds against another.
    assert take(store, "b", 40).holder == "a"


def test_renewing_by_another_holder_or_a_free_lease_returns_false(
    store: MetadataStore,
) -> None:
    assert store.renew_scheduler_lease("a", at(0), TTL) is False
    assert store.scheduler_lease() is None
    held = take(store, "a", 0)
    assert store.renew_scheduler_lease("b", at(10), TTL) is False
    assert store.scheduler_lease() == held


def test_a_lease_not_renewed_within_its_ttl_is_taken_by_another(store: MetadataStore) -> None:
    take(store, "a", 0)
    # Still held one second before it lapses; lapsed at expires_at exactly.
    assert take(store, "b", 29).holder == "a"
    taken = take(store, "b", 30, pid=22)
    assert taken == SchedulerLease("b", 22, "host-b", at(30), at(30), at(60))
    assert store.scheduler_lease() == taken
    # The old holder, waking up, no longer leads and cannot renew.
    assert store.renew_scheduler_lease("a", at(31), TTL) is False
    assert take(store, "a", 31).holder == "b"


def test_a_lapsed_lease_nobody_took_is_renewed_by_its_holder(store: MetadataStore) -> None:
    # Its heartbeat came late, but no other scheduler leads meanwhile: it still holds.
    take(store, "a", 0)
    assert store.renew_scheduler_lease("a", at(45), TTL) is True
    lease = store.scheduler_lease()
    assert lease == SchedulerLease("a", 1, "host-a", at(0), at(45), at(75))


def test_release_frees_the_lease_and_a_non_holder_releasing_does_nothing(
    store: MetadataStore,
) -> None:
    held = take(store, "a", 0)
    store.release_scheduler_lease("b")
    assert store.scheduler_lease() == held
    store.release_scheduler_lease("a")
    assert store.scheduler_lease() is None
    # Free again: another takes it at once, long before the old expiry.
    assert take(store, "b", 1).holder == "b"
    store.release_scheduler_lease("a")
    lease = store.scheduler_lease()
    assert lease is not None
    assert lease.holder == "b"


@pytest.mark.parametrize("ttl", [timedelta(0), timedelta(seconds=-5)])
def test_a_ttl_that_is_not_positive_is_refused(store: MetadataStore, ttl: timedelta) -> None:
    with pytest.raises(StoreError, match=r"scheduler lease of 'a' asks for a time to live") as e:
        store.acquire_scheduler_lease("a", 1, "here", at(0), ttl)
    assert "which is not positive" in e.value.message
    assert "positive timedelta" in str(e.value.hint)
    assert store.scheduler_lease() is None
    take(store, "a", 0)
    with pytest.raises(StoreError, match="which is not positive"):
        store.renew_scheduler_lease("a", at(10), ttl)
    lease = store.scheduler_lease()
    assert lease is not None
    assert lease.expires_at == at(30)


def test_a_naive_now_is_refused(store: MetadataStore) -> None:
    with pytest.raises(StoreError, match=r"taking the scheduler lease of 'a' is a naive"):
        store.acquire_scheduler_lease("a", 1, "here", NAIVE, TTL)
    assert store.scheduler_lease() is None
    take(store, "a", 0)
    with pytest.raises(StoreError, match=r"renewing the scheduler lease of 'a' is a naive"):
        store.renew_scheduler_lease("a", NAIVE, TTL)


def test_a_pid_that_does_not_fit_64_bits_is_refused(store: MetadataStore) -> None:
    with pytest.raises(StoreError, match="has pid 9223372036854775808, which does not fit"):
        store.acquire_scheduler_lease("a", 2**63, "here", at(0), TTL)


def test_lease_times_are_kept_in_utc(store: MetadataStore) -> None:
    local = at(0).astimezone(timezone(timedelta(hours=-5)))
    taken = store.acquire_scheduler_lease("a", 1, "here", local, TTL)
    lease = store.scheduler_lease()
    assert lease == taken
    assert lease.acquired_at.utcoffset() == timedelta(0)
    assert lease.expires_at == at(30)


class LeaseModel:
    """The lease's contract, spelled out: what every backend must answer."""

    def __init__(self) -> None:
        self.lease: SchedulerLease | None = None

    def acquire(self, holder: str, now: float, ttl: int) -> SchedulerLease:
        found = self.lease
        if found is not None and found.holder != holder and found.expires_at > at(now):
            return found
        start = found.acquired_at if found is not None and found.holder == holder else at(now)
        self.lease = SchedulerLease(holder, 1, "here", start, at(now), at(now + ttl))
        return self.lease

    def renew(self, holder: str, now: float, ttl: int) -> bool:
        if self.lease is None or self.lease.holder != holder:
            return False
        self.lease = replace(self.lease, heartbeat_at=at(now), expires_at=at(now + ttl))
        return True

    def release(self, holder: str) -> None:
        if self.lease is not None and self.lease.holder == holder:
            self.lease = None


_LEASE_STEPS = st.lists(
    st.tuples(
        st.sampled_from(["acquire", "renew", "release"]),
        st.sampled_from(["a", "b", "c"]),
        st.integers(0, 120),
        st.sampled_from([10, 30]),
    ),
    max_size=15,
)


@settings(max_examples=30, deadline=None)
@given(steps=_LEASE_STEPS)
def test_every_backend_follows_the_lease_contract(steps: list[tuple[str, str, int, int]]) -> None:
    """Any sequence of acquires, renewals and releases, at times that may even go back,
    is answered by each backend as the model answers it."""
    with tempfile.TemporaryDirectory() as directory:
        for kind in ("memory", "sqlite"):
            model = LeaseModel()
            with _opened(kind, directory) as store:
                for action, holder, now, ttl in steps:
                    life = timedelta(seconds=ttl)
                    if action == "acquire":
                        got: object = store.acquire_scheduler_lease(
                            holder, 1, "here", at(now), life
                        )
                        assert got == model.acquire(holder, now, ttl)
                    elif action == "renew":
                        got = store.renew_scheduler_lease(holder, at(now), life)
                        assert got == model.renew(holder, now, ttl)
                    else:
                        store.release_scheduler_lease(holder)
                        model.release(holder)
                    assert store.scheduler_lease() == model.lease


# -- sensor cursors --------------------------------------------------------------------------


def test_a_cursor_is_saved_with_its_ticks_and_none_clears_it(store: MetadataStore) -> None:
    assert store.sensor_cursor("sensor:s") is None
    claimed = store.save_sensor_evaluation(
        "sensor:s", "c-1", [tick("sensor:s", 0, run_key="k-1"), tick("sensor:s", 0)]
    )
    assert claimed == [True, False]
    assert store.sensor_cursor("sensor:s") == "c-1"
    assert store.ticks("sensor:s") == [tick("sensor:s", 0, run_key="k-1")]
    assert store.save_sensor_evaluation("sensor:s", "c-2", []) == []
    assert store.sensor_cursor("sensor:s") == "c-2"
    assert store.sensor_cursor("sensor:other") is None
    store.save_sensor_evaluation("sensor:s", None, [])
    assert store.sensor_cursor("sensor:s") is None


def test_a_run_key_already_held_skips_the_tick_and_still_saves_the_cursor(
    store: MetadataStore,
) -> None:
    store.claim_tick(tick("sensor:other", 0, run_key="k"))
    claimed = store.save_sensor_evaluation(
        "sensor:s",
        "c-1",
        [tick("sensor:s", 0, run_key="k", run_id="r-k"), tick("sensor:s", 1, run_key="j")],
    )
    assert claimed == [False, True]
    assert store.sensor_cursor("sensor:s") == "c-1"
    skipped = store.get_tick("sensor:s", at(0))
    assert skipped is not None
    assert skipped.status == "skipped"
    assert skipped.reason == (
        "run key 'k' was already requested (tick sensor:other@2026-03-01T06:00:00+00:00)"
    )
    assert skipped.run_id is None  # the run it was claimed for will never exist


def test_a_tick_set_failed_or_skipped_has_no_run(store: MetadataStore) -> None:
    store.claim_ticks([tick("schedule:a", 0, run_id="r-1"), tick("schedule:a", 60, run_id="r-2")])
    store.update_tick("schedule:a", at(0), status="failed", evaluated_at=at(1))
    store.update_tick("schedule:a", at(60), status="skipped", evaluated_at=at(61), run_id="r-9")
    assert store.get_tick("schedule:a", at(0)).run_id is None
    assert store.get_tick("schedule:a", at(60)).run_id is None
    store.claim_tick(tick("schedule:b", 0, status="skipped", run_id="r-3"))
    assert store.get_tick("schedule:b", at(0)).run_id is None


def test_ticks_that_cannot_be_written_leave_the_cursor_unchanged(store: MetadataStore) -> None:
    store.save_sensor_evaluation("sensor:s", "c-1", [])
    bad = [
        tick("sensor:s", 0, scheduled_at=NAIVE),
        tick("sensor:s", 0, request={"when": at(0)}),
        tick("sensor:s", 0, run_key="bad\udcff"),
        tick("sensor:s", 0, status="running"),
    ]
    for wrong in bad:
        with pytest.raises(StoreError):
            # The invalid tick comes last: the valid one before it is not kept either.
            store.save_sensor_evaluation("sensor:s", "c-2", [tick("sensor:s", 60), wrong])
        assert store.sensor_cursor("sensor:s") == "c-1"
        assert store.ticks() == []


def _save_then_fail(store: MetadataStore) -> None:
    """Save an evaluation in a unit of work, then fail as a later write of it would."""
    with store.unit_of_work():
        store.save_sensor_evaluation("sensor:s", "c-2", [tick("sensor:s", 60, run_key="k")])
        assert store.sensor_cursor("sensor:s") == "c-2"
        raise RuntimeError("failed after the save")


def test_a_cursor_saved_in_a_unit_that_fails_is_not_kept(store: MetadataStore) -> None:
    store.save_sensor_evaluation("sensor:s", "c-1", [tick("sensor:s", 0)])
    with pytest.raises(RuntimeError, match="after the save"):
        _save_then_fail(store)
    assert store.sensor_cursor("sensor:s") == "c-1"
    assert [t.scheduled_at for t in store.ticks("sensor:s")] == [at(0)]
    # Its run key was not kept held either.
    assert store.claim_tick(tick("sensor:other", 0, run_key="k")) is True


def test_a_cursor_that_is_not_text_is_refused(store: MetadataStore) -> None:
    store.save_sensor_evaluation("sensor:s", "c-1", [])
    with pytest.raises(StoreError, match=r"sensor 'sensor:s' has a cursor that is not valid"):
        store.save_sensor_evaluation("sensor:s", "bad\udcff", [tick("sensor:s", 0)])
    for wrong in (5, b"c-2", ["c-2"]):
        with pytest.raises(StoreError, match=r"sensor 'sensor:s' has a cursor that is not a str"):
            store.save_sensor_evaluation("sensor:s", wrong, [tick("sensor:s", 0)])  # type: ignore[arg-type]
    assert store.sensor_cursor("sensor:s") == "c-1"
    assert store.ticks() == []
    with pytest.raises(StoreError, match=r"has a name that is not a str: 7") as error:
        store.save_sensor_evaluation(7, "c", [])  # type: ignore[arg-type]
    assert "a str" in str(error.value.hint)


def test_a_long_invalid_cursor_is_shown_short(store: MetadataStore) -> None:
    with pytest.raises(StoreError, match="not valid Unicode text") as error:
        store.save_sensor_evaluation("sensor:s", "x" * 100_000 + "\udcff", [])
    assert len(error.value.message) < 200


def test_texts_that_are_not_str_are_refused_everywhere(store: MetadataStore) -> None:
    with pytest.raises(StoreError, match=r"tick 7 at .* has a origin that is not a str: 7"):
        store.claim_tick(tick(origin=7))  # type: ignore[arg-type]
    with pytest.raises(StoreError, match=r"has a run_key that is not a str: b'k'"):
        store.claim_tick(tick(run_key=b"k"))  # type: ignore[arg-type]
    with pytest.raises(StoreError, match=r"origin 'schedule:a' has a fingerprint that is not a"):
        store.see_origins({"schedule:a": 3}, at(0))  # type: ignore[dict-item]
    with pytest.raises(StoreError, match=r"scheduler lease of 'a' has a host that is not a str"):
        store.acquire_scheduler_lease("a", 1, None, at(0), TTL)  # type: ignore[arg-type]
    with pytest.raises(StoreError, match=r"has a partition key that is not a str: None"):
        store.claim_tick(tick(partition_keys=("a", None)))  # type: ignore[arg-type]
    with pytest.raises(StoreError, match=r"sensor None has a name that is not a str: None"):
        store.save_sensor_evaluation(None, "c", [])  # type: ignore[arg-type]
    assert store.ticks() == []
    assert store.origin_states() == {}
    assert store.scheduler_lease() is None


def test_a_nul_in_an_origin_or_fingerprint_is_refused(store: MetadataStore) -> None:
    # SQLite would keep "sensor:a\x00b" as "sensor:a" and the fingerprint as "f".
    with pytest.raises(StoreError, match=r"origin 'sensor:a\x00b' has a name with a NUL") as e:
        store.see_origins({"sensor:a\x00b": "fp"}, at(0))
    assert "a bug in the code that built it" in str(e.value.hint)
    with pytest.raises(StoreError, match="has a fingerprint with a NUL character"):
        store.see_origins({"sensor:a": "f\x00p"}, at(0))
    with pytest.raises(StoreError, match="has a name with a NUL character"):
        store.set_paused("sensor:a\x00b", True, at(0))
    with pytest.raises(StoreError, match=r"tick 'sensor:a\x00b' at .* has an origin with a NUL"):
        store.claim_tick(tick("sensor:a\x00b"))
    with pytest.raises(StoreError, match="sensor 'sensor:a\x00b' has a name with a NUL"):
        store.save_sensor_evaluation("sensor:a\x00b", "c", [])
    assert store.origin_states() == {}
    assert store.ticks() == []
    # A NUL in a cursor or a run key is kept as it is.
    store.save_sensor_evaluation("sensor:a", "c\x00d", [tick("sensor:a", 0, run_key="k\x00z")])
    assert store.sensor_cursor("sensor:a") == "c\x00d"
    assert store.ticks() == [tick("sensor:a", 0, run_key="k\x00z")]
    assert store.latest_ticks(["sensor:a\x00b"]) == {}


def test_a_large_unicode_cursor_reads_back_exactly(store: MetadataStore) -> None:
    # No size limit of its own: a cursor of a megabyte is kept as given.
    cursor = "é€😀\x00" * 250_000
    store.save_sensor_evaluation("sensor:s", cursor, [])
    assert store.sensor_cursor("sensor:s") == cursor


def test_a_write_that_fails_inside_the_transaction_keeps_the_cursor(tmp_path: Path) -> None:
    # A failure of SQLite itself, after the cursor's row was written: the trigger
    # refuses the second tick as a full disk or a constraint would.
    path = tmp_path / "meta.sqlite"
    with SqliteStore(path) as store:
        store.save_sensor_evaluation("sensor:s", "c-1", [])
    with sqlite3.connect(path) as connection:
        connection.execute(
            "CREATE TRIGGER refuse BEFORE INSERT ON ticks WHEN NEW.origin = 'sensor:broken' "
            "BEGIN SELECT RAISE(ABORT, 'refused by a test trigger'); END"
        )
    connection.close()
    with SqliteStore(path) as store:
        ticks = [tick("sensor:s", 0), tick("sensor:broken", 0)]
        with pytest.raises(StoreError, match="refused by a test trigger"):
            store.save_sensor_evaluation("sensor:s", "c-2", ticks)
        assert store.sensor_cursor("sensor:s") == "c-1"
        assert store.ticks() == []


# -- origin states ---------------------------------------------------------------------------


def test_see_origins_records_first_seen_once_and_the_fingerprint_change(
    store: MetadataStore,
) -> None:
    assert store.origin_states() == {}
    first = store.see_origins({"schedule:a": "0 3 * * *"}, at(0))
    assert first == {"schedule:a": OriginState("schedule:a", at(0), fingerprint="0 3 * * *")}
    later = store.see_origins({"schedule:a": "0 4 * * *", "sensor:b": None}, at(60))
    assert later == {
        "schedule:a": OriginState("schedule:a", at(0), fingerprint="0 4 * * *"),
        "sensor:b": OriginState("sensor:b", at(60)),
    }
    # The origins not given are returned too, unchanged.
    assert store.see_origins({"sensor:b": "every 30s"}, at(120)) == {
        "schedule:a": OriginState("schedule:a", at(0), fingerprint="0 4 * * *"),
        "sensor:b": OriginState("sensor:b", at(60), fingerprint="every 30s"),
    }
    assert store.see_origins({}, at(180)) == store.origin_states()
    assert list(store.origin_states()) == ["schedule:a", "sensor:b"]


def test_pausing_and_resuming_keep_the_time_of_the_change(store: MetadataStore) -> None:
    store.see_origins({"schedule:a": "fp"}, at(0))
    paused = store.set_paused("schedule:a", True, at(100))
    assert paused == OriginState("schedule:a", at(0), True, at(100), "fp")
    # Pausing a paused origin keeps the time it was paused.
    assert store.set_paused("schedule:a", True, at(200)) == paused
    # Seeing it again keeps it paused.
    assert store.see_origins({"schedule:a": "fp2"}, at(250))["schedule:a"] == OriginState(
        "schedule:a", at(0), True, at(100), "fp2"
    )
    resumed = store.set_paused("schedule:a", False, at(300))
    assert resumed == OriginState("schedule:a", at(0), False, at(300), "fp2")
    assert store.origin_states() == {"schedule:a": resumed}


def test_pausing_an_origin_never_seen_records_it_first_seen_then(store: MetadataStore) -> None:
    assert store.set_paused("sensor:new", True, at(50)) == OriginState(
        "sensor:new", at(50), True, at(50)
    )
    store.see_origins({"sensor:new": "fp"}, at(60))
    assert store.origin_states() == {
        "sensor:new": OriginState("sensor:new", at(50), True, at(50), "fp")
    }


def test_origin_state_inputs_are_checked(store: MetadataStore) -> None:
    with pytest.raises(StoreError, match="the time origins were seen is a naive datetime"):
        store.see_origins({"schedule:a": None}, NAIVE)
    with pytest.raises(StoreError, match="'schedule:a' was paused or resumed is a naive"):
        store.set_paused("schedule:a", True, NAIVE)
    with pytest.raises(StoreError, match="has a fingerprint that is not valid Unicode"):
        store.see_origins({"schedule:a": "bad\udcff"}, at(0))
    assert store.origin_states() == {}


def _see_pause_then_fail(store: MetadataStore) -> None:
    """See and pause origins in a unit of work, then fail."""
    with store.unit_of_work():
        store.see_origins({"schedule:a": "fp2", "schedule:b": None}, at(10))
        store.set_paused("schedule:a", True, at(10))
        raise RuntimeError("boom")


def test_origin_states_seen_in_a_unit_that_fails_are_not_kept(store: MetadataStore) -> None:
    store.see_origins({"schedule:a": "fp"}, at(0))
    with pytest.raises(RuntimeError, match="boom"):
        _see_pause_then_fail(store)
    assert store.origin_states() == {
        "schedule:a": OriginState("schedule:a", at(0), fingerprint="fp")
    }


# -- tick queries ----------------------------------------------------------------------------


def test_a_started_tick_leaves_the_claimed_ones(store: MetadataStore) -> None:
    store.claim_ticks([tick("schedule:a", 0), tick("schedule:a", 60, request={"s": "x"})])
    store.update_tick("schedule:a", at(0), status="started", evaluated_at=at(1), run_id="r-1")
    assert store.claimed_ticks() == [tick("schedule:a", 60, request={"s": "x"})]
    started = store.get_tick("schedule:a", at(0))
    assert started == tick("schedule:a", 0, status="started", evaluated_at=at(1), run_id="r-1")
    store.update_tick("schedule:a", at(60), status="started", evaluated_at=at(61), run_id="r-2")
    assert store.claimed_ticks() == []


def test_update_tick_refuses_an_unknown_tick_and_naive_times(store: MetadataStore) -> None:
    store.claim_tick(tick("schedule:a", 0))
    with pytest.raises(StoreError, match=r"cannot update tick 'schedule:a' at .*no such tick"):
        store.update_tick("schedule:a", at(1), status="started", evaluated_at=at(1))
    with pytest.raises(StoreError, match=r"cannot update tick 'schedule:b' .*no such tick"):
        store.update_tick("schedule:b", at(0), status="started", evaluated_at=at(1))
    with pytest.raises(StoreError, match="evaluated_at is a naive datetime"):
        store.update_tick("schedule:a", at(0), status="started", evaluated_at=NAIVE)
    with pytest.raises(StoreError, match="scheduled_at is a naive datetime"):
        store.update_tick("schedule:a", NAIVE, status="started", evaluated_at=at(1))
    assert store.ticks() == [tick("schedule:a", 0)]


def test_a_request_read_back_is_the_readers_own(store: MetadataStore) -> None:
    request = {"selection": "a+", "tags": {"team": "data"}}
    store.claim_tick(tick("schedule:a", 0, request=request))
    request["tags"]["team"] = "changed by the caller"
    readings = [
        store.get_tick("schedule:a", at(0)),
        store.ticks()[0],
        store.latest_ticks(["schedule:a"])["schedule:a"],
        store.claimed_ticks()[0],
    ]
    for read in readings:
        assert read is not None
        assert read.request is not None
        read.request["tags"]["team"] = "changed by a reader"  # type: ignore[index]
    assert store.ticks() == [
        tick("schedule:a", 0, request={"selection": "a+", "tags": {"team": "data"}})
    ]


def test_latest_ticks_follows_a_newer_claim(store: MetadataStore) -> None:
    store.claim_tick(tick("schedule:a", 60))
    store.claim_tick(tick("schedule:a", 0))
    assert store.latest_ticks(["schedule:a"]) == {"schedule:a": tick("schedule:a", 60)}
    store.claim_tick(tick("schedule:a", 120, status="skipped", reason="paused"))
    latest = store.latest_ticks(["schedule:a", "schedule:a"])
    assert latest == {"schedule:a": tick("schedule:a", 120, status="skipped", reason="paused")}


def test_paging_through_ticks_with_before_and_limit_sees_each_once(
    store: MetadataStore,
) -> None:
    store.claim_ticks([tick("schedule:a", seconds) for seconds in range(0, 600, 60)])
    pages: list[list[datetime]] = []
    before: datetime | None = None
    while page := store.ticks("schedule:a", limit=3, before=before):
        pages.append([t.scheduled_at for t in page])
        before = page[-1].scheduled_at
    assert pages == [
        [at(540), at(480), at(420)],
        [at(360), at(300), at(240)],
        [at(180), at(120), at(60)],
        [at(0)],
    ]


def test_run_by_key_breaks_a_tie_in_start_by_the_last_created(store: MetadataStore) -> None:
    store.create_run(run("r-1", started=0, run_key="k"))
    store.create_run(run("r-2", started=0, run_key="k"))
    found = store.run_by_key("k")
    assert found is not None
    assert found.run_id == "r-2"


def _opened(kind: str, directory: str) -> MetadataStore:
    return open_store(kind, Path(directory) / f"{kind}.sqlite")


_CLAIMS = st.lists(
    st.tuples(
        st.sampled_from(["schedule:a", "schedule:b", "sensor:c"]),
        st.sampled_from([0, 0.5, 0.000001, 60, 60.999999, 120]),
        st.sampled_from(["claimed", "started", "skipped"]),
        st.sampled_from([None, "k", "j"]),
    ),
    max_size=12,
)


@settings(max_examples=25, deadline=None)
@given(claims=_CLAIMS, limit=st.integers(0, 8))
def test_backends_answer_every_sequence_of_claims_alike(
    claims: list[tuple[str, float, Any, str | None]], limit: int
) -> None:
    """Memory and SQLite give the same claims, listings and latest ticks; the listing
    is ordered newest scheduled first, then last written first."""
    with tempfile.TemporaryDirectory() as directory:
        answers = []
        for kind in ("memory", "sqlite"):
            with _opened(kind, directory) as store:
                got = [
                    store.claim_tick(tick(o, s, status=st_, run_key=k)) for o, s, st_, k in claims
                ]
                listed = store.ticks(limit=limit)
                origins = ["schedule:a", "schedule:b", "sensor:c"]
                answers.append((got, listed, store.latest_ticks(origins), store.claimed_ticks()))
                every = store.ticks(limit=100)
                keys = [t.scheduled_at for t in every]
                assert keys == sorted(keys, reverse=True)
                held = [t.run_key for t in every if t.run_key and t.status != "skipped"]
                assert len(held) == len(set(held))
        assert answers[0] == answers[1]


# -- real processes racing on one SQLite file --------------------------------------------------

RACERS = 4
RACED_TICKS = 50


class Claims(NamedTuple):
    """What one racing process reports: the ticks it claimed (by number) and its errors."""

    worker: int
    claimed: list[int]
    errors: list[str]


def raced_tick(number: int, worker: int) -> TickRecord:
    """Tick ``number`` as process ``worker`` claims it: the same origin and instant for
    every process, its own run id; every other tick has a run key."""
    origin = f"schedule:s{number % 5}"
    key = f"key-{number}" if number % 2 else None
    return tick(origin, number * 60, run_id=f"run-{worker}-{number}", run_key=key)


def _claim_all(path: str, worker: int, start: Barrier, results: multiprocessing.Queue[Any]) -> None:
    """Claim every raced tick, one at a time (even workers) or in batches of 5 from the
    end (odd workers), starting with the others."""
    claimed: list[int] = []
    errors: list[str] = []
    try:
        with SqliteStore(path) as store:
            start.wait(PROCESS_TIMEOUT_S)
            if worker % 2 == 0:
                for number in range(RACED_TICKS):
                    if store.claim_tick(raced_tick(number, worker)):
                        claimed.append(number)
            else:
                numbers = list(reversed(range(RACED_TICKS)))
                for first in range(0, RACED_TICKS, 5):
                    batch = numbers[first : first + 5]
                    answers = store.claim_ticks([raced_tick(n, worker) for n in batch])
                    claimed.extend(n for n, ok in zip(batch, answers, strict=True) if ok)
    except Exception as error:  # reported to the test, which fails on it
        errors.append(f"{type(error).__name__}: {error}")
    results.put(Claims(worker, claimed, errors))


def test_processes_racing_claim_each_tick_exactly_once(tmp_path: Path) -> None:
    path = tmp_path / "meta.sqlite"
    SqliteStore(path).close()
    outcomes: list[Claims] = race(_claim_all, path, RACERS)
    assert [o.errors for o in outcomes] == [[]] * RACERS
    assert sum(len(o.claimed) for o in outcomes) == RACED_TICKS
    with SqliteStore(path, read_only=True) as store:
        stored = store.ticks(limit=1000)
    assert len(stored) == RACED_TICKS
    assert len({(t.origin, t.scheduled_at) for t in stored}) == RACED_TICKS
    assert all(t.status == "claimed" for t in stored)
    # Each tick is recorded as the one process that got True claimed it.
    winner = {n: o.worker for o in outcomes for n in o.claimed}
    assert sorted(winner) == list(range(RACED_TICKS))
    by_instant = {t.scheduled_at: t for t in stored}
    for number, worker in winner.items():
        assert by_instant[at(number * 60)] == raced_tick(number, worker)


#: Rounds of the lease race: each round starts after the last round's lease lapsed.
LEASE_ROUNDS = 20


class Leading(NamedTuple):
    """What one process racing for the scheduler lease saw: the holder it was told
    in each round."""

    worker: int
    holders: list[str]
    errors: list[str]


def _lead(path: str, worker: int, start: Barrier, results: multiprocessing.Queue[Any]) -> None:
    """Ask for the scheduler lease at once with the other process, round after round;
    a round's time is past the expiry of the lease taken in the round before."""
    holders: list[str] = []
    errors: list[str] = []
    try:
        with SqliteStore(path) as store:
            for round_ in range(LEASE_ROUNDS):
                start.wait(PROCESS_TIMEOUT_S)
                lease = store.acquire_scheduler_lease(
                    f"holder-{worker}", os.getpid(), "here", at(round_ * 100), TTL
                )
                holders.append(lease.holder)
    except Exception as error:  # reported to the test, which fails on it
        errors.append(f"{type(error).__name__}: {error}")
    results.put(Leading(worker, holders, errors))


def test_processes_racing_for_the_lease_elect_exactly_one(tmp_path: Path) -> None:
    path = tmp_path / "meta.sqlite"
    SqliteStore(path).close()
    outcomes: list[Leading] = race(_lead, path, 2)
    assert [o.errors for o in outcomes] == [[], []]
    first, second = (o.holders for o in outcomes)
    # In each round both were told the same leader: one leads, the other does not.
    assert first == second
    assert len(first) == LEASE_ROUNDS
    assert set(first) <= {"holder-0", "holder-1"}
    with SqliteStore(path, read_only=True) as store:
        lease = store.scheduler_lease()
    assert lease is not None
    assert lease.holder == first[-1]
    assert lease.expires_at == at((LEASE_ROUNDS - 1) * 100 + 30)
