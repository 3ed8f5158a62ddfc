"""The Executor protocol, the registry of executors by name, and which one a run uses.

An executor runs the steps the coordinator hands it and reports how each
ended; it never touches the metadata store. The coordinator asks nothing of
an executor but this protocol and its capabilities (`runs_on_coordinator_thread`,
`keeps_values`, `isolates_steps`): a new executor plugs in by one
`register_executor(ExecutorKind(...))`, and is then known to the coordinator,
to `choose_executor` and to the CLI's `--executor`.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from assetflow.errors import AssetflowError, UsageError, did_you_mean, suggest

if TYPE_CHECKING:
    from assetflow.execution.attempt import Attempts, Retrying, Work
    from assetflow.keys import AssetPartition
    from assetflow.planner.plan import Plan
    from assetflow.project import Project

logger = logging.getLogger(__name__)

#: The executor a run uses when it asks for none and for one worker.
DEFAULT_EXECUTOR = "inprocess"
#: The executor a run uses when it asks for none and for several workers.
PARALLEL_EXECUTOR = "multiprocess"


class StepLost(AssetflowError):
    """A step's worker died, or could not be reached, before it reported."""


@dataclass(frozen=True, slots=True)
class Event:
    """How a step ended where it ran: "done" (its attempts, whatever their outcome) or
    "cancelled"."""

    kind: str
    work: Work
    attempts: Attempts


def cancelled_error(work: Work) -> AssetflowError:
    """The outcome of a step stopped by cancellation."""
    return StepLost(f"asset '{work.step.asset}' was cancelled while running; nothing was written.")


class Executor(Protocol):
    """Runs a run's steps: what the coordinator needs of the in-process executor, the
    worker pool, and any executor registered later."""

    #: Steps run on the coordinator's own thread, one at a time: while one runs, the
    #: coordinator's loop does not turn (leases and heartbeat are kept from threads).
    runs_on_coordinator_thread: bool
    #: A step's value stays in this process: the coordinator keeps the values later
    #: steps read (otherwise they read storage, or the executor's own memory).
    keeps_values: bool
    #: Each step runs in a process of its own: a worker that dies fails only its step.
    isolates_steps: bool

    @property
    def capacity(self) -> int:
        """How many steps may run at once."""
        ...

    @property
    def busy(self) -> int:
        """How many steps run now."""
        ...

    def submit(self, work: Work) -> None:
        """Start a step (call only while `busy < capacity`).

        Raises:
            StepLost: The step could not be handed to a worker.
        """
        ...

    def wait(self, timeout: float | None) -> list[Event]:
        """How the steps that ended within `timeout` seconds ended."""
        ...

    def cancel(self, grace: float) -> list[Event]:
        """Stop every running step within `grace` seconds; how each ended."""
        ...

    def forget(self, keys: list[AssetPartition]) -> None:
        """No later step reads these outputs: drop any copy kept in memory."""
        ...

    def kill(self) -> None:
        """Stop everything at once (a second Ctrl-C, just before the process exits)."""
        ...

    def close(self) -> None:
        """Release the workers (the run is over)."""
        ...


@dataclass(frozen=True, slots=True)
class ExecutorSetup:
    """What an executor is made from for one run."""

    project: Project
    #: how many steps may run at once
    workers: int
    #: how to wait between retries, and their randomness (for steps run in this process)
    retrying: Retrying
    #: what the run will run (None: not known to the caller)
    plan: Plan | None = None


@dataclass(frozen=True, slots=True)
class ExecutorKind:
    """A registered executor: its name, how to make one, and what it can do."""

    name: str
    #: makes the executor of one run
    create: Callable[[ExecutorSetup], Executor]
    #: one line for help texts
    summary: str
    #: runs one step at a time, whatever `workers` asks
    one_at_a_time: bool = False
    #: why it cannot run here (None: it can); asked when a run starts
    unavailable: Callable[[], str | None] = lambda: None
    #: the executor used instead when this one cannot run here
    fallback: str | None = None
    #: how messages name it ("the in-process executor"); the name when empty
    label: str = ""


