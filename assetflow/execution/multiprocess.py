"""The multiprocess executor: long-lived forked worker processes, each running one step at a time.

Workers are forked from the coordinator once the project is loaded, so they
start in milliseconds with the project's modules already imported; a worker
is only replaced when it dies or has to be killed. Each step's inputs are read
from storage in the worker (values that are not stored, like sources, travel
with the task), the output is checked and written there, and what happened
comes back as a message; only the coordinator touches the metadata store.

A worker renames each output into place and leaves its sync to the coordinator,
which syncs a step's files just before the commit that records them (see
``assetflow.io.atomic.deferring_syncs``): the worker starts its next step
meanwhile. The order on disk is unchanged (the data, its directory entry, then
the metadata that points at it).

Messages from a worker: ``("attempt", n)`` when attempt n of a step with a timeout
begins, then one of ``("done", Attempts)`` or ``("cancelled", logs)``.

Stopping: the coordinator sends SIGTERM to stop a step (cancellation); the
worker raises inside the user's code, or, if it is writing, finishes the write
and reports it. SIGINT from the terminal is ignored by workers: the
coordinator alone decides what Ctrl-C does. A worker whose coordinator dies
(kill -9) is killed by the kernel on Linux (parent-death signal), and notices
the closed pipe everywhere else.
"""

from __future__ import annotations

import contextlib
import ctypes
import dataclasses
import multiprocessing
import os
import pickle
import random
import signal
import sys
import time
from collections import Counter
from dataclasses import dataclass
from multiprocessing.connection import Connection, wait
from typing import TYPE_CHECKING, Any

from assetflow.execution.attempt import (
    Attempts,
    Retrying,
    Work,
    Worker,
    failure_message,
    run_attempts,
    this_worker,
)
from assetflow.execution.executor import Event, StepLost, cancelled_error, idle
from assetflow.execution.interrupts import CancelToken, StepCancelled, bound, interrupt_here
from assetflow.execution.logs import capturing_run
from assetflow.execution.step import StepOutput, io_settings

if TYPE_CHECKING:
    from assetflow.keys import AssetPartition
    from assetflow.project import Project

#: How many bytes of outputs a worker keeps in memory for the steps that read them next.
KEPT_BYTES = 1 << 30
#: After a timeout, how long a worker has to stop before it is killed (it may be
#: inside C code, where Python cannot raise).
KILL_GRACE_S = 5.0
_PR_SET_PDEATHSIG = 1


def can_fork() -> bool:
    """Whether worker processes can be forked here (not on Windows)."""
    return "fork" in multiprocessing.get_all_start_methods()


@dataclass(eq=False)
class _Worker:
    process: Any
    conn: Connection
    work: Work | None = None
    #: when the running attempt must have ended (timeout plus grace), as time.monotonic()
    deadline: float | None = None


