"""The history service: runs, one run, logs, an asset's history, status and why, as data."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from assetflow import RunRequest
from assetflow.api import load
from assetflow.clock import FixedClock
from assetflow.errors import SelectionError
from assetflow.planner.status import AssetState
from assetflow.services import history, running
from assetflow.store.records import RunStatus

T0 = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)

CHAIN = """
    from assetflow import asset

    @asset
    def numbers() -> list:
        print("counting")
        return [1, 2, 3]

    @asset
    def total(numbers: list) -> dict:
        return {"total": sum(numbers)}
"""


@pytest.fixture
def project(make_project):
    return load(make_project(CHAIN))


@pytest.fixture
def ran(project):
    return running.materialize(project, RunRequest(), clock=FixedClock(T0))


def test_runs_come_with_their_step_counts(project, ran):
    found = history.runs(project)
    assert [run.run_id for run in found.runs] == [ran.run_id]
    assert found.counts[ran.run_id] == {"materialized": 2}
    assert history.runs(project, status=RunStatus.FAILED).runs == ()


def test_one_run_by_prefix_step_by_step(project, ran):
    detail = history.run(project, ran.run_id[:8])
    assert detail.run.run_id == ran.run_id
    assert [row.label for row in detail.rows] == ["numbers", "total"]


def test_logs_of_a_run(project, ran):
    found = history.logs(project, ran.run_id, asset="numbers")
    assert found.run.run_id == ran.run_id
    assert [record.text.strip() for record in found.logs] == ["counting"]


def test_an_assets_history(project, ran):
    found = history.history(project, "total")
    assert [record.run_id for record in found.materializations] == [ran.run_id]
    assert found.checks == ()


def test_history_of_an_unknown_asset_says_which_was_meant(project):
    with pytest.raises(SelectionError, match="Did you mean 'total'"):
        history.history(project, "totl")


def test_status_and_why_read_the_same_plan(project, ran):
    states = history.status(project, RunRequest("total"))
    assert [(state.asset, state.state) for state in states] == [("total", AssetState.FRESH)]
    explanation = history.why(project, "total")
    assert (explanation.asset, explanation.partition, explanation.code_diffs) == ("total", None, {})
    assert {v.asset for v in explanation.context.plan.fresh} == {"numbers", "total"}
