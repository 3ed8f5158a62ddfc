"""Pools as Dask resources (`pool_resources = true`): steps of a pool run only on the Dask
workers declaring it, the run's local cluster declares every pool, and a pool no worker
declares stops the run before any step starts."""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import dask
import pytest
from distributed import Client, Nanny, Scheduler, SpecCluster

from assetflow.api import materialize
from assetflow.clock import FixedClock
from assetflow.errors import UsageError
from assetflow.execution import RunCancelled, RunControl, StepState, execute_plan
from assetflow.execution.dask.resources import wait_for_pool_workers
from assetflow.loader import load_project
from assetflow.request import RunRequest
from assetflow.services.planning import make_plan
from assetflow.store import RunStatus, open_store

T0 = datetime(2026, 3, 10, 9, 0, tzinfo=UTC)
#: How long the cluster's workers get to join.
START_TIMEOUT_S = 60


@dataclass
class Mixed:
    """A cluster of two worker processes, of which only one declares the resource "db"."""

    address: str
    client: Client

    def resources_by_pid(self) -> dict[int, dict[str, float]]:
        """The resources each worker process declares now, by its pid."""
        pids = self.client.run(os.getpid)
        workers = self.client.scheduler_info(n_workers=-1)["workers"]
        return {int(pids[address]): workers[address]["resources"] for address in pids}


@pytest.fixture(scope="module")
def mixed_cluster() -> Iterator[Mixed]:
    def worker(**options: object) -> dict[str, object]:
        return {"cls": Nanny, "options": {"nthreads": 1, "host": "127.0.0.1", **options}}

    # As the executor's own local cluster: a task whose worker died is never run again.
    with dask.config.set({"distributed.scheduler.allowed-failures": 0}):
        cluster = SpecCluster(
            scheduler={
                "cls": Scheduler,
                "options": {"host": "127.0.0.1", "dashboard_address": ":0"},
            },
            workers={"plain": worker(), "db": worker(resources={"db": 1})},
            silence_logs=logging.ERROR,
        )
    client = Client(cluster, set_as_default=False)
    try:
        client.wait_for_workers(2, timeout=START_TIMEOUT_S)
        yield Mixed(cluster.scheduler_address, client)
    finally:
        client.close()
        cluster.close()


def config(address: str | None, pools: str = "db = 2") -> str:
    dask_table = f'address = "{address}"\n' if address else ""
    return (
        '[tool.assetflow]\nmodules = ["assets"]\n'
        f"[tool.assetflow.pools]\n{pools}\n"
        f"[tool.assetflow.dask]\n{dask_table}pool_resources = true\nconnect_timeout = 5\n"
    )


def stored(root: Path, name: str) -> dict:
    return json.loads((root / ".assetflow" / "data" / f"{name}.json").read_text())


POOLED = """
    import os
    from pathlib import Path

    from assetflow import asset

    HERE = Path(__file__).parent

    def where() -> dict:
        return {"pid": os.getpid(), "dask_worker": os.getppid()}

    @asset(pool="db")
    def orders() -> dict:
        return where()

    @asset(pool="db")
    def customers() -> dict:
        return where()

    @asset(pool="db", retries=1, retry_delay=0)
    def loaded(orders: dict, customers: dict) -> dict:
        # Its first attempt takes its Dask worker down: the step is submitted again,
        # and waits for a worker declaring the pool (the restarted one).
        with (HERE / "loaded.ran").open("a") as ran:
            ran.write("x")
        if len((HERE / "loaded.ran").read_text()) == 1:
            os.kill(os.getppid(), 9)
        return where()

    @asset
    def report(loaded: dict) -> dict:
        return where()

    @asset
    def free() -> dict:
        return where()
"""


def test_steps_of_a_pool_run_only_on_workers_declaring_it_even_when_resubmitted(
    make_project, mixed_cluster
):
    root = make_project(POOLED, config=config(mixed_cluster.address))
    declared = mixed_cluster.resources_by_pid()  # the db worker is restarted during the run
    started = time.monotonic()
    result = materialize(project=root, clock=FixedClock(T0), executor="dask", workers=2)
    steps = {r.asset: r for r in result.results}
    assert result.success, {name: step.message for name, step in steps.items()}
    assert steps["loaded"].attempts == 2  # one lost with its worker, one that ran
    assert (root / "loaded.ran").read_text() == "xx"
    assert time.monotonic() - started < 20  # no wait on the worker that died
    declared.update(mixed_cluster.resources_by_pid())
    for name in ("orders", "customers", "loaded"):
        # The worker it ran on declares the pool (for "loaded": the restarted one).
        assert declared[stored(root, name)["dask_worker"]] == {"db": 1}, name
    for name in ("report", "free"):  # no pool: any worker
        assert stored(root, name)["dask_worker"] in declared


GPU = """
    from assetflow import asset

    @asset(pool="gpu")
    def embeddings() -> dict:
        return {}

    @asset(pool="gpu")
    def clusters(embeddings: dict) -> dict:
        return {}

    @asset(pool="db")
    def orders() -> dict:
        return {}
"""


