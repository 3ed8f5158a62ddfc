"""The coordinator's side of the Dask executor: steps submitted as Dask tasks, and how
each ended.

Each step is one task with a key of its own (`pure=False`, no Dask retries):
Dask runs it once, on one worker, and assetflow alone decides about retries.
The task carries the step's `Work` without its spec or checks (the worker has
the project, loaded once per run by `worker.RunPlugin`) and without input
values: the worker reads inputs from storage, as multiprocess workers do.
Only this side writes metadata: the task returns what happened.
"""

from __future__ import annotations

import contextlib
import dataclasses
import itertools
import queue
import time
import uuid
from typing import TYPE_CHECKING, Any

from distributed import Future
from distributed.client import FutureCancelledError

from assetflow.errors import UsageError
from assetflow.execution.attempt import Attempts, Worker
from assetflow.execution.dask.cluster import connect, refuse_duckdb, threads
from assetflow.execution.dask.worker import (
    KILL_GRACE_S,
    ProjectNotLoaded,
    RunPlugin,
    cancel_run,
    plugin_name,
    run_step,
)
from assetflow.execution.executor import Event, StepLost, cancelled_error, idle

if TYPE_CHECKING:
    from distributed import Client, LocalCluster

    from assetflow.execution.attempt import Work
    from assetflow.keys import AssetPartition
    from assetflow.project import DaskSettings, Project


