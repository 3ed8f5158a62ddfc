"""The Dask executor beyond the contract suite: a lost Dask worker, the project loaded once
per run, the local cluster of a run, and Dask never imported unless asked for."""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from assetflow.api import materialize
from assetflow.clock import FixedClock
from assetflow.config import DaskSettings
from assetflow.execution import StepState
from assetflow.execution.dask.executor import DaskExecutor
from assetflow.execution.executor import EXECUTORS
from assetflow.store import EventKind, open_store

T0 = datetime(2026, 3, 10, 9, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def dask_cluster() -> Iterator[str]:
    """A cluster of two single-threaded worker processes whose scheduler never reschedules
    a task whose worker died (as the executor's own local cluster is)."""
    from assetflow.execution.dask.cluster import start_local_cluster

    cluster = start_local_cluster(2)
    try:
        yield cluster.scheduler_address
    finally:
        cluster.close()


@pytest.fixture
def on_cluster(dask_cluster: str) -> Iterator[str]:
    """The dask executor, bound to the module's cluster for the test."""
    registered = EXECUTORS.get("dask")
    EXECUTORS.register(
        dataclasses.replace(
            registered,
            create=lambda setup: DaskExecutor(
                setup.project, setup.workers, DaskSettings(address=dask_cluster), setup.retrying
            ),
        )
    )
    try:
        yield "dask"
    finally:
        EXECUTORS.register(registered)


def by_asset(result):
    return {r.asset: r for r in result.results}


def test_importing_the_cli_does_not_import_dask():
    imported = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", "import assetflow.cli"],
        capture_output=True,
        text=True,
        check=True,
    ).stderr
    modules = {line.split("|")[-1].strip().split(".")[0] for line in imported.splitlines()}
    assert "assetflow" in modules
    assert not modules & {"dask", "distributed"}


LOSES_ITS_WORKER = """
    import os
    import signal
    from pathlib import Path

    from assetflow import asset

    HERE = Path(__file__).parent

    def ran(name: str) -> None:
        with (HERE / f"{name}.ran").open("a") as file:
            file.write("x")

    @asset
    def doomed() -> dict:
        ran("doomed")
        os.kill(os.getppid(), signal.SIGKILL)  # the Dask worker this step runs on
        return {}

    @asset(retries=1, retry_delay=0)
    def survives() -> dict:
        ran("survives")
        if len((HERE / "survives.ran").read_text()) == 1:
            os.kill(os.getppid(), signal.SIGKILL)
        return {"ok": True}

    @asset
    def fine() -> dict:
        return {"ok": True}
"""


@pytest.fixture(params=["a cluster", "the run's own local cluster"])
def any_cluster(request: pytest.FixtureRequest) -> str:
    """The dask executor on the module's cluster, or on the local cluster it starts (where
    one more step per worker waits on the scheduler)."""
    if request.param == "a cluster":
        return str(request.getfixturevalue("on_cluster"))
    return "dask"


def test_a_lost_dask_worker_is_one_failed_attempt_retried_by_the_assets_policy(
    make_project, any_cluster
):
    root = make_project(LOSES_ITS_WORKER)
    result = materialize(project=root, clock=FixedClock(T0), executor=any_cluster, workers=2)
    steps = by_asset(result)
    assert steps["doomed"].state is StepState.FAILED
    assert steps["doomed"].attempts == 1
    assert "the Dask worker running asset 'doomed' was lost" in steps["doomed"].message
    assert (root / "doomed.ran").read_text() == "x"  # Dask did not run it again
    assert steps["survives"].state is StepState.MATERIALIZED
    assert steps["survives"].attempts == 2
    assert (root / "survives.ran").read_text() == "xx"
    assert steps["fine"].state is StepState.MATERIALIZED
    with open_store("sqlite", root / ".assetflow" / "metadata.sqlite") as store:
        events = store.run_events(result.run_id)
    retried = [(e.asset, e.attempt) for e in events if e.kind is EventKind.RETRIED]
    assert retried == [("survives", 1)]


LOSES_ITS_WORKER_THEN_RAISES = """
    import os
    import signal
    import time
    from pathlib import Path

    from assetflow import asset

    HERE = Path(__file__).parent

    @asset(retries=1, retry_delay=0)
    def flaky() -> dict:
        with (HERE / "flaky.ran").open("a") as file:
            file.write("x")
        if len((HERE / "flaky.ran").read_text()) == 1:
            os.kill(os.getppid(), signal.SIGKILL)  # the Dask worker this attempt runs on
            # Its own end follows (its parent's death): raising first would let this
            # process retry it before it is gone.
            time.sleep(30)
        raise RuntimeError("the API is down")
"""