def test_a_pool_no_worker_declares_stops_the_run_before_any_step_starts(
    make_project, mixed_cluster
):
    root = make_project(GPU, config=config(mixed_cluster.address, pools="db = 1\ngpu = 1"))
    with pytest.raises(UsageError) as raised:
        materialize(project=root, clock=FixedClock(T0), executor="dask")
    message = raised.value.format_message()
    address = mixed_cluster.address
    assert message.startswith(
        "the steps of pool 'gpu' (assets 'clusters', 'embeddings') can run only on a Dask "
        "worker declaring the resource 'gpu' (pool_resources is on in [tool.assetflow.dask]), "
        f"and no worker of the scheduler at {address} declares it. Its workers: "
    )
    assert "(db=1)" in message
    assert "(no resources)" in message
    assert f'`dask worker {address} --resources "gpu=1"`' in message
    assert "or set pool_resources = false in [tool.assetflow.dask]" in message
    assert not (root / ".assetflow" / "data").exists()
    # A run whose steps need only pools that workers declare goes ahead.
    assert materialize("orders", project=root, clock=FixedClock(T0), executor="dask").success


LOCAL = """
    import os

    from assetflow import asset

    @asset(pool="db")
    def orders() -> dict:
        return {"dask_worker": os.getppid()}

    @asset(pool="gpu")
    def embeddings(orders: dict) -> dict:
        return {"dask_worker": os.getppid()}

    @asset
    def free() -> dict:
        return {"dask_worker": os.getppid()}
"""


def test_the_local_cluster_of_a_run_declares_every_pool_so_pool_steps_just_run(make_project):
    root = make_project(LOCAL, config=config(None, pools="db = 1\ngpu = 2"))
    result = materialize(project=root, clock=FixedClock(T0), executor="dask", workers=2)
    assert result.success, [r.message for r in result.results]
    assert {r.asset: r.state for r in result.results} == {
        "orders": StepState.MATERIALIZED,
        "embeddings": StepState.MATERIALIZED,
        "free": StepState.MATERIALIZED,
    }


def test_every_missing_pool_is_named_with_its_assets_and_a_declared_one_is_not(mixed_cluster):
    needed = {"db": ["orders"], "gpu": ["embeddings"], "web": ["links", "pages"]}
    with pytest.raises(UsageError) as raised:
        wait_for_pool_workers(mixed_cluster.client, needed, mixed_cluster.address, wait=0)
    message = raised.value.format_message()
    assert message.startswith(
        "the steps of pools 'gpu' (asset 'embeddings') and 'web' (assets 'links', 'pages') "
        "can run only on Dask workers declaring those pools as resources"
    )
    assert "'orders'" not in message
    assert f'`dask worker {mixed_cluster.address} --resources "gpu=1,web=1"`' in message
    # A cluster declaring them all: nothing to say.
    wait_for_pool_workers(mixed_cluster.client, {"db": ["orders"]}, mixed_cluster.address)


SLOW_POOLED = """
    import time
    from pathlib import Path

    from assetflow import asset

    HERE = Path(__file__).parent

    def slow(name: str) -> dict:
        (HERE / f"{name}.started").touch()
        time.sleep(30)
        return {}

    @asset(pool="db")
    def first() -> dict:
        return slow("first")

    @asset(pool="db")
    def second() -> dict:
        return slow("second")
"""


class CancelOnceStarted:
    """A heartbeat hook that asks for the run to be cancelled once a step has started."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.cancelled_at: float | None = None

    def __call__(self, at: datetime) -> bool:
        if self.cancelled_at is None and any(self.root.glob("*.started")):
            self.cancelled_at = time.monotonic()
        return self.cancelled_at is not None


def test_a_cancel_stops_a_step_of_a_pool_and_the_one_waiting_for_its_resource(
    make_project, mixed_cluster
):
    # Both steps are submitted (the pool's size is 2), but the only worker declaring
    # "db" has one unit: one runs, the other waits in Dask for the unit.
    root = make_project(SLOW_POOLED, config=config(mixed_cluster.address))
    project = load_project(root)
    hook = CancelOnceStarted(root)
    with open_store("sqlite", root / ".assetflow" / "metadata.sqlite") as store:
        context = make_plan(project, store, clock=FixedClock(T0))
        with pytest.raises(RunCancelled) as cancelled:
            execute_plan(
                project,
                context.plan,
                store,
                context.snapshot,
                RunRequest(executor="dask", workers=2),
                run_id="r1",
                clock=FixedClock(T0),
                control=RunControl(hook, interval=0.05),
            )
    assert hook.cancelled_at is not None
    assert time.monotonic() - hook.cancelled_at < 5  # not the 30 s a step sleeps
    result = cancelled.value.result
    assert result.status is RunStatus.CANCELLED
    assert {r.asset: r.state for r in result.results} == {
        "first": StepState.CANCELLED,
        "second": StepState.CANCELLED,
    }
    assert len(list(root.glob("*.started"))) == 1  # the waiting one never started
    assert not (root / ".assetflow" / "data").exists()