class WorkerPool:
    """A fixed number of forked worker processes and the steps they are running."""

    runs_on_coordinator_thread = False
    keeps_values = False  # a worker keeps its outputs for the steps it runs next
    isolates_steps = True

    def __init__(self, project: Project, size: int) -> None:
        self._project = project
        self._size = size
        self._context = multiprocessing.get_context("fork")
        self._workers: list[_Worker] = []
        self._parent = os.getpid()
        #: which worker keeps which step's output in memory
        self._holders: dict[AssetPartition, _Worker] = {}

    @property
    def capacity(self) -> int:
        return self._size

    @property
    def busy(self) -> int:
        return sum(1 for worker in self._workers if worker.work is not None)

    def running(self) -> list[Work]:
        return [worker.work for worker in self._workers if worker.work is not None]

    def submit(self, work: Work) -> None:
        """Send a step to an idle worker: the one that holds most of its inputs in memory,
        else any (starting one if fewer than `size` run)."""
        idle = [w for w in self._workers if w.work is None]
        holding = Counter(
            id(holder) for key in work.step.inputs if (holder := self._holders.get(key))
        )
        idle.sort(key=lambda w: -holding[id(w)])
        if idle and (holding[id(idle[0])] or len(self._workers) >= self._size):
            worker = idle[0]
        else:
            worker = self._spawn()
        task = dataclasses.replace(
            work,
            # Why the step runs stays here: without its reasons, the task pickles and
            # unpickles in two thirds of the time.
            step=dataclasses.replace(work.step, reasons=()),
            spec=None,  # type: ignore[arg-type]  # the worker has the project: no pickling
            checks=(),
            params=tuple(dataclasses.replace(param, annotation=None) for param in work.params),
        )
        worker.work = work
        worker.deadline = None
        try:
            worker.conn.send(task)
        except (OSError, pickle.PicklingError, TypeError, AttributeError) as error:
            # An unpicklable source value, or a worker that died while idle.
            self._discard(worker)
            raise StepLost(
                f"asset '{work.step.asset}' could not be handed to a worker process: {error}"
            ) from error

    def wait(self, timeout: float | None) -> list[Event]:
        """What the busy workers reported within `timeout` seconds (at least one event,
        unless the time ran out)."""
        busy = [w for w in self._workers if w.work is not None]
        if not busy:
            idle(timeout)
            return []
        now = time.monotonic()
        deadlines = [w.deadline for w in busy if w.deadline is not None]
        if deadlines:
            until = max(0.0, min(deadlines) - now)
            timeout = until if timeout is None else min(timeout, until)
        ready = wait([w.conn for w in busy], timeout)
        events: list[Event] = []
        for worker in busy:
            if worker.conn in ready:
                events.extend(self._receive(worker))
            elif worker.deadline is not None and time.monotonic() >= worker.deadline:
                events.append(self._kill_stuck(worker))
        return events

    def _receive(self, worker: _Worker) -> list[Event]:
        work = worker.work
        assert work is not None
        events: list[Event] = []
        while True:
            try:
                message = worker.conn.recv()
            except (EOFError, OSError):
                return [*events, self._lost(worker)]
            except Exception as error:  # a reply that cannot be unpickled here
                self._discard(worker)
                lost = StepLost(
                    f"asset '{work.step.asset}' sent back a result that cannot be read: {error}"
                )
                return [*events, Event("done", work, Attempts(lost))]
            kind = message[0]
            if kind == "attempt":  # the timeout (and its grace) starts again
                timeout = work.spec.timeout
                worker.deadline = (
                    time.monotonic() + timeout + KILL_GRACE_S if timeout is not None else None
                )
            else:
                worker.work, worker.deadline = None, None
                if kind == "done" and work.keep and isinstance(message[1].outcome, StepOutput):
                    self._holders[work.step.key] = worker
                attempts = (
                    message[1]
                    if kind == "done"
                    else Attempts(
                        cancelled_error(work),
                        logs=message[1],
                        started_at=message[2],
                        worker=self._identity(worker),
                    )
                )
                events.append(Event(kind, work, attempts))
                return events
            if not worker.conn.poll():
                return events

    def _lost(self, worker: _Worker) -> Event:
        """The worker died while running a step (killed, crashed, or exited in C code)."""
        work = worker.work
        assert work is not None
        worker.process.join(1)
        code = worker.process.exitcode
        self._discard(worker)
        how = exit_text(code)
        error = StepLost(
            f"the worker process running asset '{work.step.asset}'"
            + (f" [{work.step.partition}]" if work.step.partition else "")
            + f" {how} before it reported; nothing of its attempt was recorded.",
            hint="If the process ran out of memory, run fewer steps at once (--workers) "
            "or split the asset into partitions.",
        )
        return Event("done", work, Attempts(error, worker=self._identity(worker)))

    def _kill_stuck(self, worker: _Worker) -> Event:
        work = worker.work
        assert work is not None
        timeout = work.spec.timeout
        self._discard(worker)
        error = StepLost(
            f"asset '{work.step.asset}'"
            + (f" [{work.step.partition}]" if work.step.partition else "")
            + f" ran past its timeout of {timeout:g} s and did not stop within "
            f"{KILL_GRACE_S:g} s more (it was probably inside C code), so its worker process "
            "was killed; nothing was written.",
            hint="If it needs longer, raise its @asset(timeout=...).",
        )
        return Event("done", work, Attempts(error, worker=self._identity(worker)))

    def cancel(self, grace: float) -> list[Event]:
        """Stop every running step: each is asked to stop (SIGTERM), and killed if it has
        not within `grace` seconds. A step that was writing finishes its write and reports."""
        for worker in self._workers:
            if worker.work is not None and worker.process.is_alive():
                with contextlib.suppress(ProcessLookupError):
                    os.kill(worker.process.pid, signal.SIGTERM)
        events: list[Event] = []
        until = time.monotonic() + grace
        while self.busy and time.monotonic() < until:
            events.extend(self.wait(max(0.0, until - time.monotonic())))
        for worker in list(self._workers):
            if worker.work is not None:
                work = worker.work
                self._discard(worker)
                attempts = Attempts(cancelled_error(work), worker=self._identity(worker))
                events.append(Event("cancelled", work, attempts))
        return events

    @staticmethod
    def _identity(worker: _Worker) -> Worker | None:
        """The host and pid of a worker process (None if it never started)."""
        pid = worker.process.pid
        return None if pid is None else Worker(this_worker().host, pid)

    def forget(self, keys: list[AssetPartition]) -> None:
        """No later step reads these outputs: their workers drop them from memory."""
        for key in keys:
            worker = self._holders.pop(key, None)
            if worker is not None and worker in self._workers:
                with contextlib.suppress(OSError):
                    worker.conn.send(("drop", key))

    def kill(self) -> None:
        """Kill every worker at once (a second Ctrl-C)."""
        for worker in self._workers:
            with contextlib.suppress(ProcessLookupError, AttributeError):
                os.kill(worker.process.pid, signal.SIGKILL)

    def close(self) -> None:
        """Let idle workers exit, and wait for them."""
        for worker in self._workers:
            with contextlib.suppress(OSError):
                worker.conn.send(None)
        for worker in self._workers:
            worker.process.join(2)
            if worker.process.is_alive():
                worker.process.kill()
                worker.process.join()
            worker.conn.close()
        self._workers.clear()

    def _spawn(self) -> _Worker:
        parent, child = self._context.Pipe()
        process = self._context.Process(
            target=serve_steps,
            args=(child, self._project, self._parent),
            # On this machine: the coordinator can sync what the worker writes.
            kwargs={"defer_syncs": True},
            name="assetflow-worker",
            daemon=True,
        )
        process.start()
        child.close()
        worker = _Worker(process, parent)
        self._workers.append(worker)
        return worker

    def _discard(self, worker: _Worker) -> None:
        for key in [key for key, holder in self._holders.items() if holder is worker]:
            del self._holders[key]
        if worker.process.is_alive():
            worker.process.kill()
        worker.process.join()
        worker.conn.close()
        self._workers.remove(worker)