def test_a_lost_attempt_counts_against_the_retries_of_the_attempts_after_it(
    make_project, on_cluster
):
    """retries=1 is two attempts in all: one lost with its worker, one that raises; the
    submission after the lost attempt goes on counting rather than starting again at 1."""
    root = make_project(LOSES_ITS_WORKER_THEN_RAISES)
    result = materialize(project=root, clock=FixedClock(T0), executor=on_cluster, workers=2)
    step = by_asset(result)["flaky"]
    assert step.state is StepState.FAILED
    assert "the API is down" in step.message
    assert step.attempts == 2
    assert (root / "flaky.ran").read_text() == "xx"


COUNTS_IMPORTS = """
    from pathlib import Path

    from assetflow import asset

    with (Path(__file__).parent / "imports").open("a") as imports:
        imports.write("x")

    @asset
    def a() -> dict:
        return {}

    @asset
    def b(a: dict) -> dict:
        return {}

    @asset
    def c(a: dict) -> dict:
        return {}

    @asset
    def d(b: dict, c: dict) -> dict:
        return {}

    @asset
    def e(d: dict) -> dict:
        return {}

    @asset
    def f(e: dict) -> dict:
        return {}
"""


def test_the_project_is_loaded_once_per_run_on_each_worker(make_project, on_cluster):
    root = make_project(COUNTS_IMPORTS)
    result = materialize(project=root, clock=FixedClock(T0), executor=on_cluster, workers=2)
    assert result.success
    # Once here, once on each of the two workers: not once per step.
    assert len((root / "imports").read_text()) <= 3


def test_without_an_address_a_run_has_a_local_cluster_of_its_own(make_project):
    root = make_project(COUNTS_IMPORTS)
    result = materialize(project=root, clock=FixedClock(T0), executor="dask", workers=2)
    assert result.success
    assert {r.worker for r in result.results if r.worker} != set()


CHAIN = """
    from assetflow import asset

    @asset
    def made() -> dict:
        return {"pair": (1, 2)}  # a tuple in memory, a list once stored as JSON

    @asset
    def reads_made(made: dict) -> dict:
        return {"seen_as": type(made["pair"]).__name__}
"""


def stored(root, name: str):
    return json.loads((root / ".assetflow" / "data" / f"{name}.json").read_text())


def test_an_output_stays_in_memory_on_its_worker_for_the_step_reading_it(make_project, on_cluster):
    root = make_project(CHAIN)
    result = materialize(project=root, clock=FixedClock(T0), executor=on_cluster, workers=2)
    assert result.success
    assert stored(root, "reads_made") == {"seen_as": "tuple"}  # not read back from made.json
    made, reads = sorted(result.results, key=lambda r: r.asset)
    assert made.worker == reads.worker  # sent where the output was kept
    again = materialize(
        "reads_made", project=root, clock=FixedClock(T0), executor=on_cluster, force=True
    )
    assert again.success
    assert stored(root, "reads_made") == {"seen_as": "list"}  # alone, it reads storage


SOURCED = """
    from assetflow import asset, source

    @source
    def api_version() -> str:
        return "v7"

    @asset
    def uses_source(api_version: str) -> dict:
        return {"version": api_version}
"""


def test_source_values_travel_with_the_task(make_project, on_cluster):
    root = make_project(SOURCED)
    assert materialize(project=root, clock=FixedClock(T0), executor=on_cluster).success
    assert stored(root, "uses_source") == {"version": "v7"}


STUCK = """
    import time

    from assetflow import asset

    @asset(timeout=0.5)
    def stuck() -> dict:
        while True:  # swallows the timeout, as code stuck in C would never see it
            try:
                time.sleep(10)
            except BaseException:
                pass

    @asset
    def fine() -> dict:
        return {"ok": True}
"""


def test_a_step_that_does_not_stop_after_its_timeout_has_its_process_killed(
    make_project, on_cluster
):
    root = make_project(STUCK)
    started = time.monotonic()
    result = materialize(project=root, clock=FixedClock(T0), executor=on_cluster, workers=2)
    assert time.monotonic() - started < 20
    steps = by_asset(result)
    assert steps["stuck"].state is StepState.FAILED
    assert "ran past its timeout of 0.5 s and did not stop within 5 s more" in (
        steps["stuck"].message
    )
    assert "its process was killed; nothing was written" in steps["stuck"].message
    assert steps["fine"].state is StepState.MATERIALIZED
