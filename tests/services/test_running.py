"""The running service: materialize and check as recorded runs of a RunRequest."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from assetflow import RunRequest
from assetflow.api import load
from assetflow.clock import FixedClock
from assetflow.services import running
from assetflow.services.stores import open_project_store
from assetflow.store.records import RunStatus

T0 = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)

CHECKED = """
    from assetflow import asset, check

    @asset
    def numbers() -> list:
        return [1, 2, 3]

    @check(asset="numbers")
    def three(numbers: list) -> bool:
        return len(numbers) == 3
"""


@pytest.fixture
def project(make_project):
    return load(make_project(CHECKED))


def test_materialize_records_the_requests_trigger_and_selection(project):
    request = RunRequest("numbers", trigger="schedule")
    result = running.materialize(project, request, clock=FixedClock(T0))
    assert result.success
    with open_project_store(project) as store:
        record = store.get_run(result.run_id)
    assert (record.trigger, record.selection, record.status) == (
        "schedule",
        "numbers",
        RunStatus.SUCCESS,
    )


def test_a_check_run_is_recorded_from_start_to_end(project):
    running.materialize(project, RunRequest(), clock=FixedClock(T0))
    done = running.check(project, RunRequest(trigger="cli"), clock=FixedClock(T0))
    assert [result.check for result in done.results] == ["three"]
    assert not done.has_blocking_failure
    with open_project_store(project) as store:
        record = store.get_run(done.run_id)
    assert (record.trigger, record.status, record.finished_at) == ("check", RunStatus.SUCCESS, T0)


def test_a_check_run_that_cannot_read_its_output_is_recorded_failed_not_left_running(project):
    running.materialize(project, RunRequest(), clock=FixedClock(T0))
    for path in (project.state_dir / "data").glob("numbers*"):
        path.unlink()  # the stored value is gone: reading it back fails
    with pytest.raises(Exception, match="numbers"):
        running.check(project, RunRequest(), clock=FixedClock(T0))
    with open_project_store(project) as store:
        (record,) = store.list_runs(status=RunStatus.FAILED)
    assert record.trigger == "check"
    assert record.finished_at == T0


def test_a_check_run_keeps_a_heartbeat_and_records_its_host(project):
    running.materialize(project, RunRequest(), clock=FixedClock(T0))
    done = running.check(project, RunRequest(), clock=FixedClock(T0))
    with open_project_store(project) as store:
        record = store.get_run(done.run_id)
    assert record.heartbeat_at == T0  # beaten at least once, at the run's clock
    assert record.host
