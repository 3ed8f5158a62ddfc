"""Step logs in the store, on every backend: written with a step's records, read in write order."""

from __future__ import annotations

from datetime import datetime

import pytest

from assetflow.errors import StoreError
from assetflow.store import EventKind, LogRecord, MetadataStore
from tests.store.builders import at, event, materialization


def log(asset: str, text: str, partition: str | None = None, attempt: int = 1, **fields):
    values = {
        "run_id": "run-1",
        "asset": asset,
        "partition": partition,
        "attempt": attempt,
        "text": text,
        "at": at(0),
    }
    return LogRecord(**{**values, **fields})


def test_logs_read_back_in_write_order(store: MetadataStore) -> None:
    written = [
        log("b", "second asset first\n", at=at(5)),
        log("a", "try 1\n", attempt=1, at=at(9)),
        log("a", "try 2\n", attempt=2, at=at(1)),
    ]
    store.record(logs=written[:1])
    store.record(logs=written[1:])
    assert store.step_logs("run-1") == written


def test_logs_are_written_with_the_steps_other_records(store: MetadataStore) -> None:
    store.record(
        materializations=[materialization("a")],
        events=[event(EventKind.MATERIALIZED, "a")],
        logs=[log("a", "hello\n")],
    )
    assert [entry.text for entry in store.step_logs("run-1")] == ["hello\n"]
    assert len(store.asset_history("a")) == 1


def test_logs_filter_by_run_asset_and_partition(store: MetadataStore) -> None:
    store.record(
        logs=[
            log("a", "a1", partition="2026-03-01"),
            log("a", "a2", partition="2026-03-02"),
            log("b", "b"),
            log("a", "other run", run_id="run-2"),
        ]
    )
    assert [e.text for e in store.step_logs("run-1")] == ["a1", "a2", "b"]
    assert [e.text for e in store.step_logs("run-1", asset="a")] == ["a1", "a2"]
    assert [e.text for e in store.step_logs("run-1", partition="2026-03-02")] == ["a2"]
    assert [e.text for e in store.step_logs("run-1", asset="b", partition="x")] == []
    assert [e.text for e in store.step_logs("run-2")] == ["other run"]
    assert store.step_logs("run-3") == []


def test_a_log_keeps_its_text_exactly_and_its_time_in_utc(store: MetadataStore) -> None:
    text = "line one\n\ttabbed ünïcode ✓\n\nlast line without newline"
    store.record(logs=[log("a", text)])
    [stored] = store.step_logs("run-1")
    assert stored.text == text
    assert stored.at == at(0)


def test_a_lone_surrogate_in_a_log_text_is_stored_replaced(store: MetadataStore) -> None:
    store.record(logs=[log("a", "bad \udcff byte")])
    assert store.step_logs("run-1")[0].text == "bad \ufffd byte"


def test_an_invalid_log_writes_nothing_of_the_batch(store: MetadataStore) -> None:
    with pytest.raises(StoreError, match="naive datetime"):
        store.record(
            events=[event(EventKind.MATERIALIZED, "a")],
            logs=[log("a", "ok"), log("a", "naive", at=datetime(2026, 3, 1))],
        )
    assert store.step_logs("run-1") == []
    assert store.run_events("run-1") == []
