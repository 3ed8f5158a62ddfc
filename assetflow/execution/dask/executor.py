"""The coordinator's side of the Dask executor: steps submitted as Dask tasks, and how
each ended.

Each step is one task with a key of its own (`pure=False`, no Dask retries):
Dask runs it once, on one worker, and assetflow alone decides about retries.
The task carries the step's `Work` without its spec or checks (the worker has
the project, loaded once per run by `worker.RunPlugin`) and without input
values: the worker reads inputs from storage, or from the memory of its step
process that made them, as multiprocess workers do. Only this side writes
metadata: the task returns what happened.
"""

from __future__ import annotations

import contextlib
import dataclasses
import itertools
import queue
import time
import uuid
from asyncio import CancelledError
from collections import Counter
from typing import TYPE_CHECKING, Any

from distributed import Future
from distributed.client import FutureCancelledError
from distributed.scheduler import KilledWorker, NoValidWorkerError

from assetflow.errors import UsageError
from assetflow.execution.attempt import Attempts, Retried, Retrying, Worker
from assetflow.execution.dask.cluster import connect, refuse_duckdb, threads
from assetflow.execution.dask.resources import (
    assets_by_pool,
    local_resources,
    step_resources,
    unrunnable,
    wait_for_pool_workers,
)
from assetflow.execution.dask.worker import (
    KILL_GRACE_S,
    ProjectNotLoaded,
    RunPlugin,
    allowed_failures,
    cancel_run,
    drop_outputs,
    plugin_name,
    run_step,
    started_topic,
)
from assetflow.execution.executor import Event, StepLost, cancelled_error, idle
from assetflow.execution.step import StepOutput

if TYPE_CHECKING:
    from datetime import datetime

    from distributed import Client, LocalCluster

    from assetflow.config import DaskSettings
    from assetflow.execution.attempt import Work
    from assetflow.keys import AssetPartition
    from assetflow.planner.plan import Plan
    from assetflow.project import Project


#: How many times a step whose worker died before it started is submitted again (no
#: attempt of it ran) before that counts as a lost attempt.
RESUBMITS = 3


#: Steps submitted beyond the cluster's threads, per thread (see DaskExecutor.__init__).
WAITING_PER_THREAD = 1


