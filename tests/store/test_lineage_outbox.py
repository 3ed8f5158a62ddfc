"""The lineage outbox's contract, on every backend: queued in order, claimed once,
kept until sent, postponed as a whole on a failed attempt, atomic with a unit of work.

`store` is an empty store of each backend (tests/store/conftest.py).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from assetflow.errors import StoreError
from assetflow.store import MetadataStore, SqliteStore
from assetflow.store.lineage import lineage_outbox

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
LATER = T0 + timedelta(minutes=5)


def test_events_come_out_in_the_order_queued(store: MetadataStore) -> None:
    outbox = lineage_outbox(store)
    outbox.queue("r1", ['{"a": 1}', '{"a": 2}'], T0)
    outbox.queue("r2", ['{"a": 3}'], T0)
    claimed = outbox.claim("me", T0, LATER)
    assert [event.payload for event in claimed] == ['{"a": 1}', '{"a": 2}', '{"a": 3}']
    assert [event.run_id for event in claimed] == ["r1", "r1", "r2"]
    assert claimed[0].created_at == T0
    assert outbox.count() == 3


def test_a_claimed_event_is_not_claimed_again_until_its_claim_expires(
    store: MetadataStore,
) -> None:
    outbox = lineage_outbox(store)
    outbox.queue("r1", ["{}"], T0)
    assert len(outbox.claim("one", T0, LATER)) == 1
    assert outbox.claim("two", T0, LATER) == []
    assert len(outbox.claim("two", LATER, LATER + timedelta(minutes=1))) == 1


def test_sent_events_leave_the_outbox_only_for_their_claimer(store: MetadataStore) -> None:
    outbox = lineage_outbox(store)
    outbox.queue("r1", ["{}", "{}"], T0)
    first, second = outbox.claim("me", T0, LATER)
    outbox.sent("someone else", [first.event_id])
    assert outbox.count() == 2
    outbox.sent("me", [first.event_id, second.event_id])
    assert outbox.count() == 0


def test_a_failed_attempt_postpones_every_pending_event(store: MetadataStore) -> None:
    outbox = lineage_outbox(store)
    outbox.queue("r1", ["{1}", "{2}"], T0)
    first, _ = outbox.claim("me", T0, LATER)
    outbox.retry("me", first.event_id, "HTTP 503", T0, T0 + timedelta(seconds=30))
    assert outbox.claim("me", T0 + timedelta(seconds=29), LATER) == []
    again = outbox.claim("me", T0 + timedelta(seconds=30), LATER)
    assert [event.payload for event in again] == ["{1}", "{2}"]
    assert again[0].attempts == 1
    assert again[0].last_error == "HTTP 503"
    assert again[1].attempts == 0


def test_queued_events_roll_back_with_their_unit_of_work(store: MetadataStore) -> None:
    outbox = lineage_outbox(store)

    def failing_state_change() -> None:
        with store.unit_of_work():
            outbox.queue("r1", ["{}"], T0)
            raise RuntimeError("the state change failed")

    with pytest.raises(RuntimeError):
        failing_state_change()
    assert outbox.count() == 0
    with store.unit_of_work():
        outbox.queue("r1", ["{}"], T0)
    assert outbox.count() == 1


def test_bad_input_is_refused(store: MetadataStore) -> None:
    outbox = lineage_outbox(store)
    with pytest.raises(StoreError, match=r"naive|timezone"):
        outbox.queue("r1", ["{}"], datetime(2026, 3, 1))
    with pytest.raises(StoreError, match="NUL"):
        outbox.queue("r1", ["\x00"], T0)
    with pytest.raises(StoreError, match="end after"):
        outbox.claim("me", LATER, T0)
    assert outbox.count() == 0


def test_the_outbox_survives_reopening_sqlite(tmp_path: Path) -> None:
    with SqliteStore(tmp_path / "m.sqlite") as store:
        lineage_outbox(store).queue("r1", ['{"eventType": "START"}'], T0)
    with SqliteStore(tmp_path / "m.sqlite") as store:
        assert [e.payload for e in lineage_outbox(store).pending()] == ['{"eventType": "START"}']


def test_no_event_overtakes_an_older_one_that_is_not_due(store: MetadataStore) -> None:
    outbox = lineage_outbox(store)
    outbox.queue("r1", ["{1}"], T0)
    (first,) = outbox.claim("me", T0, LATER)
    outbox.retry("me", first.event_id, "connection refused", T0, T0 + timedelta(minutes=1))
    outbox.queue("r2", ["{2}"], T0)
    assert outbox.claim("me", T0, LATER) == []
    forced = outbox.claim("me", T0, LATER, force=True)
    assert [event.payload for event in forced] == ["{1}", "{2}"]
    assert outbox.claim("other", T0, LATER, force=True) == []


def test_senders_racing_claim_each_event_once(store: MetadataStore) -> None:
    import threading

    outbox = lineage_outbox(store)
    outbox.queue("r1", [f'{{"n": {i}}}' for i in range(60)], T0)
    taken: dict[str, list[int]] = {}
    start = threading.Barrier(3)

    def sender(name: str) -> None:
        start.wait()
        mine: list[int] = []
        while batch := outbox.claim(name, T0, LATER, 7):
            mine += [event.event_id for event in batch]
            outbox.sent(name, [event.event_id for event in batch])
        taken[name] = mine

    threads = [threading.Thread(target=sender, args=(f"s{i}",)) for i in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    every = sorted(event_id for ids in taken.values() for event_id in ids)
    assert every == sorted(set(every))
    assert len(every) == 60
    assert outbox.count() == 0