class DaskExecutor:
    """Runs a run's steps as tasks of a Dask cluster, as many at once as it has threads."""

    runs_on_coordinator_thread = False
    keeps_values = False  # outputs travel through storage
    isolates_steps = True  # each step runs in a process of its own on its worker

    def __init__(self, project: Project, workers: int, settings: DaskSettings) -> None:
        address = settings.address
        if address is not None:
            refuse_duckdb(project, address)
        self._project = project
        self._address = address
        self._client: Client
        self._cluster: LocalCluster | None
        self._client, self._cluster = connect(address, workers, settings.connect_timeout)
        self._token = uuid.uuid4().hex
        self._counter = itertools.count(1)
        self._running: dict[Future[Any], Work] = {}
        self._done: queue.SimpleQueue[Future[Any]] = queue.SimpleQueue()
        try:
            self._client.register_plugin(
                RunPlugin(project.location, self._token), name=plugin_name(self._token)
            )
        except ProjectNotLoaded as error:
            self.close()
            raise UsageError(
                f"{error}",
                hint="Each Dask worker imports the project from its directory "
                f"({project.root}), with the same Python packages: run the workers where "
                "that directory is reachable at the same path (a shared filesystem) and "
                "assetflow and the project's packages are installed.",
            ) from None
        except BaseException:
            self.close()
            raise
        self._capacity = workers if address is None else threads(self._client)

    @property
    def capacity(self) -> int:
        return self._capacity

    @property
    def busy(self) -> int:
        return len(self._running)

    def submit(self, work: Work) -> None:
        """Send a step to the cluster as a task of its own key."""
        task = dataclasses.replace(
            work,
            spec=None,  # type: ignore[arg-type]  # the worker has the project
            checks=(),
            keep=False,
            params=tuple(dataclasses.replace(param, annotation=None) for param in work.params),
        )
        key = f"assetflow-{work.step.asset}-{self._token[:8]}-{next(self._counter)}"
        try:
            future = self._client.submit(
                run_step, self._token, task, key=key, pure=False, retries=0
            )
        except Exception as error:  # an unpicklable source value, a closed client
            raise StepLost(
                f"asset '{work.step.asset}' could not be sent to the Dask cluster: {error}"
            ) from error
        self._running[future] = work
        future.add_done_callback(self._done.put)  # type: ignore[no-untyped-call]

    def wait(self, timeout: float | None) -> list[Event]:
        """How the steps that ended within `timeout` seconds ended."""
        if not self._running:
            idle(timeout)
            return []
        try:
            first = self._done.get(timeout=timeout)
        except queue.Empty:
            return []
        events: list[Event] = []
        future: Future[Any] | None = first
        while future is not None:
            event = self._event(future)
            if event is not None:
                events.append(event)
            try:
                future = self._done.get_nowait()
            except queue.Empty:
                future = None
        return events

    def _event(self, future: Future[Any]) -> Event | None:
        work = self._running.pop(future, None)
        if work is None:  # one cancel() already accounted for
            return None
        try:
            message: tuple[Any, ...] = future.result()
        except FutureCancelledError:
            return Event("cancelled", work, Attempts(cancelled_error(work)))
        except ProjectNotLoaded as error:
            return Event("done", work, Attempts(StepLost(str(error))))
        except Exception as error:  # the worker was lost (KilledWorker), or Dask failed
            return Event("done", work, Attempts(self._lost_worker(work, error)))
        kind = message[0]
        if kind == "done":
            return Event("done", work, message[1])
        if kind == "cancelled":
            attempts = Attempts(
                cancelled_error(work),
                logs=message[1],
                started_at=message[2],
                worker=Worker(*message[3]),
            )
            return Event("cancelled", work, attempts)
        if kind == "lost":
            return Event(
                "done", work, Attempts(_died(work, message[1]), worker=Worker(*message[2]))
            )
        return Event("done", work, Attempts(_stuck(work), worker=Worker(*message[1])))

    def _lost_worker(self, work: Work, error: BaseException) -> StepLost:
        text = str(error).strip() or type(error).__name__
        return StepLost(
            f"the Dask worker running asset '{work.step.asset}'"
            + (f" [{work.step.partition}]" if work.step.partition else "")
            + f" was lost before the step reported ({type(error).__name__}: {text}); nothing "
            "of its attempt was recorded.",
            hint="A Dask worker is lost when its process dies (out of memory: see the "
            "worker's log) or its machine leaves the cluster.",
        )

    def cancel(self, grace: float) -> list[Event]:
        """Stop every running step: each worker is told, its step process asked to stop
        (SIGTERM) and killed if it has not within `grace` seconds."""
        if not self._running:
            return []
        with contextlib.suppress(Exception):
            self._client.run(cancel_run, self._token)
        events: list[Event] = []
        until = time.monotonic() + grace
        while self._running and time.monotonic() < until:
            events.extend(self.wait(max(0.0, until - time.monotonic())))
        for future, work in list(self._running.items()):
            del self._running[future]
            future.cancel()  # type: ignore[no-untyped-call]
            events.append(Event("cancelled", work, Attempts(cancelled_error(work))))
        return events

    def forget(self, keys: list[AssetPartition]) -> None:
        pass  # no output is kept in memory: steps read their inputs from storage

    def kill(self) -> None:
        """Stop everything at once (a second Ctrl-C)."""
        with contextlib.suppress(Exception):
            self._client.run(cancel_run, self._token)
            self._client.cancel(list(self._running))  # type: ignore[no-untyped-call]
        self._running.clear()

    def close(self) -> None:
        """Unload the run from the workers (their step processes stop) and disconnect."""
        client = getattr(self, "_client", None)
        if client is None:
            return
        with contextlib.suppress(Exception):
            client.unregister_worker_plugin(plugin_name(self._token))
        with contextlib.suppress(Exception):
            client.close()
        if self._cluster is not None:
            with contextlib.suppress(Exception):
                self._cluster.close()
        del self._client


def _named(work: Work) -> str:
    return f"asset '{work.step.asset}'" + (
        f" [{work.step.partition}]" if work.step.partition else ""
    )


def _died(work: Work, code: int | None) -> StepLost:
    from assetflow.execution.multiprocess import _exit_text

    return StepLost(
        f"the process running {_named(work)} on its Dask worker {_exit_text(code)} before it "
        "reported; nothing of its attempt was recorded.",
        hint="If the process ran out of memory, give the Dask workers more memory or split "
        "the asset into partitions.",
    )


def _stuck(work: Work) -> StepLost:
    timeout = work.spec.timeout
    return StepLost(
        f"{_named(work)} ran past its timeout of {timeout or 0:g} s and did not stop within "
        f"{KILL_GRACE_S:g} s more (it was probably inside C code), so its process was "
        "killed; nothing was written.",
        hint="If it needs longer, raise its @asset(timeout=...).",
    )
