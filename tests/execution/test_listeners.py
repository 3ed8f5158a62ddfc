"""Run listeners: several hear one run; one that breaks fails neither the run nor the others."""

from __future__ import annotations

import logging
from datetime import UTC, datetime

import pytest

from assetflow.clock import FixedClock
from assetflow.execution import NullListener, execute_plan, fan_out
from assetflow.loader import load_project
from assetflow.request import RunRequest
from assetflow.services.planning import make_plan
from assetflow.store import RunStatus, open_store

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
    """Keeps what it hears, as (event, name) pairs."""

    def __init__(self) -> None:
        self.events: list[tuple[str, str]] = []

    def run_started(self, run_id, plan):
        self.events.append(("run_started", run_id))

    def step_started(self, step):
        self.events.append(("step_started", step.asset))

    def step_waiting(self, step, message):
        self.events.append(("step_waiting", step.asset))

    def step_finished(self, result):
        self.events.append(("step_finished", result.asset))

    def run_finished(self, result):
        self.events.append(("run_finished", result.status))


class Broken:
    """A listener that raises on every event (a display whose terminal went away)."""

    def run_started(self, run_id, plan):
        raise OSError("the terminal is gone")

    def step_started(self, step):
        raise OSError("the terminal is gone")

    def step_waiting(self, step, message):
        raise OSError("the terminal is gone")

    def step_finished(self, result):
        raise OSError("the terminal is gone")

    def run_finished(self, result):
        raise OSError("the terminal is gone")


class Ticking(Recording):
    def __init__(self) -> None:
        super().__init__()
        self.ticks = 0

    def tick(self) -> None:
        self.ticks += 1


#: What a listener hears of a successful run of TWO, in order.
HEARD_IN_ORDER = [
    ("run_started", "r1"),
    ("step_started", "first"),
    ("step_finished", "first"),
    ("step_started", "second"),
    ("step_finished", "second"),
    ("run_finished", RunStatus.SUCCESS),
]


def run_with(root, listeners, request: RunRequest | None = None):
    project = load_project(root)
    clock = FixedClock(T0)
    request = request or RunRequest()
    with open_store("sqlite", root / ".assetflow" / "metadata.sqlite") as store:
        context = make_plan(project, store, request, clock=clock)
        return execute_plan(
            project,
            context.plan,
            store,
            context.snapshot,
            request,
            run_id="r1",
            clock=clock,
            listeners=listeners,
        )


def test_every_listener_hears_every_event_in_order(make_project):
    first, second = Recording(), Recording()
    result = run_with(make_project(TWO), [first, second])
    assert result.success
    assert first.events == HEARD_IN_ORDER
    assert second.events == first.events


@pytest.mark.parametrize("executor", ["inprocess", "multiprocess"])
def test_a_steps_end_is_told_once_committed_and_before_what_it_unblocks(make_project, executor):
    # With workers, `second` starts before `first` is recorded (the coordinator writes
    # while the worker runs it); the listeners still hear of `first` only once its
    # record is committed (read here through a connection of its own), and in order.
    root = make_project(TWO)

    class Checking(Recording):
        def step_finished(self, result):
            with open_store("sqlite", root / ".assetflow" / "metadata.sqlite") as reader:
                committed = reader.latest_states_of([(result.asset, None)])
            self.events.append(("step_finished" if committed else "told first", result.asset))

    heard = Checking()
    workers = 2 if executor == "multiprocess" else None
    result = run_with(root, [heard], RunRequest(executor=executor, workers=workers))
    assert result.success
    assert heard.events == HEARD_IN_ORDER


def test_a_listener_that_raises_is_logged_and_the_run_and_the_others_go_on(make_project, caplog):
    after = Recording()
    with caplog.at_level(logging.WARNING, logger="assetflow.execution.listeners"):
        result = run_with(make_project(TWO), [Broken(), after])
    assert result.success
    assert len(after.events) == 6
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 6  # one per event, each naming the listener
    assert warnings[0].getMessage() == "run listener Broken failed in run_started; the run goes on"
    assert "the terminal is gone" in caplog.text  # with its traceback


def test_tick_goes_to_the_listeners_that_have_it():
    ticking, plain = Ticking(), Recording()
    listeners = fan_out([ticking, plain, NullListener()])
    listeners.tick()
    listeners.tick()
    assert ticking.ticks == 2
    assert fan_out(listeners) is listeners
    assert len(listeners) == 3


class Writing(Recording):
    """Saves one code source per batch it hears, inside the batch's unit of work, and
    notes whether a unit was open (the store's own write joined it)."""

    def __init__(self, fail_on: str | None = None) -> None:
        super().__init__()
        self.batches: list[tuple[str, ...]] = []
        self.fail_on = fail_on

    def recorded(self, batch, store):
        kinds = tuple(f"{event.asset}:{event.kind}" for event in batch.events)
        if batch.started is not None:
            kinds = ("run:started", *kinds)
        if batch.ended is not None:
            kinds = (*kinds, f"run:{batch.ended.status}")
        self.batches.append(kinds)
        store.save_code(f"batch-{len(self.batches)}", "\n".join(kinds))
        if self.fail_on and any(self.fail_on in kind for kind in kinds):
            raise RuntimeError("the outbox is broken")


def test_a_recording_listener_hears_each_batch_inside_its_transaction(make_project):
    writer = Writing()
    root = make_project(TWO)
    assert run_with(root, [writer]).success
    assert writer.batches == [
        ("run:started",),
        ("first:materialized",),
        ("second:materialized",),
        ("run:success",),
    ]
    with open_store("sqlite", root / ".assetflow" / "metadata.sqlite") as store:
        assert store.get_code("batch-3") == "second:materialized"
        assert store.get_code("batch-4") == "run:success"
        assert store.latest_states_of([("second", None)])  # the batch itself was written


def test_a_recording_listener_that_raises_leaves_the_batch_written(make_project, caplog):
    writer = Writing(fail_on="first")
    root = make_project(TWO)
    with caplog.at_level(logging.WARNING, logger="assetflow.execution.listeners"):
        assert run_with(root, [writer]).success
    assert "run listener Writing failed in recorded" in caplog.text
    with open_store("sqlite", root / ".assetflow" / "metadata.sqlite") as store:
        assert set(store.latest_states_of([("first", None), ("second", None)])) == {
            ("first", None),
            ("second", None),
        }


def test_a_failed_step_and_its_skipped_downstream_are_two_batches(make_project):
    writer = Writing()
    root = make_project(TWO.replace('return {"n": 1}', 'raise ValueError("no")'))
    assert not run_with(root, [writer]).success
    assert writer.batches == [
        ("run:started",),
        ("first:failed",),
        ("second:skipped",),
        ("run:failed",),
    ]
