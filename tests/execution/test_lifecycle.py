"""recorded_run: a run's record is finished however the run ends."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from assetflow import RunRequest
from assetflow.clock import FixedClock
from assetflow.execution.lifecycle import recorded_run, run_record
from assetflow.request import PartitionRequest
from assetflow.store import RunStatus
from tests.store.conftest import BACKENDS, open_backend

T0 = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)


@pytest.fixture(params=BACKENDS)
def store(request, tmp_path):
    with open_backend(request, tmp_path) as opened:
        yield opened


def test_the_record_says_what_was_asked():
    request = RunRequest("a+", exclude="b", trigger="sensor", partitions=PartitionRequest("x", "y"))
    record = run_record(request, "r1", T0)
    assert (record.trigger, record.selection, record.partitions) == (
        "sensor",
        "a+ --exclude b",
        "x..y",
    )
    assert record.pid is not None


def test_a_finished_run_keeps_its_first_ending(store):
    with recorded_run(store, run_record(RunRequest(), "r1", T0), FixedClock(T0)) as run:
        assert store.get_run("r1").status is RunStatus.RUNNING
        run.finish(RunStatus.SUCCESS)
        run.finish(RunStatus.FAILED)
    assert store.get_run("r1").status is RunStatus.SUCCESS


@pytest.mark.parametrize(
    ("error", "status"),
    [(KeyboardInterrupt(), RunStatus.CANCELLED), (RuntimeError("bug"), RunStatus.FAILED)],
)
def test_an_error_finishes_the_record_and_goes_on(store, error, status):
    with (
        pytest.raises(type(error)),
        recorded_run(store, run_record(RunRequest(), "r1", T0), FixedClock(T0)),
    ):
        raise error
    record = store.get_run("r1")
    assert (record.status, record.finished_at) == (status, T0)


def test_the_record_keeps_the_requests_key_and_tags(store):
    request = RunRequest.of("a", run_key="tick:2026-03-01T00:00", tags={"team": "data"})
    with recorded_run(store, run_record(request, "r1", T0), FixedClock(T0)) as run:
        run.finish(RunStatus.SUCCESS)
    record = store.get_run("r1")
    assert (record.run_key, record.tags) == ("tick:2026-03-01T00:00", {"team": "data"})