def exit_text(code: int | None) -> str:
    """How a step's process ended, from its exit code, for messages ("was killed by SIGKILL")."""
    if code is None:
        return "stopped answering"
    if code < 0:
        try:
            name = signal.Signals(-code).name
        except ValueError:
            name = f"signal {-code}"
        extra = " (the system may have run out of memory)" if -code == signal.SIGKILL else ""
        return f"was killed by {name}{extra}"
    return f"exited with code {code}"


# --- the worker's side ---------------------------------------------------------------


def serve_steps(conn: Connection, project: Project, parent: int, defer_syncs: bool = False) -> None:
    """A worker's life: run tasks until told to stop or the coordinator goes away.

    With `defer_syncs` (the coordinator shares this machine's disks), outputs are
    renamed into place unsynced, and each step's result names the files for the
    coordinator to sync before it records them."""
    # The worker runs steps of one run: its token is that run's, as far as this process
    # goes (the coordinator's own token, copied by fork, is not seen here).
    token = CancelToken()

    def on_term(signum: int, frame: object) -> None:
        token.cancel()
        interrupt_here(token)  # raises in the user's code, if a step is in it

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, on_term)
    _die_with(parent)
    from assetflow.clock import SystemClock

    retrying = Retrying(SystemClock(), time.sleep, random.Random(os.urandom(16)))
    kept = _Kept(KEPT_BYTES)
    with capturing_run(), bound(token):
        while not token.is_cancelled:
            try:
                task = conn.recv()
            except (EOFError, OSError, KeyboardInterrupt):
                return
            if task is None:
                return
            if isinstance(task, tuple):  # ("drop", key): no later step reads it
                kept.drop(task[1])
                continue
            conn.send(_run(task, project, retrying, conn, kept, defer_syncs=defer_syncs))


