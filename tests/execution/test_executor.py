"""The executor registry: one registration makes an executor known everywhere."""

from __future__ import annotations

import logging
from datetime import UTC, datetime

import click
import pytest

from assetflow.api import materialize
from assetflow.cli import cli
from assetflow.clock import FixedClock
from assetflow.errors import UsageError
from assetflow.execution import StepState
from assetflow.execution.executor import (
    EXECUTORS,
    ExecutorKind,
    ExecutorRegistry,
    ExecutorSetup,
    choose_executor,
    executor_names,
    register_executor,
)
from assetflow.execution.inprocess import InProcess
from assetflow.loader import load_project
from assetflow.store import open_store

T0 = datetime(2026, 3, 10, 9, 0, tzinfo=UTC)

TWO = """
    from assetflow import asset

    @asset
    def first() -> dict:
        return {"n": 1}

    @asset
    def second(first: dict) -> dict:
        return {"n": first["n"] + 1}
"""


class Recording:
    """An executor that runs steps in-process but keeps no values in this process (as a
    remote executor would), and records which steps it was handed."""

    runs_on_coordinator_thread = True
    keeps_values = False
    isolates_steps = False

    def __init__(self, setup: ExecutorSetup, handed: list[str]) -> None:
        self._inner = InProcess(setup.project, setup.retrying)
        self._handed = handed
        self.capacity = self._inner.capacity

    @property
    def busy(self) -> int:
        return self._inner.busy

    def submit(self, work):
        self._handed.append(work.step.asset)
        self._inner.submit(work)

    def wait(self, timeout):
        return self._inner.wait(timeout)

    def cancel(self, grace):
        return self._inner.cancel(grace)

    def forget(self, keys):
        self._inner.forget(keys)

    def kill(self):
        self._inner.kill()

    def close(self):
        self._inner.close()


@pytest.fixture
def handed():
    """The steps handed to the 'recording' executor, registered for the test."""
    steps: list[str] = []
    register_executor(
        ExecutorKind(
            "recording",
            lambda setup: Recording(setup, steps),
            "records the steps it runs",
            one_at_a_time=True,
        )
    )
    yield steps
    EXECUTORS.remove("recording")


def test_a_registered_executor_runs_a_plan_by_its_name(make_project, handed):
    root = make_project(TWO)
    result = materialize(project=root, clock=FixedClock(T0), executor="recording")
    assert result.success
    assert handed == ["first", "second"]
    # Its values stay where it ran: the second step read the first from storage.
    assert {r.asset: r.state for r in result.results} == {
        "first": StepState.MATERIALIZED,
        "second": StepState.MATERIALIZED,
    }
    assert "recording" in executor_names()
    assert choose_executor(load_project(root), "recording", None) == ("recording", 1)


def test_an_unknown_executor_is_refused_with_a_suggestion_and_how_to_register_one(make_project):
    project = load_project(make_project(TWO))
    expected = r"unknown executor 'multiproces'\. Did you mean 'multiprocess'\?"
    with pytest.raises(UsageError, match=expected) as e:
        choose_executor(project, "multiproces", None)
    message = str(e.value)
    assert "The executors are: multiprocess, inprocess, dask." in message
    assert "register_executor(ExecutorKind(name, create, summary))" in message


def test_an_unknown_executor_fails_before_the_run_is_recorded(make_project):
    root = make_project(TWO)
    with pytest.raises(UsageError, match="unknown executor 'threads'"):
        materialize(project=root, clock=FixedClock(T0), executor="threads")
    with open_store("sqlite", root / ".assetflow" / "metadata.sqlite") as store:
        assert store.list_runs() == []


def test_an_executor_that_cannot_run_here_falls_back_and_says_so(make_project, caplog):
    registry = ExecutorRegistry(tuple(EXECUTORS))
    registry.register(
        ExecutorKind(
            "remote",
            lambda setup: pytest.fail("an unavailable executor must not be made"),
            "runs steps elsewhere",
            unavailable=lambda: "no cluster is reachable",
            fallback="inprocess",
        )
    )
    project = load_project(make_project(TWO))
    from assetflow.execution.attempt import Retrying

    with caplog.at_level(logging.WARNING, logger="assetflow.execution.executor"):
        made = registry.create("remote", ExecutorSetup(project, 1, Retrying(FixedClock(T0))))
    assert isinstance(made, InProcess)
    assert "the remote executor cannot run here (no cluster is reachable): using inprocess" in (
        caplog.text
    )


def test_the_clis_executor_choices_are_the_registry():
    materialize_command = cli.commands["materialize"]
    option = next(p for p in materialize_command.params if p.name == "executor")
    assert isinstance(option.type, click.Choice)
    assert tuple(option.type.choices) == executor_names()
    assert set(executor_names()) >= {"multiprocess", "inprocess"}
