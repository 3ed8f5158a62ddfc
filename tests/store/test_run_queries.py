"""The store's answers to "which runs, and how did each attempt end": find_runs,
latest_attempts and attempts, on every backend."""

from __future__ import annotations

from datetime import datetime

import pytest

from assetflow.errors import StoreError
from assetflow.store import CheckRecord, EventKind, MetadataStore, RunStatus
from assetflow.store.records import RunQuery
from tests.store.builders import at, event, run


def _ids(store: MetadataStore, **query: object) -> list[str]:
    return [found.run_id for found in store.find_runs(RunQuery(**query))]  # type: ignore[arg-type]


@pytest.fixture
def runs(store: MetadataStore) -> MetadataStore:
    """Four runs: r-0 (cli, success), r-1 (api, failed), r-2 (cli, failed), r-3 (schedule)."""
    for number, (started, trigger) in enumerate(
        [(10, "cli"), (20, "api"), (30, "cli"), (40, "schedule")]
    ):
        store.create_run(run(f"r-{number}", started=started, trigger=trigger))
    store.finish_run("r-0", RunStatus.SUCCESS, at(11))
    store.finish_run("r-1", RunStatus.FAILED, at(21))
    store.finish_run("r-2", RunStatus.FAILED, at(31))
    store.record(
        events=[
            event(EventKind.MATERIALIZED, "orders", "2026-03-01", run_id="r-0"),
            event(EventKind.FAILED, "orders", "2026-03-02", run_id="r-1"),
            event(EventKind.SKIPPED, "totals", "2026-03-02", run_id="r-1"),
            event(EventKind.FAILED, None, run_id="r-3"),  # run-level: touches no asset
        ],
        checks=[
            CheckRecord(
                run_id="r-2",
                asset="orders",
                partition="2026-03-01",
                check="unique",
                passed=True,
                at=at(30),
            )
        ],
    )
    return store


def test_find_runs_with_no_filter_is_list_runs(runs: MetadataStore) -> None:
    assert _ids(runs) == ["r-3", "r-2", "r-1", "r-0"]
    assert _ids(runs, limit=2) == ["r-3", "r-2"]
    assert _ids(runs, limit=0) == []


def test_find_runs_filters_by_status_and_trigger(runs: MetadataStore) -> None:
    assert _ids(runs, statuses=(RunStatus.FAILED,)) == ["r-2", "r-1"]
    assert _ids(runs, statuses=(RunStatus.FAILED, RunStatus.RUNNING)) == ["r-3", "r-2", "r-1"]
    assert _ids(runs, triggers=("cli",)) == ["r-2", "r-0"]
    assert _ids(runs, statuses=(RunStatus.FAILED,), triggers=("api",)) == ["r-1"]


def test_find_runs_filters_by_asset_and_partition_through_events_and_checks(
    runs: MetadataStore,
) -> None:
    assert _ids(runs, asset="orders") == ["r-2", "r-1", "r-0"]
    assert _ids(runs, asset="orders", partition="2026-03-01") == ["r-2", "r-0"]
    assert _ids(runs, partition="2026-03-02") == ["r-1"]
    assert _ids(runs, asset="totals", partition="2026-03-01") == []
    assert _ids(runs, asset="nothing") == []


def test_find_runs_since_includes_and_until_excludes(runs: MetadataStore) -> None:
    assert _ids(runs, since=at(20)) == ["r-3", "r-2", "r-1"]
    assert _ids(runs, until=at(30)) == ["r-1", "r-0"]
    assert _ids(runs, since=at(20), until=at(30)) == ["r-1"]


def test_find_runs_pages_after_a_run(runs: MetadataStore) -> None:
    assert _ids(runs, limit=2, before="r-2") == ["r-1", "r-0"]
    assert _ids(runs, before="r-0") == []
    assert _ids(runs, before="unknown") == []


def test_find_runs_pages_through_runs_started_at_once(store: MetadataStore) -> None:
    for run_id in ["b", "a", "c"]:
        store.create_run(run(run_id, started=0))
    assert _ids(store, limit=1) == ["c"]
    assert _ids(store, limit=1, before="c") == ["a"]
    assert _ids(store, limit=1, before="a") == ["b"]


def test_find_runs_refuses_naive_times(runs: MetadataStore) -> None:
    with pytest.raises(StoreError, match="naive"):
        runs.find_runs(RunQuery(since=datetime(2026, 3, 1)))


def test_latest_attempts_is_the_newest_attempt_event_of_each_key(store: MetadataStore) -> None:
    store.record(
        events=[
            event(EventKind.MATERIALIZED, "a", "p1", time=1),
            event(EventKind.FAILED, "a", "p1", time=5, run_id="run-2", message="boom"),
            event(EventKind.STARTED, "a", "p2", time=2),
            event(EventKind.SKIPPED, "b", None, time=3, message="upstream failed: a[p1]"),
            event(EventKind.FAILED, None, None, time=9),  # run-level
        ]
    )
    found = store.latest_attempts([("a", "p1"), ("a", "p2"), ("b", None), ("c", None)])
    assert {key: (e.kind, e.run_id) for key, e in found.items()} == {
        ("a", "p1"): (EventKind.FAILED, "run-2"),
        ("a", "p2"): (EventKind.STARTED, "run-1"),
        ("b", None): (EventKind.SKIPPED, "run-1"),
    }
    assert store.latest_attempts([]) == {}


def test_attempts_are_every_ended_attempt_newest_first(store: MetadataStore) -> None:
    store.record(
        events=[
            event(EventKind.STARTED, "a", "p1", time=1),
            event(EventKind.RETRIED, "a", "p1", time=2),
            event(EventKind.MATERIALIZED, "a", "p1", time=3),
            event(EventKind.CANCELLED, "a", "p2", time=4),
            event(EventKind.SKIPPED, "a", "p1", time=5),
            event(EventKind.FAILED, "b", "p1", time=6),
        ]
    )
    kinds = [e.kind for e in store.attempts("a")]
    assert kinds == [
        EventKind.SKIPPED,
        EventKind.CANCELLED,
        EventKind.MATERIALIZED,
        EventKind.RETRIED,
    ]
    assert [e.kind for e in store.attempts("a", "p2")] == [EventKind.CANCELLED]
    assert len(store.attempts("a", limit=2)) == 2
    assert store.attempts("a", limit=0) == []
