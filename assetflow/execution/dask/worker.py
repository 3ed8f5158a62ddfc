"""The Dask workers' side of a run: the project loaded once, steps run in forked processes.

A run registers one `RunPlugin` on the cluster. Each Dask worker loads the
project (import path, modules, graph) when the plugin is set up, so a step
ships only its `Work`, never the project. A step then runs in a process forked
from the Dask worker, one per Dask worker thread and reused by the run's later
steps, exactly as the multiprocess executor's workers run it: the step's
timeout is an alarm on that process's main thread, Ctrl-C a SIGTERM that
stops the user's code without a half-written output, and a step that kills
its process (SIGKILL, a crash in C code) fails only its own attempt while the
Dask worker, and every other step on it, carries on. Dask itself never sees a
step fail, so it never retries or re-runs one: assetflow's policy alone does.
"""

from __future__ import annotations

import contextlib
import os
import signal
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from multiprocessing import Pipe
from multiprocessing.connection import Connection
from typing import TYPE_CHECKING, Any

from distributed import WorkerPlugin, get_client, get_worker

from assetflow.execution.attempt import this_worker
from assetflow.execution.step import StepOutput

if TYPE_CHECKING:
    from distributed import Worker

    from assetflow.execution.attempt import Work
    from assetflow.keys import AssetPartition
    from assetflow.project import Project, ProjectLocation

#: How often a waiting Dask task looks at its step's process and at a cancel request.
POLL_S = 0.05
#: After a timeout, how long a step has to stop before its process is killed (it may
#: be inside C code, where Python cannot raise): the multiprocess executor's grace.
KILL_GRACE_S = 5.0
#: After a cancel request, how long a step has to stop (a write it is in finishes).
CANCEL_GRACE_S = 5.0


class ProjectNotLoaded(Exception):  # travels back to the client as is
    """A Dask worker could not load the project; the message names the worker."""


def plugin_name(token: str) -> str:
    """The name of a run's plugin on the workers."""
    return f"assetflow-run-{token}"


def started_topic(token: str) -> str:
    """The scheduler's event topic where a run's tasks say they started (their keys)."""
    return f"assetflow-started-{token}"


@dataclass(eq=False)
class _Runner:
    """One forked process that runs steps, one at a time."""

    pid: int
    conn: Connection
    #: the outputs it keeps in memory for later steps (see multiprocess._Kept)
    holds: set[AssetPartition] = field(default_factory=set)
    #: outputs to drop, said to it before its next step
    drops: list[AssetPartition] = field(default_factory=list)


class RunPlugin(WorkerPlugin):
    """A run on one Dask worker: its project, its step processes, whether it is cancelled."""

    def __init__(self, location: ProjectLocation, token: str) -> None:
        self.location = location
        self.token = token
        self.name = plugin_name(token)

    def setup(self, worker: Worker) -> None:
        """Load the project here (its directory on sys.path, its modules imported).

        Raises:
            ProjectNotLoaded: The project cannot be loaded on this worker, with why.
        """
        from assetflow.errors import AssetflowError
        from assetflow.loader import load_project

        self.cancelled = threading.Event()
        self._lock = threading.Lock()
        self._idle: list[_Runner] = []
        self._all: list[_Runner] = []
        # Step processes are forked from one long-lived thread: a child's parent-death
        # signal follows the thread that forked it, and Dask's threads may come and go.
        self._forker = ThreadPoolExecutor(1, thread_name_prefix="assetflow-fork")
        try:
            self.project: Project = load_project(self.location)
        except AssetflowError as error:
            raise ProjectNotLoaded(_where(worker) + error.format_message()) from None
        except Exception as error:  # anything else the project's import raised
            raise ProjectNotLoaded(f"{_where(worker)}{type(error).__name__}: {error}") from None

    def teardown(self, worker: Worker) -> None:
        """The run is over: stop its step processes."""
        runners = getattr(self, "_all", [])
        for runner in runners:
            with contextlib.suppress(OSError):
                runner.conn.send(None)
        until = time.monotonic() + 2
        for runner in runners:
            while _reap(runner.pid, wait=False) is None and time.monotonic() < until:
                time.sleep(0.01)
            if _reap(runner.pid, wait=False) is None:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(runner.pid, signal.SIGKILL)
                _reap(runner.pid, wait=True)
            runner.conn.close()
        if hasattr(self, "_forker"):
            self._forker.shutdown(wait=False)

    def take(self, inputs: tuple[AssetPartition, ...] = ()) -> _Runner:
        """An idle step process of this run, the one keeping most of `inputs` in memory;
        forked if none is idle."""
        with self._lock:
            if self._idle:
                self._idle.sort(key=lambda each: sum(key in each.holds for key in inputs))
                runner = self._idle.pop()
                for key in runner.drops:
                    runner.conn.send(("drop", key))
                runner.drops.clear()
                return runner
        runner = self._forker.submit(_fork, self.project).result()
        with self._lock:
            self._all.append(runner)
        return runner

    def give_back(self, runner: _Runner) -> None:
        with self._lock:
            self._idle.append(runner)

    def drop_outputs(self, keys: list[AssetPartition]) -> None:
        """No later step reads these outputs: the processes keeping them let them go."""
        with self._lock:
            for runner in self._all:
                gone = runner.holds.intersection(keys)
                runner.holds -= gone
                if runner in self._idle:
                    for key in gone:
                        with contextlib.suppress(OSError):
                            runner.conn.send(("drop", key))
                else:
                    runner.drops.extend(gone)

    def drop(self, runner: _Runner) -> None:
        """Forget a step process that died or was killed."""
        with self._lock:
            if runner in self._all:
                self._all.remove(runner)
        runner.conn.close()


