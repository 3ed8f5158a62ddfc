"""The executor contract: every registered executor keeps every semantic of a run.

Each test runs a real project in tmp_path on each executor of the registry, so
an executor registered later (Dask) passes the same suite by being registered.
"""

from __future__ import annotations

import dataclasses
import itertools
import json
import os
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from assetflow.api import materialize
from assetflow.clock import FixedClock
from assetflow.execution import RunCancelled, RunControl, StepState, execute_plan
from assetflow.execution.attempt import Retrying
from assetflow.execution.executor import EXECUTORS, ExecutorSetup, executor_names
from assetflow.loader import load_project
from assetflow.request import RunRequest
from assetflow.services.planning import make_plan
from assetflow.store import EventKind, RunStatus, open_store
from tests.e2e.processes import assetflow as assetflow_command

T0 = datetime(2026, 3, 10, 9, 0, tzinfo=UTC)
#: How often the heartbeat of the cancellation test beats.
BEAT_S = 0.2


@pytest.fixture(scope="module")
def dask_cluster() -> Iterator[str]:
    """The address of a Dask cluster of two single-threaded worker processes, started once
    for the module (a scheduler that never reschedules a task whose worker died)."""
    from assetflow.execution.dask.cluster import start_local_cluster

    cluster = start_local_cluster(2)
    try:
        yield cluster.scheduler_address
    finally:
        cluster.close()


@pytest.fixture(params=executor_names())
def executor(request: pytest.FixtureRequest) -> Iterator[str]:
    name = str(request.param)
    if name != "dask":
        yield name
        return
    # The Dask executor runs on the module's cluster rather than one started per run.
    from assetflow.config import DaskSettings
    from assetflow.execution.dask.executor import DaskExecutor

    address = request.getfixturevalue("dask_cluster")
    registered = EXECUTORS.get(name)
    EXECUTORS.register(
        dataclasses.replace(
            registered,
            create=lambda setup: DaskExecutor(
                setup.project, setup.workers, DaskSettings(address=address)
            ),
        )
    )
    try:
        yield name
    finally:
        EXECUTORS.register(registered)


@pytest.fixture
def clock():
    return FixedClock(T0)


def workers_for(executor: str) -> int | None:
    """Two steps at once where the executor runs several, else its default."""
    return None if EXECUTORS.get(executor).one_at_a_time else 2


def run(root: Path, clock, executor: str, **options):
    return materialize(
        project=root, clock=clock, executor=executor, workers=workers_for(executor), **options
    )


def by_asset(result):
    return {r.asset: r for r in result.results}


def store_of(root: Path):
    return open_store("sqlite", root / ".assetflow" / "metadata.sqlite")


def stored(root: Path, name: str):
    return json.loads((root / ".assetflow" / "data" / f"{name}.json").read_text())


ORDERED = """
    from pathlib import Path

    from assetflow import asset

    ORDER = Path(__file__).parent / "order"

    def seen(name: str) -> None:
        with ORDER.open("a") as order:
            order.write(name + "\\n")

    @asset
    def a() -> dict:
        seen("a")
        return {"n": 1}

    @asset
    def b(a: dict) -> dict:
        seen("b")
        return {"n": a["n"] + 1}

    @asset
    def c(b: dict) -> dict:
        seen("c")
        return {"n": b["n"] * 10}

    @asset
    def d(a: dict) -> dict:
        seen("d")
        return {"n": a["n"] - 1}
"""


def test_steps_run_after_their_inputs_and_read_them(make_project, clock, executor):
    root = make_project(ORDERED)
    result = run(root, clock, executor)
    assert result.success, [r.message for r in result.results]
    order = (root / "order").read_text().split()
    assert sorted(order) == ["a", "b", "c", "d"]
    assert order.index("a") < order.index("b") < order.index("c")
    assert order.index("a") < order.index("d")
    assert stored(root, "c") == {"n": 20}
    assert stored(root, "d") == {"n": 0}


CUTOFF = """
    from pathlib import Path

    from assetflow import asset

    RUNS = Path(__file__).parent / "down.runs"

    @asset
    def up() -> dict:
        return {"v": 1}

    @asset
    def down(up: dict) -> dict:
        with RUNS.open("a") as runs:
            runs.write("x")
        return {"v": up["v"]}
"""


def test_an_unchanged_output_cuts_off_its_downstream(make_project, clock, executor):
    root = make_project(CUTOFF)
    assert run(root, clock, executor).success
    assets = root / "assets.py"
    assets.write_text(assets.read_text().replace('{"v": 1}', '{"v": 2 - 1}'))
    again = run(root, clock, executor)
    assert again.success
    assert by_asset(again)["up"].state is StepState.MATERIALIZED  # its code changed
    assert by_asset(again)["down"].state is StepState.SKIPPED  # its input did not
    assert (root / "down.runs").read_text() == "x"


