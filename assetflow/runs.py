"""Runs after the fact: mark orphaned runs crashed, and read one run back step by step.

A run is recorded as ``running`` when it starts and finished by the process that
runs it. If that process dies without finishing it (SIGKILL, the OOM killer, a
machine restart), nothing else would: ``sweep_orphaned_runs`` finds such runs
and marks them ``crashed``. It is cheap (one query for the running runs, one
signal-0 probe per running run), so `materialize`, `plan`, `status` and `runs`
call it first.

Deciding that a run's process is gone asks the operating system whether its pid
exists on *this* machine. What that cannot tell:

- pid reuse: once a process is gone, a new, unrelated process may get its pid;
  then the run looks alive and stays ``running`` until that process ends too
  (knowing would need the process start time, which is not portable);
- another machine or pid namespace: a run started in a container, or on another
  host sharing the store, has a pid that means nothing here. A process that is
  not there is taken as gone, so such a run is marked ``crashed``; if it was in
  fact alive, its own end overwrites that status, and the extra event stays.
  Runs do not record their host, so a store shared between machines needs
  that before it can be swept safely;
- Windows: ``os.kill(pid, 0)`` would terminate the process there, so every
  process counts as alive and nothing is swept.

Marking a run crashed writes nothing else: the steps it finished were recorded
as they finished, and the outputs it was writing are invisible, since outputs
are written beside their target and renamed. The planner re-plans from that.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING

from assetflow.store.records import (
    CheckRecord,
    EventKind,
    EventRecord,
    Lease,
    RunRecord,
    RunStatus,
)
from assetflow.store.run_errors import RUNS_HINT, UnknownRunError

if TYPE_CHECKING:
    from assetflow.store.base import MetadataStore

logger = logging.getLogger(__name__)

#: `list_runs` takes a limit; the sweep must see every running run, however many.
_EVERY_RUN = sys.maxsize


def is_process_alive(pid: int) -> bool:
    """Whether a process with this id exists on this machine.

    It may be another process than the one that took the id first (see the
    module docstring); an answer the operating system does not give counts as
    alive, so that a run is never marked crashed on a guess.
    """
    if sys.platform == "win32":
        # On Windows, os.kill(pid, 0) terminates the process: never probe there.
        return True
    if pid <= 0:
        return False  # 0 and negative ids name process groups, never a run's process
    try:
        os.kill(pid, 0)  # signal 0: only asks whether the process exists
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # it exists, but belongs to another user
    except OverflowError:
        return False  # larger than any pid this system hands out
    except OSError:
        return True
    return not _is_zombie(pid)


def _is_zombie(pid: int) -> bool:
    """Whether a process has exited and only waits to be reaped (Linux; False elsewhere).

    A killed worker whose parent died first stays a zombie until init reaps it,
    which in a container without an init may be never: it must count as gone.
    """
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as stat:
            fields = stat.read().rsplit(")", 1)  # the name, in parentheses, may hold spaces
    except OSError:
        return False
    return len(fields) == 2 and fields[1].split()[:1] == ["Z"]


#: The message of a step that was running when its run crashed.
INTERRUPTED_STEP = (
    "the run crashed while this step was running; it is rebuilt by the next run, since "
    "its output may have been replaced without being recorded"
)


def crash_message(pid: int) -> str:
    """The message of the run-level event that records a crash."""
    return (
        f"run crashed: its process (pid {pid}) is gone; nothing it was writing is visible, "
        "since outputs are written atomically"
    )


def sweep_orphaned_runs(
    store: MetadataStore,
    *,
    now: datetime,
    is_alive: Callable[[int], bool] = is_process_alive,
) -> list[RunRecord]:
    """Mark ``crashed`` every ``running`` run whose process is gone.

    A run without a pid is left alone (nothing says where it runs). Each
    crashed run gets a run-level FAILED event saying so. Two processes sweeping
    at once mark a run once between them.

    Args:
        store: The metadata store.
        now: When the crash is noticed: the runs' ``finished_at`` (never before
            a run's start).
        is_alive: Whether a pid is a live process (tests inject their own).

    Returns:
        The runs this call marked crashed, as they are now recorded.
    """
    crashed: list[RunRecord] = []
    running = store.list_runs(limit=_EVERY_RUN, status=RunStatus.RUNNING)
    gone = [run for run in running if run.pid is not None and not is_alive(run.pid)]
    in_flight: dict[str, list[Lease]] = {}
    if gone:
        for lease in store.leases():
            in_flight.setdefault(lease.run_id, []).append(lease)
    for run in gone:
        assert run.pid is not None
        finished_at = max(now, run.started_at)
        event = EventRecord(
            run_id=run.run_id,
            kind=EventKind.FAILED,
            at=finished_at,
            message=crash_message(run.pid),
        )
        # The steps it held leases on were running: each may have replaced its output
        # without recording it. A failure newer than their last materialization makes
        # the next plan rebuild them, so outputs and records agree again.
        interrupted = [
            EventRecord(
                run_id=run.run_id,
                kind=EventKind.FAILED,
                at=finished_at,
                asset=lease.asset,
                partition=lease.partition,
                message=INTERRUPTED_STEP,
            )
            for lease in in_flight.get(run.run_id, ())
        ]
        events = [event, *interrupted]
        if store.finish_run_if_running(run.run_id, RunStatus.CRASHED, finished_at, events):
            logger.warning(
                "run %s was left running by process %d, which is gone: marked crashed.",
                run.run_id,
                run.pid,
            )
            update = {"status": RunStatus.CRASHED, "finished_at": finished_at}
            crashed.append(run.model_copy(update=update))
    return crashed


def find_run(store: MetadataStore, prefix: str) -> RunRecord:
    """The run whose id is ``prefix`` or starts with it.

    Raises:
        UnknownRunError: No run id starts with ``prefix`` (exit 2).
        AmbiguousRunIdError: Several do; the error lists them (exit 2).
    """
    run = store.get_run(prefix)
    if run is not None:
        return run
    newest = store.list_runs(limit=1)
    hint = RUNS_HINT
    if newest:
        hint += f"; the newest is {newest[0].run_id[:8]} ({newest[0].status.value})"
    raise UnknownRunError(prefix, hint=hint + ".")


class RowState(StrEnum):
    """What one row of `runs show` says happened to its step."""

    MATERIALIZED = "materialized"
    SKIPPED = "skipped"
    FAILED = "failed"
    CHECK_FAILED = "check failed"  # written, but a blocking check failed
    CHECKED = "checked"  # `assetflow check` ran its checks: all passed
    RETRIED = "retried"
    CANCELLED = "cancelled"  # stopped by Ctrl-C or SIGTERM while running
    STARTED = "started"  # no result was recorded (yet)


#: States whose full message `runs show` prints below the table.
ERROR_STATES = frozenset({RowState.FAILED, RowState.CHECK_FAILED})


@dataclass(frozen=True, slots=True)
class EventRow:
    """What happened to one step (or, with no asset, to the run) at one attempt."""

    asset: str | None
    partition: str | None
    state: RowState
    at: datetime
    attempt: int = 1
    duration_s: float | None = None
    #: the whole message: an error with the user's traceback, or a skip reason
    message: str = ""

    @property
    def label(self) -> str:
        """`asset`, `asset[partition]`, or `(run)` for an event of the run itself."""
        if self.asset is None:
            return "(run)"
        return self.asset if self.partition is None else f"{self.asset}[{self.partition}]"

    @property
    def summary(self) -> str:
        """The message's first line."""
        return self.message.strip().splitlines()[0] if self.message.strip() else ""