class DaskExecutor:
    """Runs a run's steps as tasks of a Dask cluster, as many at once as it has threads.

    A step whose process or Dask worker is lost before it reports has had one failed
    attempt: it is submitted again (with a new key) if its retry policy allows, after
    the policy's delay, else it fails with that attempt's error.

    With `settings.pool_resources`, each step of a pool asks for one unit of the Dask
    resource named as the pool (see `resources`), every time it is submitted.
    """

    runs_on_coordinator_thread = False
    keeps_values = False  # a worker keeps outputs for the steps it runs next
    isolates_steps = True  # each step runs in a process of its own on its worker

    def __init__(
        self,
        project: Project,
        workers: int,
        settings: DaskSettings,
        retrying: Retrying | None = None,
        plan: Plan | None = None,
    ) -> None:
        """Connect to the cluster (or start a local one) and load the project on it.

        Args:
            project: The loaded project.
            workers: The local cluster's worker processes (no address).
            settings: The `[tool.assetflow.dask]` table.
            retrying: How lost attempts wait before they are submitted again.
            plan: What the run will run: a remote cluster refuses its steps stored in
                DuckDB, and with `settings.pool_resources` some worker must declare the
                pool of each of its steps (None: every asset of the project counts).

        Raises:
            UsageError: The cluster cannot be reached or cannot load the project, a step
                stored in DuckDB with a remote cluster, or a pool no worker declares.
        """
        from assetflow.clock import SystemClock

        address = settings.address
        self._retrying = retrying or Retrying(SystemClock())
        assets = None if plan is None else {step.asset for step in plan.steps}
        if address is not None:
            # The run's steps, and the assets they read: the workers write and read them.
            read = set() if plan is None else {key[0] for step in plan.steps for key in step.inputs}
            refuse_duckdb(project, address, None if assets is None else assets | read)
        self._client: Client
        self._cluster: LocalCluster | None
        self._pool_resources = settings.pool_resources
        # A local cluster's workers each declare every pool, at its size.
        local = local_resources(project.location.config.pools) if self._pool_resources else None
        self._client, self._cluster = connect(
            address, workers, settings.connect_timeout, resources=local
        )
        self._token = uuid.uuid4().hex
        self._counter = itertools.count(1)
        self._running: dict[Future[Any], Work] = {}
        #: finished tasks and what each returned (or raised), fetched off this thread
        self._done: queue.SimpleQueue[tuple[Future[Any], Any]] = queue.SimpleQueue()
        #: when each running step's current submission was made
        self._submitted_at: dict[AssetPartition, datetime] = {}
        #: each step's attempts lost so far (their processes or workers died)
        self._lost: dict[AssetPartition, list[Retried]] = {}
        #: steps to submit again after a lost attempt: (when, work)
        self._again: list[tuple[float, Work]] = []
        #: which Dask worker keeps which step's output in memory, for the steps reading it
        self._holders: dict[AssetPartition, str] = {}
        #: outputs no step reads any more, by the worker keeping them (see `forget`)
        self._drops: dict[str, list[AssetPartition]] = {}
        #: how many times each step was submitted again because its worker died first
        self._resubmits: dict[AssetPartition, int] = {}
        try:
            if self._pool_resources:
                wait_for_pool_workers(
                    self._client,
                    assets_by_pool(project, assets),
                    _scheduler_address(address, self._cluster),
                )
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
        # As many steps more wait in the cluster as it has threads, so that a worker
        # finishing one starts the next without a round trip to this process. Pools still
        # hold (the coordinator counts submitted steps), an attempt's timeout starts where
        # it runs, and a step waiting on a worker that dies is submitted again (no attempt).
        slots = workers if address is None else threads(self._client)
        self._capacity = slots * (1 + WAITING_PER_THREAD)
        #: the scheduler runs again a task whose worker died: tasks refuse such reruns
        self._refuse_reruns = address is not None and _reruns(self._client)

    @property
    def capacity(self) -> int:
        return self._capacity

    @property
    def busy(self) -> int:
        return len(self._running) + len(self._again)

    def submit(self, work: Work) -> None:
        """Send a step to the cluster as a task of its own key."""
        task = dataclasses.replace(
            work,
            spec=None,  # type: ignore[arg-type]  # the worker has the project
            checks=(),
            params=tuple(dataclasses.replace(param, annotation=None) for param in work.params),
        )
        key = f"assetflow-{work.step.asset}-{self._token[:8]}-{next(self._counter)}"
        # A step goes where its inputs are kept in memory, if that worker is there.
        holders = Counter(self._holders[k] for k in work.step.inputs if k in self._holders)
        where = [holders.most_common(1)[0][0]] if holders else None
        resources = step_resources(work.spec.pool if self._pool_resources else None)
        if resources:
            # A hint at a worker that lacks the resource, or has died since, makes Dask
            # drop the resource too (it falls back to any worker): a step of a pool goes
            # to any worker declaring it, and reads its inputs from storage if need be.
            where = None
        try:
            future = self._client.submit(
                run_step,
                self._token,
                task,
                self._refuse_reruns,
                key=key,
                pure=False,
                retries=0,
                **({"workers": where, "allow_other_workers": True} if where else {}),
                **({"resources": resources} if resources else {}),
            )
        except Exception as error:  # an unpicklable source value, a closed client
            raise StepLost(
                f"asset '{work.step.asset}' could not be sent to the Dask cluster: {error}"
            ) from error
        self._running[future] = work
        self._submitted_at[work.step.key] = self._retrying.clock.now()
        future.add_done_callback(self._fetch)  # type: ignore[no-untyped-call]

    def _fetch(self, future: Future[Any]) -> None:
        """Bring a finished task's result here (on Dask's callback thread, so that the
        coordinator's loop does not wait for each one in turn)."""
        try:
            outcome = future.result()
        except BaseException as error:
            outcome = error
        self._done.put((future, outcome))

    def wait(self, timeout: float | None) -> list[Event]:
        """How the steps that ended within `timeout` seconds ended."""
        self._send_drops()
        events = self._submit_again()
        if self._again:
            due = max(0.0, min(when for when, _ in self._again) - time.monotonic())
            timeout = due if timeout is None else min(timeout, due)
        if not self._running:
            idle(timeout)
            return [*events, *self._submit_again()]
        try:
            first = self._done.get(timeout=timeout)
        except queue.Empty:
            return events
        done: tuple[Future[Any], Any] | None = first
        while done is not None:
            event = self._event(*done)
            if event is not None:
                events.append(event)
            try:
                done = self._done.get_nowait()
            except queue.Empty:
                done = None
        return events

    def _event(self, future: Future[Any], outcome: Any) -> Event | None:
        work = self._running.pop(future, None)
        if work is None:  # one cancel() already accounted for
            return None
        try:
            if isinstance(outcome, BaseException):
                raise outcome
            message: tuple[Any, ...] = outcome
        except (FutureCancelledError, CancelledError):
            return Event("cancelled", work, Attempts(cancelled_error(work)))
        except ProjectNotLoaded as error:
            return Event("done", work, self._with_lost(work, Attempts(StepLost(str(error)))))
        except KilledWorker as error:  # its Dask worker died (or left)
            self._gone(error)
            if not self._had_started(future.key) and self._resubmit(work):
                return None  # it was waiting on that worker: nothing of it ran
            return self._lost_attempt(work, self._lost_worker(work, error), None)
        except NoValidWorkerError as error:  # no worker declared its pool in time
            failed = unrunnable(_named(work), error.resource_restrictions, error.timeout)
            return Event("done", work, self._with_lost(work, Attempts(failed)))
        except Exception as error:  # Dask could not run the task at all
            failed = StepLost(
                f"the Dask cluster could not run {_named(work)}: {error}",
                hint="The scheduler and every worker need assetflow and the project's "
                "packages installed, at versions that match this machine's.",
            )
            return Event("done", work, self._with_lost(work, Attempts(failed)))
        kind = message[0]
        if kind == "done":
            if work.keep and isinstance(message[1].outcome, StepOutput):
                self._holders[work.step.key] = message[2]
            return Event("done", work, self._with_lost(work, message[1]))
        if kind == "cancelled":
            attempts = Attempts(
                cancelled_error(work),
                logs=message[1],
                started_at=message[2],
                worker=Worker(*message[3]),
            )
            return Event("cancelled", work, attempts)
        if kind == "rerun":  # Dask ran it again after its first worker died
            return self._lost_attempt(work, self._lost_worker(work, None), None)
        if kind == "lost":
            return self._lost_attempt(work, _died(work, message[1]), Worker(*message[2]))
        return self._lost_attempt(work, _stuck(work), Worker(*message[1]))

    def _had_started(self, key: object) -> bool:
        """Whether a task had started on its worker (each says so as it starts)."""
        try:
            events = self._client.get_events(started_topic(self._token))
        except Exception:  # the scheduler cannot say: count the attempt
            return True
        return any(message == key for _, message in events)

    def _gone(self, error: KilledWorker) -> None:
        """The outputs a dead worker kept in memory went with it: no step is sent there
        for them, and it is not asked to drop them (reaching it would hold the run for
        the scheduler's connect timeout)."""
        address = getattr(getattr(error, "last_worker", None), "address", None)
        for key in [key for key, holder in self._holders.items() if holder == address]:
            del self._holders[key]

    def _resubmit(self, work: Work) -> bool:
        """Submit again a step whose worker died before it started, a few times."""
        count = self._resubmits.get(work.step.key, 0)
        if count >= RESUBMITS:
            return False
        self._resubmits[work.step.key] = count + 1
        self._again.append((time.monotonic(), work))
        return True

    def _lost_attempt(self, work: Work, error: StepLost, worker: Worker | None) -> Event | None:
        """An attempt whose process or worker was lost: submitted again if the step's
        policy retries it (no event yet), else the step's last attempt."""
        key = work.step.key
        lost = self._lost.setdefault(key, [])
        # Attempts of this submission that raised before the worker was lost are not known
        # here; the submission's first attempt is the least this one can be.
        attempt = max(len(lost) + 1, work.first_attempt)
        policy = work.spec.retry
        if policy is None or not policy.should_retry(error, attempt):
            return Event("done", work, self._with_lost(work, Attempts(error, worker=worker)))
        started_at = self._submitted_at.get(key) or self._retrying.clock.now()
        lost.append(Retried(attempt, started_at, self._retrying.clock.now(), str(error)))
        delay = policy.delay(attempt, self._retrying.rng)
        # The next submission goes on counting, so that its attempts and the lost ones
        # together stay within the step's retries.
        again = dataclasses.replace(work, first_attempt=attempt + 1)
        self._again.append((time.monotonic() + delay, again))
        return None

    def _with_lost(self, work: Work, attempts: Attempts) -> Attempts:
        """The attempts of a step's last submission, after its lost ones (the submission
        numbered its own from ``work.first_attempt`` on)."""
        lost = self._lost.pop(work.step.key, [])
        self._submitted_at.pop(work.step.key, None)
        if not lost:
            return attempts
        return dataclasses.replace(attempts, retried=(*lost, *attempts.retried))

    def _submit_again(self) -> list[Event]:
        """Submit the lost steps whose retry delay is over; those that cannot be, failed."""
        now = time.monotonic()
        due = [work for when, work in self._again if when <= now]
        self._again = [(when, work) for when, work in self._again if when > now]
        events = []
        for work in due:
            try:
                self.submit(work)
            except StepLost as error:
                events.append(Event("done", work, self._with_lost(work, Attempts(error))))
        return events

    def _lost_worker(self, work: Work, error: BaseException | None) -> StepLost:
        why = ""
        if error is not None:
            why = f" ({type(error).__name__}: {str(error).strip() or type(error).__name__})"
        return StepLost(
            f"the Dask worker running {_named(work)} was lost before the step reported{why}; "
            "nothing of its attempt was recorded.",
            hint="A Dask worker is lost when its process dies (out of memory: see the "
            "worker's log) or its machine leaves the cluster.",
        )

    def cancel(self, grace: float) -> list[Event]:
        """Stop every running step: each worker is told, its step process asked to stop
        (SIGTERM) and killed if it has not within `grace` seconds."""
        events = [Event("cancelled", w, Attempts(cancelled_error(w))) for _, w in self._again]
        self._again.clear()
        if not self._running:
            return events
        with contextlib.suppress(Exception):
            self._client.run(cancel_run, self._token)
        until = time.monotonic() + grace
        while self._running and time.monotonic() < until:
            events.extend(self.wait(max(0.0, until - time.monotonic())))
        for future, work in list(self._running.items()):
            del self._running[future]
            future.cancel()  # type: ignore[no-untyped-call]
            events.append(Event("cancelled", work, Attempts(cancelled_error(work))))
        return events

    def forget(self, keys: list[AssetPartition]) -> None:
        """No later step reads these outputs: the workers keeping them drop them.

        They are told when the coordinator next waits, after it has submitted the steps
        that the ended ones unblock: telling a worker is a round trip to the cluster,
        which the coordinator would otherwise wait for before each of those steps."""
        for key in keys:
            address = self._holders.pop(key, None)
            if address is not None:
                self._drops.setdefault(address, []).append(key)

    def _send_drops(self) -> None:
        drops, self._drops = self._drops, {}
        for address, held in drops.items():
            with contextlib.suppress(Exception):  # a worker gone has dropped them already
                self._client.run(drop_outputs, self._token, held, workers=[address])

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


def _scheduler_address(address: str | None, cluster: LocalCluster | None) -> str:
    """The scheduler's address: the one given, or the local cluster's."""
    if address is None and cluster is not None:
        return str(cluster.scheduler_address)
    return address or "?"


def _reruns(client: Client) -> bool:
    """Whether the scheduler runs again a task whose worker died (its `allowed-failures`
    above 0, Dask's default being 3); when it cannot say, assume it does."""
    try:
        return int(client.run_on_scheduler(allowed_failures)) > 0  # type: ignore[no-untyped-call]
    except Exception:
        return True


def _named(work: Work) -> str:
    return f"asset '{work.step.asset}'" + (
        f" [{work.step.partition}]" if work.step.partition else ""
    )


def _died(work: Work, code: int | None) -> StepLost:
    from assetflow.execution.multiprocess import exit_text

    return StepLost(
        f"the process running {_named(work)} on its Dask worker {exit_text(code)} before it "
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