FLAKY = """
    from pathlib import Path

    from assetflow import asset

    TRIES = Path(__file__).parent / "tries"

    @asset(retries=2, retry_on=ConnectionError)
    def flaky() -> dict:
        with TRIES.open("a") as tries:
            tries.write("x")
        if len(TRIES.read_text()) == 1:
            raise ConnectionError("the first call fails")
        return {"ok": True}

    @asset
    def broken() -> dict:
        raise KeyError("not retried")
"""


def test_a_failed_attempt_is_retried_as_its_policy_says(make_project, clock, executor):
    root = make_project(FLAKY)
    result = run(root, clock, executor)
    steps = by_asset(result)
    assert steps["flaky"].state is StepState.MATERIALIZED
    assert steps["flaky"].attempts == 2
    assert steps["broken"].state is StepState.FAILED
    assert steps["broken"].attempts == 1
    with store_of(root) as store:
        retried = [e for e in store.run_events(result.run_id) if e.kind is EventKind.RETRIED]
    assert [(e.asset, e.attempt) for e in retried] == [("flaky", 1)]
    assert "the first call fails" in retried[0].message


def test_each_attempt_records_when_it_started_and_its_worker(make_project, clock, executor):
    root = make_project(FLAKY)
    made = EXECUTORS.get(executor).create(ExecutorSetup(load_project(root), 1, Retrying(clock)))
    isolates_steps = made.isolates_steps
    made.close()
    result = run(root, clock, executor)
    with store_of(root) as store:
        events = [e for e in store.run_events(result.run_id) if e.asset is not None]
    events.sort(key=lambda e: (e.asset, e.attempt))
    assert [(e.asset, e.kind, e.attempt) for e in events] == [
        ("broken", EventKind.FAILED, 1),
        ("flaky", EventKind.RETRIED, 1),
        ("flaky", EventKind.MATERIALIZED, 2),
    ]
    for each in events:
        assert each.started_at is not None
        assert each.host == socket.gethostname()
        assert each.pid is not None
        # Steps in worker processes name the worker; in-process ones, this process.
        assert (each.pid != os.getpid()) is isolates_steps
    retried, materialized = (e for e in events if e.asset == "flaky")
    assert retried.pid == materialized.pid  # the retry runs where the step runs
    # A retried attempt is a span: from its start to its failure, before the next one.
    assert retried.started_at is not None
    assert materialized.started_at is not None
    assert retried.started_at <= retried.at <= materialized.started_at
    assert retried.duration_s == (retried.at - retried.started_at).total_seconds()


TIMED = """
    import time

    from assetflow import asset

    @asset(timeout=0.5)
    def sleepy() -> dict:
        time.sleep(30)
        return {}

    @asset
    def after_sleepy(sleepy: dict) -> dict:
        return {}

    @asset
    def quick() -> dict:
        return {"ok": True}
"""


def test_an_attempt_past_its_timeout_fails_only_its_step(make_project, clock, executor):
    root = make_project(TIMED)
    started = time.monotonic()
    result = run(root, clock, executor)
    assert time.monotonic() - started < 10  # not the 30 s the asset sleeps
    steps = by_asset(result)
    assert steps["sleepy"].state is StepState.FAILED
    assert "timed out after 0.5 s" in steps["sleepy"].message
    assert steps["after_sleepy"].state is StepState.BLOCKED
    assert steps["quick"].state is StepState.MATERIALIZED
    assert not (root / ".assetflow" / "data" / "sleepy.json").exists()


POOLED = """
    import json
    import time
    from pathlib import Path

    from assetflow import asset

    SPANS = Path(__file__).parent / "spans"

    def span(name: str) -> dict:
        SPANS.mkdir(exist_ok=True)
        start = time.monotonic()
        time.sleep(0.15)
        (SPANS / name).write_text(json.dumps([start, time.monotonic()]))
        return {}

    @asset(pool="api")
    def call_a() -> dict:
        return span("call_a")

    @asset(pool="api")
    def call_b() -> dict:
        return span("call_b")

    @asset(pool="api")
    def call_c() -> dict:
        return span("call_c")
"""

POOL_CONFIG = '[tool.assetflow]\nmodules = ["assets"]\n[tool.assetflow.pools]\napi = 1\n'


def test_a_pool_caps_how_many_of_its_steps_run_at_once(make_project, clock, executor):
    root = make_project(POOLED, config=POOL_CONFIG)
    assert run(root, clock, executor).success
    spans = sorted(json.loads(path.read_text()) for path in (root / "spans").iterdir())
    assert len(spans) == 3
    for earlier, later in itertools.pairwise(spans):
        assert later[0] >= earlier[1]  # one at a time


DYING = """
    import os
    import signal

    from assetflow import asset

    @asset
    def killed() -> dict:
        os.kill(os.getpid(), signal.SIGKILL)
        return {}

    @asset
    def fine() -> dict:
        return {"ok": True}

    @asset
    def after_fine(fine: dict) -> dict:
        return fine
"""


