"""Ticks, run against every backend: a tick is claimed once, and a run key starts one run."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from assetflow.errors import StoreError
from assetflow.store import AutomationStore, MetadataStore, SqliteStore
from tests.store.builders import T0, at, run
from tests.store.ticks import tick

BERLIN_WINTER = timezone(timedelta(hours=1))


def test_every_backend_is_an_automation_store(store: MetadataStore) -> None:
    assert isinstance(store, AutomationStore)


def test_a_claimed_tick_reads_back_unchanged(store: MetadataStore) -> None:
    claimed = tick(
        evaluated_at=at(2),
        run_key="nightly-2026-03-01",
        partition_keys=("2026-02-28", "2026-03-01"),
        selection="clean+",
        request={"selection": "clean+", "tags": {"a": "b"}, "partitions": ["x"]},
        reason="catch-up",
    )
    assert store.claim_tick(claimed) is True
    assert store.get_tick("schedule:nightly", at(0)) == claimed
    assert store.get_tick("schedule:nightly", at(1)) is None
    assert store.get_tick("schedule:other", at(0)) is None


def test_a_tick_is_claimed_once_and_a_second_claim_changes_nothing(
    store: MetadataStore,
) -> None:
    first = tick(selection="a")
    assert store.claim_tick(first) is True
    assert store.claim_tick(tick(selection="b", status="started", run_id="r-9")) is False
    assert store.ticks() == [first]


def test_tick_times_are_kept_in_utc_and_found_from_any_timezone(store: MetadataStore) -> None:
    local = T0.astimezone(BERLIN_WINTER)
    store.claim_tick(tick(scheduled_at=local, evaluated_at=local))
    found = store.get_tick("schedule:nightly", T0)
    assert found is not None
    assert found.scheduled_at.tzinfo is not None
    assert found.scheduled_at.utcoffset() == timedelta(0)
    assert found.scheduled_at == T0
    assert store.get_tick("schedule:nightly", local) == found
    # The same instant in another timezone is the same tick.
    assert store.claim_tick(tick(scheduled_at=local)) is False


def test_naive_times_are_refused(store: MetadataStore) -> None:
    naive = datetime(2026, 3, 1, 6, 0)
    with pytest.raises(StoreError, match=r"tick 'schedule:nightly' .* scheduled_at is a naive"):
        store.claim_tick(tick(scheduled_at=naive))
    with pytest.raises(StoreError, match="evaluated_at is a naive datetime"):
        store.claim_tick(tick(evaluated_at=naive))
    assert store.ticks() == []


def test_an_unknown_status_and_a_request_that_is_not_json_are_refused(
    store: MetadataStore,
) -> None:
    with pytest.raises(StoreError, match="has status 'running', which is not a tick status"):
        store.claim_tick(tick(status="running"))  # type: ignore[arg-type]
    with pytest.raises(StoreError, match="has a request that cannot be stored as JSON"):
        store.claim_tick(tick(request={"when": T0}))
    with pytest.raises(StoreError, match="has a selection that is not valid Unicode"):
        store.claim_tick(tick(selection="bad\udcff"))
    assert store.ticks() == []


def test_claim_ticks_answers_each_and_writes_all_or_nothing(store: MetadataStore) -> None:
    store.claim_tick(tick(scheduled=60))
    assert store.claim_ticks([tick(scheduled=0), tick(scheduled=60), tick(scheduled=120)]) == [
        True,
        False,
        True,
    ]
    assert [t.scheduled_at for t in store.ticks()] == [at(120), at(60), at(0)]
    with pytest.raises(StoreError, match="naive"):
        store.claim_ticks([tick(scheduled=180), tick(scheduled_at=datetime(2026, 3, 1))])
    assert store.get_tick("schedule:nightly", at(180)) is None
    assert store.claim_ticks([]) == []


def test_update_links_the_run_and_keeps_what_it_is_not_given(store: MetadataStore) -> None:
    store.claim_tick(tick(reason="catch-up", request={"selection": "a"}))
    store.update_tick("schedule:nightly", at(0), status="started", evaluated_at=at(5), run_id="r-1")
    assert store.get_tick("schedule:nightly", at(0)) == tick(
        status="started",
        evaluated_at=at(5),
        run_id="r-1",
        reason="catch-up",
        request={"selection": "a"},
    )
    store.update_tick(
        "schedule:nightly", at(0), status="failed", evaluated_at=at(6), reason="no such asset"
    )
    updated = store.get_tick("schedule:nightly", at(0))
    assert updated is not None
    # A failed tick has no run: the run id it was claimed or linked with goes.
    assert (updated.status, updated.run_id, updated.reason) == ("failed", None, "no such asset")


def test_updating_a_tick_never_claimed_is_refused(store: MetadataStore) -> None:
    with pytest.raises(StoreError, match=r"cannot update tick 'schedule:x' .*no such tick") as e:
        store.update_tick("schedule:x", at(0), status="started", evaluated_at=at(0), run_id="r")
    assert "claim_tick()" in str(e.value.hint)


def test_ticks_are_listed_newest_first_and_filtered(store: MetadataStore) -> None:
    store.claim_ticks(
        [
            tick("schedule:a", 0),
            tick("schedule:b", 0),
            tick("schedule:a", 60, status="skipped", reason="paused"),
            tick("schedule:a", 120),
        ]
    )
    listed = [(t.origin, t.scheduled_at) for t in store.ticks()]
    # Same instant: the last written first.
    assert listed == [
        ("schedule:a", at(120)),
        ("schedule:a", at(60)),
        ("schedule:b", at(0)),
        ("schedule:a", at(0)),
    ]
    assert [t.scheduled_at for t in store.ticks("schedule:a")] == [at(120), at(60), at(0)]
    assert [t.scheduled_at for t in store.ticks("schedule:a", limit=2)] == [at(120), at(60)]
    assert [t.scheduled_at for t in store.ticks("schedule:a", before=at(120))] == [at(60), at(0)]
    assert [t.scheduled_at for t in store.ticks(statuses=["skipped"])] == [at(60)]
    assert store.ticks(statuses=[]) == []
    assert store.ticks(limit=0) == []
    assert store.ticks("schedule:none") == []


def test_latest_ticks_gives_the_newest_of_each_origin(store: MetadataStore) -> None:
    store.claim_ticks([tick("schedule:a", 120), tick("schedule:a", 0), tick("schedule:b", 60)])
    latest = store.latest_ticks(["schedule:a", "schedule:b", "schedule:c"])
    assert {o: t.scheduled_at for o, t in latest.items()} == {
        "schedule:a": at(120),
        "schedule:b": at(60),
    }
    assert store.latest_ticks([]) == {}
    assert set(store.latest_ticks(iter(["schedule:b"]))) == {"schedule:b"}


def test_latest_ticks_over_many_origins(store: MetadataStore) -> None:
    origins = [f"schedule:s{n}" for n in range(300)]
    store.claim_ticks([tick(o, s) for o in origins for s in (0, 60)])
    latest = store.latest_ticks(origins)
    assert len(latest) == 300
    assert {t.scheduled_at for t in latest.values()} == {at(60)}


def test_claimed_ticks_are_those_whose_run_did_not_start_oldest_first(
    store: MetadataStore,
) -> None:
    store.claim_ticks(
        [
            tick("schedule:b", 60),
            tick("schedule:a", 0),
            tick("schedule:a", 30, status="skipped", reason="paused"),
            tick("schedule:c", 10),
        ]
    )
    store.update_tick("schedule:c", at(10), status="started", evaluated_at=at(11), run_id="r")
    assert [(t.origin, t.scheduled_at) for t in store.claimed_ticks()] == [
        ("schedule:a", at(0)),
        ("schedule:b", at(60)),
    ]


def test_run_by_key_finds_the_newest_run_with_that_key(store: MetadataStore) -> None:
    store.create_run(run("r-1", started=0, run_key="k"))
    store.create_run(run("r-2", started=60, run_key="k"))
    store.create_run(run("r-3", started=120, run_key="other"))
    store.create_run(run("r-4", started=180))
    found = store.run_by_key("k")
    assert found is not None
    assert found.run_id == "r-2"
    assert store.run_by_key("missing") is None


# -- run keys --------------------------------------------------------------------------------


def test_a_run_key_held_by_a_claimed_tick_skips_the_next_one(store: MetadataStore) -> None:
    assert store.claim_tick(tick("sensor:a", 0, run_key="k")) is True
    assert store.claim_tick(tick("schedule:b", 60, run_key="k")) is False
    skipped = store.get_tick("schedule:b", at(60))
    assert skipped is not None
    assert skipped.status == "skipped"
    assert skipped.reason == (
        "run key 'k' was already requested (tick sensor:a@2026-03-01T06:00:00+00:00)"
    )


def test_a_run_key_of_a_started_tick_or_of_a_run_is_held(store: MetadataStore) -> None:
    store.claim_tick(tick("sensor:a", 0, run_key="k"))
    store.update_tick("sensor:a", at(0), status="started", evaluated_at=at(1), run_id="r-1")
    assert store.claim_tick(tick("sensor:a", 60, run_key="k")) is False
    store.create_run(run("r-7", run_key="by-hand"))
    assert store.claim_tick(tick("sensor:a", 120, run_key="by-hand")) is False
    skipped = store.get_tick("sensor:a", at(120))
    assert skipped is not None
    assert skipped.reason == "run key 'by-hand' was already requested (run r-7)"


def test_a_skipped_or_failed_tick_does_not_hold_its_run_key(store: MetadataStore) -> None:
    store.claim_tick(tick("sensor:a", 0, run_key="k", status="skipped", reason="paused"))
    assert store.claim_tick(tick("sensor:a", 60, run_key="k")) is True
    store.update_tick("sensor:a", at(60), status="failed", evaluated_at=at(61), reason="boom")
    assert store.claim_tick(tick("sensor:a", 120, run_key="k")) is True
    # A tick recorded as skipped is never itself turned into another skip.
    assert store.claim_tick(tick("sensor:a", 180, run_key="k", status="skipped")) is True


def test_two_ticks_of_one_batch_with_one_run_key_start_once(store: MetadataStore) -> None:
    batch = [tick("sensor:a", 0, run_key="k"), tick("sensor:a", 1, run_key="k")]
    assert store.claim_ticks(batch) == [True, False]
    assert [t.status for t in store.ticks("sensor:a")] == ["skipped", "claimed"]


def test_a_tick_cannot_be_claimed_again_while_another_holds_its_key(
    store: MetadataStore,
) -> None:
    store.claim_tick(tick("sensor:a", 0, run_key="k"))
    store.claim_tick(tick("sensor:b", 0, run_key="k"))  # skipped
    with pytest.raises(StoreError, match=r"its run key 'k' is held by tick sensor:a@") as error:
        store.update_tick("sensor:b", at(0), status="claimed", evaluated_at=at(5))
    assert "record the tick as skipped" in str(error.value.hint)
    skipped = store.get_tick("sensor:b", at(0))
    assert skipped is not None
    assert skipped.status == "skipped"


# -- transactions and reading ----------------------------------------------------------------


def _claim_then_fail(store: MetadataStore) -> None:
    """Claim a tick in a unit of work, then fail as a run that cannot be created would."""
    with store.unit_of_work():
        assert store.claim_tick(tick()) is True
        raise RuntimeError("the run could not be created")


def test_ticks_claimed_in_a_unit_that_fails_are_not_kept(store: MetadataStore) -> None:
    with pytest.raises(RuntimeError, match="could not be created"):
        _claim_then_fail(store)
    assert store.ticks() == []
    with store.unit_of_work():
        store.claim_tick(tick())
        store.update_tick("schedule:nightly", at(0), status="started", evaluated_at=at(0))
    assert [t.status for t in store.ticks()] == ["started"]


def test_a_read_only_store_reads_ticks(tmp_path: Path) -> None:
    path = tmp_path / "meta.sqlite"
    with SqliteStore(path) as writer:
        writer.claim_tick(tick(run_key="k"))
        writer.see_origins({"schedule:nightly": "0 3 * * *"}, at(0))
        writer.save_sensor_evaluation("sensor:s", "c-1", [])
        writer.acquire_scheduler_lease("h", 1, "here", at(0), timedelta(seconds=30))
    with SqliteStore(path, read_only=True) as reader:
        assert reader.ticks() == [tick(run_key="k")]
        assert set(reader.latest_ticks(["schedule:nightly"])) == {"schedule:nightly"}
        assert reader.claimed_ticks() == [tick(run_key="k")]
        assert set(reader.origin_states()) == {"schedule:nightly"}
        assert reader.see_origins({}, at(1)).keys() == {"schedule:nightly"}
        assert reader.sensor_cursor("sensor:s") == "c-1"
        lease = reader.scheduler_lease()
        assert lease is not None
        assert lease.holder == "h"
        with pytest.raises(StoreError, match="read-only"):
            reader.claim_tick(tick(scheduled=60))


def test_a_closed_store_refuses_ticks(store: MetadataStore) -> None:
    store.close()
    with pytest.raises(StoreError, match="is closed"):
        store.claim_tick(tick())
    with pytest.raises(StoreError, match="is closed"):
        store.ticks()