class _Kept:
    """Outputs a worker keeps for the later steps that read them, so that a chain of
    steps on one worker passes its tables in memory rather than through storage.
    Past `limit` bytes, the oldest are dropped (their readers read storage)."""

    def __init__(self, limit: int) -> None:
        self._limit = limit
        self._values: dict[AssetPartition, tuple[Any, int]] = {}
        self._size = 0

    def get(self, key: AssetPartition) -> Any:
        return self._values[key][0]

    def __contains__(self, key: object) -> bool:
        return key in self._values

    def keep(self, key: AssetPartition, value: Any) -> None:
        size = _size_of(value)
        if size > self._limit:
            return
        self.drop(key)
        self._values[key] = (value, size)
        self._size += size
        while self._size > self._limit:
            self.drop(next(iter(self._values)))

    def drop(self, key: AssetPartition) -> None:
        entry = self._values.pop(key, None)
        if entry is not None:
            self._size -= entry[1]


def _size_of(value: Any) -> int:
    """Bytes a table holds (pandas, Arrow); other values count as small."""
    nbytes = getattr(value, "nbytes", None)  # Arrow tables
    if isinstance(nbytes, int):
        return nbytes
    usage = getattr(value, "memory_usage", None)  # pandas DataFrames
    if callable(usage):
        with contextlib.suppress(Exception):
            return int(usage(index=True, deep=False).sum())
    return 1024


def _run(
    task: Work,
    project: Project,
    retrying: Retrying,
    conn: Connection,
    kept: _Kept,
    *,
    defer_syncs: bool = False,
) -> tuple[Any, ...]:
    spec = project.graph.spec(task.step.asset)
    annotations = {param.name: param.annotation for param in spec.input_params()}
    work = dataclasses.replace(
        task,
        spec=spec,
        checks=tuple(project.checks.get(spec.name, ())),
        params=tuple(
            dataclasses.replace(
                param,
                annotation=annotations.get(param.name),
                in_memory={
                    **param.in_memory,
                    **{key: kept.get(key) for key in param.keys if key in kept},
                },
            )
            for param in task.params
        ),
    )
    try:
        attempts = run_attempts(
            work,
            project.state_dir,
            retrying,
            # The coordinator restarts a step's timeout when an attempt begins; a step
            # without one sends nothing (one message less a step, on both sides).
            on_attempt=(lambda n: conn.send(("attempt", n))) if spec.timeout is not None else None,
            settings=io_settings(project),
            defer_syncs=defer_syncs,
        )
    except StepCancelled as cancelled:
        return ("cancelled", cancelled.logs, cancelled.started_at)
    del work
    if task.keep and isinstance(attempts.outcome, StepOutput):
        kept.keep(task.step.key, attempts.outcome.value)
    return ("done", _portable(task, attempts))


def _portable(work: Work, attempts: Attempts) -> Attempts:
    """The attempts as they can travel back: without the value (its readers read it from
    storage, or from this worker's memory), with the files left to sync (`unsynced`),
    errors as their text."""
    outcome = attempts.outcome
    if isinstance(outcome, StepOutput):
        checks = outcome.checks
        try:
            pickle.dumps(checks)
        except Exception:  # a custom check's metadata that cannot travel
            checks = ()
        outcome = StepOutput(None, outcome.stored, outcome.duration_s, checks, outcome.unsynced)
    else:
        outcome = StepLost(failure_message(work.step, outcome))
    return dataclasses.replace(attempts, outcome=outcome)


def _die_with(parent: int) -> None:
    """Have the kernel kill this worker when the coordinator dies (Linux)."""
    if sys.platform.startswith("linux"):
        with contextlib.suppress(OSError, AttributeError):
            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != parent:  # it died before the signal was set
        os._exit(1)