@dataclass(frozen=True, slots=True)
class RunDetail:
    """One run as `runs show` tells it: the run, and a row per step event in time order."""

    run: RunRecord
    rows: tuple[EventRow, ...]

    @property
    def errors(self) -> list[EventRow]:
        """The rows whose full message is an error worth reading in full."""
        return [row for row in self.rows if row.state in ERROR_STATES and row.message]


def read_run(store: MetadataStore, prefix: str) -> RunDetail:
    """Read one run (by id or unique prefix) with its events and check results.

    Raises:
        UnknownRunError: No run id starts with ``prefix``.
        AmbiguousRunIdError: Several do.
    """
    run = find_run(store, prefix)
    events = store.run_events(run.run_id)
    checks = store.run_checks(run.run_id)
    return RunDetail(run, event_rows(run, events, checks))


_Key = tuple[str | None, str | None]

_STATE_BY_KIND = {
    EventKind.MATERIALIZED: RowState.MATERIALIZED,
    EventKind.SKIPPED: RowState.SKIPPED,
    EventKind.FAILED: RowState.FAILED,
    EventKind.RETRIED: RowState.RETRIED,
    EventKind.CANCELLED: RowState.CANCELLED,
}


def event_rows(
    run: RunRecord, events: Sequence[EventRecord], checks: Sequence[CheckRecord]
) -> tuple[EventRow, ...]:
    """One row per event of a run, in time order, with check results folded in.

    A STARTED event is folded into the step's next event; one with none after
    it stays as a ``started`` row. A materialization whose blocking check failed
    is a ``check failed`` row; results of steps with no event (an `assetflow
    check` run) are rows of their own.
    """
    checks_by_key: dict[_Key, list[CheckRecord]] = {}
    for result in checks:
        checks_by_key.setdefault((result.asset, result.partition), []).append(result)
    rows: list[EventRow] = []
    started: dict[_Key, EventRow] = {}
    for event in events:
        key = (event.asset, event.partition)
        if event.kind is EventKind.STARTED:
            started[key] = _row(event, RowState.STARTED, _unfinished(run))
            continue
        started.pop(key, None)
        if event.kind is EventKind.MATERIALIZED:
            rows.append(_materialized(event, checks_by_key.pop(key, [])))
        else:
            rows.append(_row(event, _STATE_BY_KIND[event.kind], event.message))
    rows.extend(started.values())
    rows.extend(_checked(key, results) for key, results in checks_by_key.items())
    return tuple(sorted(rows, key=lambda row: row.at))  # stable: ties keep event order