def test_a_worker_that_dies_fails_only_its_step(make_project, clock, executor):
    root = make_project(DYING)
    made = EXECUTORS.get(executor).create(ExecutorSetup(load_project(root), 1, Retrying(clock)))
    isolates_steps = made.isolates_steps
    made.close()
    if not isolates_steps:
        _a_dying_step_ends_the_run(root, executor)
        return
    result = run(root, clock, executor)
    steps = by_asset(result)
    assert steps["killed"].state is StepState.FAILED
    assert "was killed by SIGKILL" in steps["killed"].message
    with store_of(root) as store:
        (died,) = [e for e in store.run_events(result.run_id) if e.asset == "killed"]
    assert died.pid is not None
    assert died.pid != os.getpid()  # the worker that died
    assert steps["fine"].state is StepState.MATERIALIZED
    assert steps["after_fine"].state is StepState.MATERIALIZED


def _a_dying_step_ends_the_run(root: Path, executor: str) -> None:
    """What an executor that does not isolate steps promises instead: the step that
    kills its process takes the run's process with it, and the next command records
    the run crashed, with nothing recorded as materialized after the step."""
    died = subprocess.run(
        assetflow_command(root, "materialize", "--executor", executor),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert died.returncode == -signal.SIGKILL, died.stderr
    swept = subprocess.run(
        assetflow_command(root, "runs"), capture_output=True, text=True, timeout=120
    )
    assert swept.returncode == 0, swept.stderr
    with store_of(root) as store:
        (crashed,) = store.list_runs()
        assert crashed.status is RunStatus.CRASHED
        events = store.run_events(crashed.run_id)
    assert not [e for e in events if e.asset == "killed" and e.kind is EventKind.MATERIALIZED]


SLOW = """
    import time
    from pathlib import Path

    from assetflow import asset

    HERE = Path(__file__).parent

    @asset
    def quick() -> dict:
        return {"v": 1}

    @asset
    def slow(quick: dict) -> dict:
        print("slow: starting the long part")
        (HERE / "slow.started").touch()
        time.sleep(30)
        return {"v": 1}

    @asset
    def after(slow: dict) -> dict:
        return slow
"""


class CancelOnceStarted:
    """A heartbeat hook that asks for the run to be cancelled from its `calls`-th call after
    the slow step started, as a store would once another process asked for it."""

    def __init__(self, started: Path, calls: int) -> None:
        self.started = started
        self.calls = calls
        self.at: list[datetime] = []
        self.cancelled_at: float | None = None

    def __call__(self, at: datetime) -> bool:
        self.at.append(at)
        if self.cancelled_at is None and self.started.exists():
            self.calls -= 1
            if self.calls <= 0:
                self.cancelled_at = time.monotonic()
        return self.cancelled_at is not None


def test_a_cancel_from_another_process_stops_the_run(make_project, clock, executor):
    root = make_project(SLOW)
    project = load_project(root)
    hook = CancelOnceStarted(root / "slow.started", calls=2)
    request = RunRequest(executor=executor, workers=workers_for(executor))
    with store_of(root) as store:
        context = make_plan(project, store, clock=clock)
        with pytest.raises(RunCancelled) as cancelled:
            execute_plan(
                project,
                context.plan,
                store,
                context.snapshot,
                request,
                run_id="r1",
                clock=clock,
                control=RunControl(hook, interval=BEAT_S),
            )
        assert hook.cancelled_at is not None
        assert time.monotonic() - hook.cancelled_at < 3  # not the 30 s the step sleeps
        assert set(hook.at) == {T0}  # the clock's now
        result = cancelled.value.result
        assert result.status is RunStatus.CANCELLED
        assert cancelled.value.exit_code == 143  # asked to terminate
        steps = by_asset(result)
        assert steps["quick"].state is StepState.MATERIALIZED
        assert steps["slow"].state is StepState.CANCELLED
        assert steps["after"].state is StepState.CANCELLED
        assert store.get_run("r1").status is RunStatus.CANCELLED
        logs = store.step_logs("r1")
    assert not (root / ".assetflow" / "data" / "slow.json").exists()
    assert [log.asset for log in logs] == ["slow"]  # kept though it was stopped
    assert "slow: starting the long part" in logs[0].text


CHATTY = """
    import logging

    from assetflow import asset

    @asset
    def chatty(context) -> dict:
        print("hello from chatty")
        context.log.info("an info line")
        logging.getLogger("users.own").warning("a warning of the user's logger")
        return {}

    @asset
    def quiet() -> dict:
        return {}
"""


def test_what_a_step_prints_and_logs_is_captured(make_project, clock, executor, capsys):
    root = make_project(CHATTY)
    result = run(root, clock, executor)
    assert result.success
    with store_of(root) as store:
        logs = store.step_logs(result.run_id)
    assert [log.asset for log in logs] == ["chatty"]
    assert "hello from chatty" in logs[0].text
    assert "INFO assetflow.asset.chatty: an info line" in logs[0].text
    assert "WARNING users.own: a warning of the user's logger" in logs[0].text
    assert "hello from chatty" not in capsys.readouterr().out
