"""Runs after the fact: read one run back, step by step, for `runs show`.

Whether a run still running is alive (and marking it crashed when not) is
``assetflow.execution.liveness``: a run records its host and a heartbeat, so a
run on another machine sharing the store is judged by its heartbeat, one on this
machine by its pid.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING

from assetflow.store.records import (
    NOT_STARTED_ATTEMPT,
    CheckRecord,
    EventKind,
    EventRecord,
    Lease,
    RunRecord,
    RunStatus,
)
from assetflow.store.run_errors import RUNS_HINT
from assetflow.store.run_errors import UnknownRunError as UnknownRunError

if TYPE_CHECKING:
    from assetflow.store.base import MetadataStore


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
    NOT_STARTED = "not started"  # the run was cancelled before the step started
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
    #: when the attempt started (None for events of no attempt, and older records)
    started_at: datetime | None = None
    #: the machine and process the attempt ran in (its worker), when recorded
    host: str | None = None
    pid: int | None = None

    def worker(self, run_host: str | None = None) -> str:
        """`pid 4242`, or `host:4242` when it ran on another machine than ``run_host``;
        empty when not recorded."""
        if self.pid is None:
            return ""
        if self.host is None or self.host == run_host:
            return f"pid {self.pid}"
        return f"{self.host}:{self.pid}"

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
    running: list[Lease] = []
    if run.status is RunStatus.RUNNING:
        running = [lease for lease in store.leases() if lease.run_id == run.run_id]
    return RunDetail(run, event_rows(run, events, checks, running))


_Key = tuple[str | None, str | None]

_STATE_BY_KIND = {
    EventKind.MATERIALIZED: RowState.MATERIALIZED,
    EventKind.SKIPPED: RowState.SKIPPED,
    EventKind.FAILED: RowState.FAILED,
    EventKind.RETRIED: RowState.RETRIED,
    EventKind.CANCELLED: RowState.CANCELLED,
}


def event_rows(
    run: RunRecord,
    events: Sequence[EventRecord],
    checks: Sequence[CheckRecord],
    running: Sequence[Lease] = (),
) -> tuple[EventRow, ...]:
    """One row per event of a run, in time order, with check results folded in.

    A STARTED event is folded into the step's next event; one with none after
    it stays as a ``started`` row. A materialization whose blocking check failed
    is a ``check failed`` row; results of steps with no event (an `assetflow
    check` run) are rows of their own. ``running`` are the leases the run holds
    while it goes on: a step it holds and has not finished is a ``started`` row
    (running since it was handed to the executor).
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
        elif event.kind is EventKind.CANCELLED and event.attempt == NOT_STARTED_ATTEMPT:
            rows.append(_row(event, RowState.NOT_STARTED, event.message))
        else:
            rows.append(_row(event, _STATE_BY_KIND[event.kind], event.message))
    ended = {(event.asset, event.partition) for event in events}
    for lease in running:
        if lease.key not in ended and lease.key not in started:
            started[lease.key] = EventRow(
                lease.asset,
                lease.partition,
                RowState.STARTED,
                lease.acquired_at,
                message=_unfinished(run),
                started_at=lease.acquired_at,
            )
    rows.extend(started.values())
    rows.extend(_checked(key, results) for key, results in checks_by_key.items())
    return tuple(sorted(rows, key=lambda row: row.at))  # stable: ties keep event order


def _row(event: EventRecord, state: RowState, message: str) -> EventRow:
    return EventRow(
        event.asset,
        event.partition,
        state,
        event.at,
        event.attempt,
        event.duration_s,
        message,
        event.started_at,
        event.host,
        event.pid,
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