def _row(event: EventRecord, state: RowState, message: str) -> EventRow:
    return EventRow(
        event.asset, event.partition, state, event.at, event.attempt, event.duration_s, message
    )


def _unfinished(run: RunRecord) -> str:
    if run.status is RunStatus.RUNNING:
        return "running"
    return f"no result was recorded: the run ended ({run.status.value}) first"


def _materialized(event: EventRecord, results: list[CheckRecord]) -> EventRow:
    failed = [result for result in results if not result.passed]
    state = (
        RowState.CHECK_FAILED
        if any(result.is_blocking_failure for result in failed)
        else RowState.MATERIALIZED
    )
    return _row(event, state, _checks_message(failed) or event.message)


def _checked(key: _Key, results: list[CheckRecord]) -> EventRow:
    failed = [result for result in results if not result.passed]
    is_blocking = any(result.is_blocking_failure for result in failed)
    state = RowState.CHECK_FAILED if is_blocking else RowState.CHECKED
    asset, partition = key
    return EventRow(asset, partition, state, results[0].at, message=_checks_message(failed))


def _checks_message(failed: list[CheckRecord]) -> str:
    """One line per failed check, blocking failures first: `check 'x' failed: why`."""
    ordered = sorted(failed, key=lambda result: not result.is_blocking_failure)
    return "\n".join(
        f"check '{result.check}' {'failed' if result.severity == 'error' else 'warned'}"
        + (f": {result.message}" if result.message else "")
        for result in ordered
    )
