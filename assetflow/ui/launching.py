"""Launching runs from the UI: a materialization in a background thread per launch.

A launch is an ordinary run (the same `services.running.materialize` the CLI calls,
with the alerts' incident recorder) whose trigger is "ui". Its id is chosen before
its thread starts, so that the answer to the launch request can point at
`/runs/{id}` at once; until the run records itself (planning comes first), the
launcher says it is starting, and if it fails before that (a partition the asset
does not have), the launcher keeps the error to show in its place.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from assetflow.errors import UsageError

if TYPE_CHECKING:
    from assetflow.clock import Clock
    from assetflow.project import Project
    from assetflow.request import RunRequest

#: How many launched runs may go on at once in one UI server.
MAX_RUNNING = 4
#: How many ended launches a server remembers (their pages then read the store alone).
KEEP_ENDED = 200
#: How long a stopping server waits for the runs it launched to cancel.
STOP_WAIT_S = 30.0
#: How long an alert delivery after a launched run may take (as after a CLI run).
DELIVERY_BUDGET_S = 10.0


@dataclass(frozen=True, slots=True)
class LaunchForm:
    """What a launch asks for, as the form and the JSON body give it (the CLI's options)."""

    selection: str = "*"
    exclude: str | None = None
    partition: str | None = None
    first: str | None = None
    last: str | None = None
    force: bool = False
    redo: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Launch:
    """One run launched by this server: its state until and after it records itself."""

    run_id: str
    request: RunRequest
    #: "starting" (planning), "running" (recorded) or "ended"
    state: str = "starting"
    #: why the launch failed before or while running, when it did
    error: str | None = None


class TooManyLaunchesError(UsageError):
    """Launching now would run more than `MAX_RUNNING` launched runs at once."""


def run_request(project: Project, form: LaunchForm) -> RunRequest:
    """The RunRequest a launch asks for (trigger "ui"), checked as the CLI checks it.

    Raises:
        UsageError: Both a partition and a range, or `to` without `from`.
        SelectionError: The selection or exclusion does not parse or names no asset,
            or a `redo` choice is unknown (the CLI's messages, caret included).
    """
    from assetflow.request import PartitionRequest, RunRequest
    from assetflow.services.planning import select

    if form.partition and (form.first or form.last):
        raise UsageError(
            "give either a partition or a range (from/to), not both.",
            hint="A partition runs one key; from/to run every key between them.",
        )
    partitions = (
        PartitionRequest.one(form.partition)
        if form.partition
        else PartitionRequest.between(form.first or None, form.last or None)
    )
    request = RunRequest.of(
        form.selection.strip() or "*",
        exclude=(form.exclude or "").strip() or None,
        partitions=partitions,
        force=form.force,
        redo=form.redo or None,
        trigger="ui",
        executor=project.location.config.executor,
    )
    select(project, request.selection, request.exclude)  # the CLI's selection errors
    return request


class Launcher:
    """The runs one UI server launched, each in a thread of its own."""

    def __init__(
        self, project: Project, *, limit: int = MAX_RUNNING, clock: Clock | None = None
    ) -> None:
        self.project = project
        self.limit = limit
        self.clock = clock
        self._lock = threading.Lock()
        self._launches: dict[str, Launch] = {}
        self._threads: dict[str, threading.Thread] = {}

    def launch(self, request: RunRequest) -> str:
        """Start materializing `request` in a thread; returns the new run's id at once.

        Raises:
            TooManyLaunchesError: `limit` launched runs are still going.
            ProjectError: The project's alerts are configured wrongly.
        """
        from assetflow.alerts.setup import alerting
        from assetflow.openlineage.setup import lineage_settings

        setup = alerting(self.project)  # a wrong destination says so now, not in the thread
        lineage_settings(self.project)  # and so does a wrong [tool.assetflow.openlineage]
        run_id = uuid.uuid4().hex
        with self._lock:
            going = [key for key, thread in self._threads.items() if thread.is_alive()]
            if len(going) >= self.limit:
                raise TooManyLaunchesError(
                    f"{len(going)} runs launched from this page are still going; at most "
                    f"{self.limit} run at once.",
                    hint="Wait for one to end, or cancel one from its page.",
                )
            self._launches[run_id] = Launch(run_id, request)
            thread = threading.Thread(
                target=self._run, args=(run_id, request, setup), name=f"run-{run_id[:8]}"
            )
            self._threads[run_id] = thread
        thread.start()
        return run_id

    def _run(self, run_id: str, request: RunRequest, setup: object) -> None:
        from assetflow.alerts.setup import Alerting
        from assetflow.errors import AssetflowError
        from assetflow.execution.results import RunCancelled
        from assetflow.services import running

        assert isinstance(setup, Alerting)
        error: str | None = None
        try:
            running.materialize(
                self.project,
                request,
                clock=self.clock,
                listeners=[setup.recorder(), *_lineage(self.project)],
                run_id=run_id,
            )
        except RunCancelled:
            pass  # recorded as cancelled
        except AssetflowError as failed:
            error = failed.format_message()
        except Exception as failed:  # a bug: said, not lost with the thread
            error = f"internal error: {type(failed).__name__}: {failed}"
        finally:
            self._deliver(setup)
            with self._lock:
                self._launches[run_id] = Launch(run_id, request, "ended", error)
                self._threads.pop(run_id, None)
                self._forget_old()

    def _forget_old(self) -> None:
        """Keep the newest `KEEP_ENDED` ended launches (dicts keep launch order)."""
        ended = [key for key, launch in self._launches.items() if launch.state == "ended"]
        for key in ended[: max(0, len(ended) - KEEP_ENDED)]:
            del self._launches[key]

    def stop(self, wait_s: float = STOP_WAIT_S) -> list[str]:
        """Cancel the launched runs still going, as `assetflow runs cancel` does, and wait
        up to `wait_s` for them to end; the ids of those that had not ended by then.

        A run still being planned is asked again once it is recorded."""
        import time

        from assetflow.errors import AssetflowError
        from assetflow.services import running

        asked: set[str] = set()
        until = time.monotonic() + wait_s
        while True:
            going = self.going()
            if not going or time.monotonic() >= until:
                return going
            for run_id in going:
                if run_id in asked:
                    continue
                try:
                    running.cancel(self.project, run_id, clock=self.clock)
                    asked.add(run_id)
                except AssetflowError:
                    pass  # not recorded yet (still planning), or it just ended
            time.sleep(0.1)

    def _deliver(self, setup: object) -> None:
        """Deliver the alerts the run queued, as a CLI run does as it ends."""
        from assetflow.alerts.setup import Alerting
        from assetflow.services.stores import project_store

        if not isinstance(setup, Alerting) or not setup.destinations:
            return
        try:
            with project_store(self.project) as store:
                setup.deliver(store, budget_s=DELIVERY_BUDGET_S)
        except Exception:  # alerts never change a run's outcome; the outbox keeps them
            pass

    def get(self, run_id: str) -> Launch | None:
        """The launch of this id (full id) by this server, if any."""
        with self._lock:
            return self._launches.get(run_id)

    def going(self) -> list[str]:
        """The ids of the launched runs whose thread still runs."""
        with self._lock:
            return [key for key, thread in self._threads.items() if thread.is_alive()]

    def wait(self, run_ids: Iterable[str] | None = None, timeout_s: float = 30.0) -> None:
        """Wait for these launched runs (default: all) to end, each at most `timeout_s`."""
        with self._lock:
            threads = [
                thread
                for key, thread in self._threads.items()
                if run_ids is None or key in set(run_ids)
            ]
        for thread in threads:
            thread.join(timeout_s)


def _lineage(project: Project) -> list[Any]:
    """The run's OpenLineage recorder, when the project has [tool.assetflow.openlineage]."""
    from assetflow.openlineage.setup import lineage_recorder
    from assetflow.services.stores import project_store

    recorder = lineage_recorder(project, open_store=lambda: project_store(project))
    return [] if recorder is None else [recorder]