class ExecutorRegistry:
    """The executors known by name, in the order they were registered."""

    def __init__(self, kinds: tuple[ExecutorKind, ...] = ()) -> None:
        self._kinds: dict[str, ExecutorKind] = {}
        for kind in kinds:
            self.register(kind)

    def register(self, kind: ExecutorKind) -> None:
        """Add an executor (or replace the one of its name)."""
        self._kinds[kind.name] = kind

    def remove(self, name: str) -> None:
        """Forget the executor of that name, if one is registered."""
        self._kinds.pop(name, None)

    def names(self) -> tuple[str, ...]:
        return tuple(self._kinds)

    def __iter__(self) -> Iterator[ExecutorKind]:
        return iter(tuple(self._kinds.values()))

    def __contains__(self, name: object) -> bool:
        return name in self._kinds

    def get(self, name: str, *, given_in: str = "") -> ExecutorKind:
        """The executor registered as `name`.

        Args:
            name: The executor's name.
            given_in: Where the name was given, when not as --executor (the setting
                in the project's configuration), to begin the error with.

        Raises:
            UsageError: No executor has that name (with the names that were meant).
        """
        kind = self._kinds.get(name)
        if kind is None:
            names = self.names()
            where = f"{given_in}: " if given_in else ""
            raise UsageError(
                f"{where}unknown executor {name!r}. {did_you_mean(suggest(name, names))}".rstrip(),
                hint=f"The executors are: {', '.join(names)}. Another executor is made known "
                "with assetflow.execution.executor.register_executor(ExecutorKind(name, "
                "create, summary)), where create(setup) returns an Executor.",
            )
        return kind

    def create(self, name: str, setup: ExecutorSetup) -> Executor:
        """A new executor of the kind `name` for one run, or its fallback's where it
        cannot run here (said at WARNING).

        Raises:
            UsageError: No executor has that name.
        """
        kind = self.get(name)
        reason = kind.unavailable()
        if reason is not None and kind.fallback is not None:
            logger.warning(
                "the %s executor cannot run here (%s): using %s", name, reason, kind.fallback
            )
            kind = self.get(kind.fallback)
        return kind.create(setup)


def _in_process(setup: ExecutorSetup) -> Executor:
    from assetflow.execution.inprocess import InProcess

    return InProcess(setup.project, setup.retrying)


def _multiprocess(setup: ExecutorSetup) -> Executor:
    from assetflow.execution.multiprocess import WorkerPool

    return WorkerPool(setup.project, setup.workers)


def _dask(setup: ExecutorSetup) -> Executor:
    reason = _no_dask()
    if reason is not None:
        raise UsageError(f"the Dask executor cannot run here: {reason}.")
    from assetflow.execution.dask.executor import DaskExecutor

    config = setup.project.location.config
    return DaskExecutor(setup.project, setup.workers, config.dask, setup.retrying, setup.plan)


def _no_dask() -> str | None:
    import importlib.util

    if importlib.util.find_spec("distributed") is None:
        return "Dask is not installed: pip install 'assetflow[dask]'"
    from assetflow.execution.multiprocess import can_fork

    return None if can_fork() else "its steps run in processes forked on each Dask worker"


def _cannot_fork() -> str | None:
    from assetflow.execution.multiprocess import can_fork

    return None if can_fork() else "worker processes cannot be forked"


#: Every executor assetflow knows: the one place they are listed.
EXECUTORS = ExecutorRegistry(
    (
        ExecutorKind(
            PARALLEL_EXECUTOR,
            _multiprocess,
            "steps run in worker processes, several at once",
            unavailable=_cannot_fork,
            fallback=DEFAULT_EXECUTOR,
        ),
        ExecutorKind(
            DEFAULT_EXECUTOR,
            _in_process,
            "one step at a time in this process, for debugging with pdb",
            one_at_a_time=True,
            label="in-process",
        ),
        ExecutorKind(
            "dask",
            _dask,
            "steps run on a Dask cluster (--dask-address), or a local one for the run",
            unavailable=_no_dask,
            label="Dask",
        ),
    )
)


def register_executor(kind: ExecutorKind) -> None:
    """Make an executor known by its name to runs, `choose_executor` and the CLI.

    Register before the CLI is imported for `--executor` to accept it.
    """
    EXECUTORS.register(kind)


def executor_names() -> tuple[str, ...]:
    """The names of the registered executors (the CLI's `--executor` choices)."""
    return EXECUTORS.names()


def choose_executor(
    project: Project, executor: str | None, workers: int | None, *, given_in: str = ""
) -> tuple[str, int]:
    """The executor and worker count of a run, from what was asked and the configuration.

    Without an executor, more than one worker means "multiprocess" and one means
    "inprocess"; "multiprocess" without a count takes the configured `workers`,
    else the number of cores. The in-process executor always runs one at a time.
    A resolved pair resolves to itself. `given_in` says where the executor's name
    came from, for the error of an unknown one (see `ExecutorRegistry.get`).

    Raises:
        UsageError: An unknown executor, a count below 1, or several workers for an
            executor that runs one step at a time.
    """
    if executor is not None:
        kind = EXECUTORS.get(executor, given_in=given_in)
    if workers is not None and workers < 1:
        raise UsageError(f"--workers must be 1 or more, not {workers}.")
    if executor is None:
        executor = PARALLEL_EXECUTOR if workers is not None and workers > 1 else DEFAULT_EXECUTOR
        kind = EXECUTORS.get(executor)
    if kind.one_at_a_time:
        if workers is not None and workers > 1:
            raise UsageError(
                f"the {kind.label or kind.name} executor runs one step at a time, so "
                f"--workers {workers} cannot apply.",
                hint=f"To fix this, use --executor {PARALLEL_EXECUTOR} for parallel steps, or "
                "leave --workers out.",
            )
        return executor, 1
    configured = project.location.config.workers
    return executor, workers or configured or os.cpu_count() or 1


def idle(timeout: float | None) -> None:
    """Wait out `timeout` (an executor with nothing running, asked to wait)."""
    if timeout:
        time.sleep(timeout)
