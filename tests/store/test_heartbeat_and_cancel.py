"""A run's host and heartbeat, and cancel requests from any process, on every backend."""

from __future__ import annotations

from datetime import datetime

import pytest

from assetflow.errors import EXIT_USAGE, StoreError, UsageError
from assetflow.store import (
    AmbiguousRunIdError,
    MetadataStore,
    RunFinishedError,
    RunStatus,
    UnknownRunError,
)
from tests.store.builders import at, run


def test_host_heartbeat_and_cancel_round_trip(store: MetadataStore) -> None:
    recorded = run("r-1", host="worker-7", heartbeat_at=at(1), cancel_requested_at=at(2))
    store.create_run(recorded)
    assert store.get_run("r-1") == recorded
    assert store.list_runs() == [recorded]


def test_a_heartbeat_is_recorded_and_answers_whether_to_stop(store: MetadataStore) -> None:
    store.create_run(run("r-1", host="worker-7"))
    assert store.heartbeat("r-1", at(5)) is False
    assert store.get_run("r-1").heartbeat_at == at(5)  # type: ignore[union-attr]
    store.request_cancel("r-1", at(6))
    assert store.heartbeat("r-1", at(10)) is True
    assert store.get_run("r-1").heartbeat_at == at(10)  # type: ignore[union-attr]


def test_a_heartbeat_of_an_unknown_run_is_an_error(store: MetadataStore) -> None:
    with pytest.raises(StoreError, match=r"cannot record a heartbeat of run 'nope': there is no"):
        store.heartbeat("nope", at(0))


def test_a_naive_heartbeat_is_refused(store: MetadataStore) -> None:
    store.create_run(run("r-1"))
    with pytest.raises(StoreError, match=r"the heartbeat of run 'r-1' is a naive datetime"):
        store.heartbeat("r-1", datetime(2026, 3, 1))


def test_a_cancel_request_takes_a_prefix_and_keeps_the_first_time(
    store: MetadataStore,
) -> None:
    store.create_run(run("3f9a1c0d"))
    asked = store.request_cancel("3f9a", at(7))
    assert asked.run_id == "3f9a1c0d"
    assert asked.cancel_requested_at == at(7)
    assert store.request_cancel("3f9a1c0d", at(9)).cancel_requested_at == at(7)
    assert store.get_run("3f9a") == asked
    assert store.get_run("3f9a").status is RunStatus.RUNNING  # type: ignore[union-attr]


def test_cancelling_an_unknown_run_says_where_runs_are_listed(store: MetadataStore) -> None:
    store.create_run(run("3f9a1c0d"))
    with pytest.raises(UnknownRunError, match=r"^no run has an id starting with 'zz'\.") as caught:
        store.request_cancel("zz", at(1))
    assert caught.value.hint == "`assetflow runs` lists recent runs with their ids."
    assert isinstance(caught.value, UsageError)
    assert caught.value.exit_code == EXIT_USAGE
    with pytest.raises(UnknownRunError, match="starting with ''"):
        store.request_cancel("", at(1))


def test_cancelling_a_finished_run_says_how_and_when_it_ended(store: MetadataStore) -> None:
    store.create_run(run("3f9a1c0d"))
    store.finish_run("3f9a1c0d", RunStatus.SUCCESS, at(300))
    with pytest.raises(
        RunFinishedError,
        match=r"^run 3f9a1c0d cannot be cancelled: it already finished \(success\) at "
        r"2026-03-01 06:05:00 UTC\.",
    ) as caught:
        store.request_cancel("3f9a", at(301))
    assert caught.value.exit_code == EXIT_USAGE
    assert "Only a running run can be cancelled" in caught.value.hint
    assert store.get_run("3f9a1c0d").cancel_requested_at is None  # type: ignore[union-attr]


def test_cancelling_an_ambiguous_prefix_lists_the_runs(store: MetadataStore) -> None:
    store.create_run(run("3f0000"))
    store.create_run(run("3f9a1c"))
    with pytest.raises(AmbiguousRunIdError, match="3f0000, 3f9a1c"):
        store.request_cancel("3f", at(1))
