"""RunControl: each run is cancelled on its own, by its control, a signal or its heartbeat."""

from __future__ import annotations

import itertools
import logging
import os
import signal
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from assetflow.api import materialize
from assetflow.clock import FixedClock
from assetflow.execution import RunCancelled, RunControl, StepState, execute_plan
from assetflow.execution.control import HEARTBEAT_S
from assetflow.loader import load_project
from assetflow.request import RunRequest
from assetflow.services.planning import make_plan
from assetflow.store import RunStatus, open_store

T0 = datetime(2026, 3, 10, 9, 0, tzinfo=UTC)
#: How long a test waits for something another thread or process does.
PATIENCE_S = 20.0

HELD = """
    import time
    from pathlib import Path

    from assetflow import asset

    HERE = Path(__file__).parent

    @asset
    def held() -> dict:
        (HERE / "held.started").touch()
        while not (HERE / "release").exists():
            time.sleep(0.01)
        print("held: released")
        return {"v": 1}

    @asset
    def after(held: dict) -> dict:
        return held
"""

SLEEPING = """
    import time
    from pathlib import Path

    from assetflow import asset

    HERE = Path(__file__).parent

    @asset
    def sleeping() -> dict:
        (HERE / "sleeping.started").touch()
        time.sleep(30)
        return {}
"""

CHAIN = """
    from assetflow import asset

    @asset
    def first() -> dict:
        print("first: running")
        return {"n": 1}

    @asset
    def second(first: dict) -> dict:
        return {"n": first["n"] + 1}
"""


def wait_for(path: Path) -> None:
    deadline = time.monotonic() + PATIENCE_S
    while not path.exists():
        assert time.monotonic() < deadline, f"{path.name} did not appear"
        time.sleep(0.01)


def store_of(root: Path):
    return open_store("sqlite", root / ".assetflow" / "metadata.sqlite")


def execute(root: Path, control: RunControl, run_id: str = "r1"):
    """Plan everything and run it in-process with `control`, as `materialize` does."""
    project = load_project(root)
    clock = FixedClock(T0)
    with store_of(root) as store:
        context = make_plan(project, store, clock=clock)
        return execute_plan(
            project,
            context.plan,
            store,
            context.snapshot,
            RunRequest(executor="inprocess"),
            run_id=run_id,
            clock=clock,
            control=control,
        )


def states(result):
    return {r.asset: r.state for r in result.results}


def test_two_runs_in_two_threads_are_cancelled_one_at_a_time(make_project):
    held = make_project(HELD, name="held")
    other = make_project(CHAIN, name="other")
    control = RunControl()
    outcome: dict[str, object] = {}

    def run_held() -> None:
        try:
            outcome["held"] = execute(held, control)
        except RunCancelled as cancelled:
            outcome["held"] = cancelled

    held_thread = threading.Thread(target=run_held)
    held_thread.start()
    wait_for(held / "held.started")
    # The other run starts and ends while the held one is in its step.
    other_thread = threading.Thread(
        target=lambda: outcome.update(other=materialize(project=other, clock=FixedClock(T0)))
    )
    other_thread.start()
    other_thread.join(PATIENCE_S)
    assert outcome["other"].success
    control.cancel()
    (held / "release").touch()
    held_thread.join(PATIENCE_S)
    cancelled = outcome["held"]
    assert isinstance(cancelled, RunCancelled)
    assert cancelled.result.status is RunStatus.CANCELLED
    assert states(cancelled.result) == {"held": StepState.CANCELLED, "after": StepState.CANCELLED}
    with store_of(held) as store:
        assert store.get_run("r1").status is RunStatus.CANCELLED
        logs = store.step_logs("r1")
    # Still captured after the other run ended and took its capture down.
    assert "held: released" in logs[0].text
    assert not (held / ".assetflow" / "data" / "held.json").exists()
    with store_of(other) as store:
        assert [run.status for run in store.list_runs()] == [RunStatus.SUCCESS]


def test_a_cancel_seen_by_the_heartbeat_stops_a_step_on_the_main_thread_within_a_second(
    make_project,
):
    root = make_project(SLEEPING)
    calls: list[datetime] = []
    flipped: list[float] = []

    def heartbeat(at: datetime) -> bool:
        """Records the beat; a cancel is asked for once the step has started."""
        calls.append(at)
        if not flipped and (root / "sleeping.started").exists():
            flipped.append(time.monotonic())
        return bool(flipped)

    with pytest.raises(RunCancelled) as cancelled:
        execute(root, RunControl(heartbeat))
    stopped_after = time.monotonic() - flipped[0]
    assert stopped_after < 1.0
    assert cancelled.value.result.status is RunStatus.CANCELLED
    assert states(cancelled.value.result) == {"sleeping": StepState.CANCELLED}
    assert set(calls) == {T0}
    assert len(calls) <= 2 + 1 / HEARTBEAT_S  # one at the start, then one each HEARTBEAT_S


def test_the_heartbeat_is_called_at_most_every_interval(make_project):
    root = make_project(
        """
        import time

        from assetflow import asset

        @asset
        def half_a_second() -> dict:
            time.sleep(0.5)
            return {}
        """
    )
    beats: list[float] = []

    def heartbeat(at: datetime) -> bool:
        beats.append(time.monotonic())
        return False

    assert execute(root, RunControl(heartbeat, interval=0.1)).success
    assert len(beats) >= 3
    gaps = [later - earlier for earlier, later in itertools.pairwise(beats)]
    assert min(gaps) >= 0.09


def test_a_heartbeat_that_raises_is_logged_and_the_run_goes_on(make_project, caplog):
    root = make_project(CHAIN)

    def heartbeat(at: datetime) -> bool:
        raise OSError("the store is unreachable")

    with caplog.at_level(logging.WARNING, logger="assetflow.execution.control"):
        result = execute(root, RunControl(heartbeat))
    assert result.success
    assert "could not record the run's heartbeat" in caplog.text


def test_ctrl_c_cancels_the_run_it_interrupts(make_project):
    root = make_project(SLEEPING)

    def press_ctrl_c() -> None:
        wait_for(root / "sleeping.started")
        os.kill(os.getpid(), signal.SIGINT)

    presser = threading.Thread(target=press_ctrl_c)
    presser.start()
    control = RunControl()
    started = time.monotonic()
    with pytest.raises(RunCancelled) as cancelled:
        execute(root, control)
    presser.join()
    assert time.monotonic() - started < 10
    assert cancelled.value.exit_code == 130
    assert control.signum == signal.SIGINT
    assert states(cancelled.value.result) == {"sleeping": StepState.CANCELLED}
    # The run's handlers are gone: the test runner's own are back.
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_a_control_cancelled_before_the_run_starts_no_step(make_project):
    root = make_project(CHAIN)
    control = RunControl()
    control.cancel()
    with pytest.raises(RunCancelled) as cancelled:
        execute(root, control)
    assert states(cancelled.value.result) == {
        "first": StepState.CANCELLED,
        "second": StepState.CANCELLED,
    }
    assert cancelled.value.exit_code == 143