def _where(worker: Worker) -> str:
    host, pid = this_worker()
    return f"the Dask worker {worker.address} (host {host}, pid {pid}) "


def cancel_run(token: str, dask_worker: Worker) -> None:
    """Ask this worker's running steps of the run to stop (run by `Client.run`)."""
    plugin = dask_worker.plugins.get(plugin_name(token))
    if isinstance(plugin, RunPlugin) and hasattr(plugin, "cancelled"):
        plugin.cancelled.set()


def drop_outputs(token: str, keys: list[AssetPartition], dask_worker: Worker) -> None:
    """Let this worker's step processes drop outputs no later step reads (`Client.run`)."""
    plugin = dask_worker.plugins.get(plugin_name(token))
    if isinstance(plugin, RunPlugin) and hasattr(plugin, "project"):
        plugin.drop_outputs(keys)


def allowed_failures(dask_scheduler: Any) -> int:
    """How many times the scheduler runs again a task whose worker died (run by
    `Client.run_on_scheduler`)."""
    return int(dask_scheduler.allowed_failures)


def run_step(token: str, task: Work, refuse_reruns: bool = False) -> tuple[Any, ...]:
    """Run one step on this Dask worker, in a process of the run (the Dask task).

    With `refuse_reruns` (a scheduler that runs again a task whose worker died), a task
    that had started before does not run: it returns ``("rerun", worker)``.

    Returns one of ``("done", Attempts, address)`` (this Dask worker's, where the
    output stays in memory when `task.keep`), ``("cancelled", logs, started_at, worker)``,
    ``("lost", exit_code, worker)`` (the step's process died before it reported) or
    ``("stuck", worker)`` (past its timeout and grace, so its process was killed).
    """
    dask_worker = get_worker()
    plugin = dask_worker.plugins.get(plugin_name(token))
    if not isinstance(plugin, RunPlugin) or not hasattr(plugin, "project"):
        raise ProjectNotLoaded(f"{_where(dask_worker)}has not loaded the run's project")
    if plugin.cancelled.is_set():  # a step that waited in the cluster: it never starts
        return ("cancelled", (), None, this_worker())
    key = _task_key()
    client = get_client()
    if refuse_reruns and any(
        message == key for _, message in client.get_events(started_topic(token))
    ):
        return ("rerun", this_worker())
    # Said to the scheduler before the step starts, and waited for: if this worker dies,
    # the coordinator knows whether the step had started (an attempt) or not (none).
    client.log_event(started_topic(token), key)
    runner = plugin.take(task.step.inputs)
    worker = (this_worker().host, runner.pid)
    try:
        runner.conn.send(task)
    except OSError:  # it died while idle
        plugin.drop(runner)
        return ("lost", _reap(runner.pid, wait=True), worker)
    deadline: float | None = None
    stopping_until: float | None = None
    while True:
        if runner.conn.poll(POLL_S):
            try:
                message = runner.conn.recv()
            except (EOFError, OSError):
                plugin.drop(runner)
                return ("lost", _reap(runner.pid, wait=True), worker)
            if message[0] == "attempt":  # its timeout and grace start again
                timeout = plugin.project.graph.spec(task.step.asset).timeout
                deadline = None if timeout is None else time.monotonic() + timeout + KILL_GRACE_S
                continue
            if message[0] == "cancelled":  # a stopped step process exits after it says so
                plugin.drop(runner)
                _reap(runner.pid, wait=True)
                return ("cancelled", message[1], message[2], worker)
            if task.keep and isinstance(message[1].outcome, StepOutput):
                runner.holds.add(task.step.key)
            plugin.give_back(runner)
            return (*message, dask_worker.address)
        now = time.monotonic()
        if stopping_until is None and (plugin.cancelled.is_set() or _released(dask_worker, key)):
            # The run was cancelled (or this task was, by a coordinator that stopped
            # waiting for it): the step stops where the multiprocess executor's would.
            with contextlib.suppress(ProcessLookupError):
                os.kill(runner.pid, signal.SIGTERM)
            stopping_until = now + CANCEL_GRACE_S
        if (deadline is not None and now >= deadline) or (
            stopping_until is not None and now >= stopping_until
        ):
            with contextlib.suppress(ProcessLookupError):
                os.kill(runner.pid, signal.SIGKILL)
            _reap(runner.pid, wait=True)
            plugin.drop(runner)
            return ("stuck", worker)


def _task_key() -> str | None:
    from distributed import worker

    # The key of the task this thread runs (set by Dask for the task's duration).
    key = getattr(getattr(worker, "thread_state", None), "key", None)
    return key if isinstance(key, str) else None


def _released(dask_worker: Worker, key: str | None) -> bool:
    """Whether the scheduler no longer wants this task's result (it was cancelled)."""
    if key is None:
        return False
    state = dask_worker.state.tasks.get(key)
    return state is None or state.state in ("cancelled", "released", "forgotten")


def _fork(project: Project) -> _Runner:
    """Fork a step process that serves the run's steps, as a multiprocess worker does."""
    from assetflow.execution.multiprocess import serve_steps

    parent_end, child_end = Pipe()
    parent = os.getpid()
    pid = os.fork()
    if pid == 0:  # the step process
        code = 0
        try:
            parent_end.close()
            serve_steps(child_end, project, parent)
        except BaseException:
            code = 1
        finally:
            os._exit(code)
    child_end.close()
    return _Runner(pid, parent_end)


def _reap(pid: int, *, wait: bool) -> int | None:
    """The exit code of a step process (negative: the signal), None while it runs."""
    try:
        done, status = os.waitpid(pid, 0 if wait else os.WNOHANG)
    except ChildProcessError:
        return -1 if wait else 0
    if done == 0:
        return None
    return os.waitstatus_to_exitcode(status)
