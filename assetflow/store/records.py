"""The records the metadata store keeps: runs, materializations, run events and leases.

The records are plain frozen dataclasses, not validated on construction (so that
importing this module stays cheap for every command): assetflow builds them itself
from typed values, and the stores check what they keep (`assetflow.store.normalise`)
and read back what they wrote.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any, NamedTuple


class RunStatus(StrEnum):
    """Where a run is in its life."""

    RUNNING = "running"
    SUCCESS = "success"
    FAILED = "failed"
    CANCELLED = "cancelled"
    CRASHED = "crashed"


class EventKind(StrEnum):
    """What happened to one step (asset-partition) of a run."""

    STARTED = "started"
    MATERIALIZED = "materialized"
    SKIPPED = "skipped"
    FAILED = "failed"
    RETRIED = "retried"
    CANCELLED = "cancelled"  # stopped by Ctrl-C or SIGTERM while running


@dataclass(frozen=True, slots=True, kw_only=True)
class Column:
    """One column of a stored table: its name and its Arrow type, as text."""

    name: str
    type: str


@dataclass(frozen=True, slots=True, kw_only=True)
class RunRecord:
    """One run: what was asked for, by whom, and how it ended."""

    run_id: str
    trigger: str = "cli"
    selection: str = "*"
    status: RunStatus = RunStatus.RUNNING
    started_at: datetime
    finished_at: datetime | None = None
    pid: int | None = None
    #: the partitions asked for, as ranges ("2026-03-01..2026-03-31"), or None
    partitions: str | None = None
    #: the machine the run's process runs on (None: recorded before runs kept it)
    host: str | None = None
    #: when the run's process last said it is alive (see `MetadataStore.heartbeat`)
    heartbeat_at: datetime | None = None
    #: when someone asked, from any process, that the run be cancelled
    cancel_requested_at: datetime | None = None
    #: the run request's key (a sensor's, a schedule tick's), or None
    run_key: str | None = None
    #: the run request's free-form labels
    tags: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True, kw_only=True)
class MaterializationRecord:
    """One successful materialization of an asset (or one partition of it)."""

    run_id: str
    asset: str
    partition: str | None = None
    io: str
    #: where the output is: relative to the project's state directory ("data/x.parquet",
    #: "warehouse.duckdb"), so a moved or copied project finds its own files; absolute
    #: only for an output kept outside the state directory
    path: str | None = None
    rows: int | None = None
    bytes: int | None = None
    #: the output file's modification time just after it was written (seconds since the
    #: epoch), for telling a changed file from the one recorded; None for a database
    file_mtime: float | None = None
    #: a cheap digest of the output file's bytes, telling a copy (same bytes, new time)
    #: from a changed file; None for a database
    file_digest: str | None = None
    columns: tuple[Column, ...] = ()
    started_at: datetime
    finished_at: datetime
    duration_s: float
    code_version: str | None = None
    data_version: str | None = None
    #: data version of every input read, keyed "asset" or "asset[partition]"
    input_versions: dict[str, str] = field(default_factory=dict)


class MaterializationState(NamedTuple):
    """The newest materialization of one asset-partition, as the planner reads it in bulk.

    A plain tuple, not a record: planning a year of daily partitions over a
    thousand assets reads hundreds of thousands of them.
    """

    run_id: str
    asset: str
    partition: str | None
    io: str
    path: str | None
    rows: int | None
    finished_at: datetime
    code_version: str | None
    data_version: str | None
    input_versions: dict[str, str]
    #: what was stored, for telling whether the output is still the one recorded
    bytes: int | None = None
    file_mtime: float | None = None
    file_digest: str | None = None

    @classmethod
    def of(cls, record: MaterializationRecord) -> MaterializationState:
        """The state a full materialization record leaves."""
        return cls(
            record.run_id,
            record.asset,
            record.partition,
            record.io,
            record.path,
            record.rows,
            record.finished_at,
            record.code_version,
            record.data_version,
            dict(record.input_versions),
            record.bytes,
            record.file_mtime,
            record.file_digest,
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class CheckRecord:
    """The result of one asset check on one materialization of an asset-partition."""

    run_id: str
    asset: str
    partition: str | None = None
    check: str
    passed: bool
    severity: str = "error"  # "warn" | "error"
    blocking: bool = False
    message: str = ""
    #: JSON-able details (failing row count, bounds, a few offending rows)
    metadata: dict[str, Any] = field(default_factory=dict)
    at: datetime

    @property
    def is_blocking_failure(self) -> bool:
        """A failed blocking check of error severity: downstream must not read this data."""
        return not self.passed and self.blocking and self.severity == "error"


@dataclass(frozen=True, slots=True, kw_only=True)
class EventRecord:
    """Something that happened to one step of a run (or to the run itself when asset is None)."""

    run_id: str
    kind: EventKind
    at: datetime
    asset: str | None = None
    partition: str | None = None
    message: str = ""
    attempt: int = 1
    duration_s: float | None = None
    #: when this attempt started (None on events of no attempt, and on older records)
    started_at: datetime | None = None
    #: the machine and process the attempt ran in: the worker, or the coordinator for
    #: the in-process executor (None where no worker ran it)
    host: str | None = None
    pid: int | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class LogRecord:
    """What one attempt of a step wrote: its stdout, stderr and asset log records, as text."""

    run_id: str
    asset: str
    partition: str | None = None
    attempt: int = 1
    text: str
    at: datetime


#: The events that say how one attempt at a step ended (or that it began):
#: what `status` and `history --all` read. RETRIED is one failed attempt of
#: several, so it is an attempt too.
ATTEMPT_KINDS = frozenset(
    {
        EventKind.STARTED,
        EventKind.MATERIALIZED,
        EventKind.SKIPPED,
        EventKind.FAILED,
        EventKind.RETRIED,
        EventKind.CANCELLED,
    }
)

#: The attempt number of a step a cancelled run never started: its CANCELLED event
#: says so with attempt 0, since no attempt was made.
NOT_STARTED_ATTEMPT = 0
#: What `MetadataStore.step_counts` counts those steps as, apart from the cancelled.
NOT_STARTED_COUNT = "not_started"


class RunQuery(NamedTuple):
    """Which runs `MetadataStore.find_runs` returns, newest first: every filter given
    must hold (an empty tuple or None filters nothing)."""

    #: at most this many runs (none when ``limit <= 0``)
    limit: int = 20
    #: only runs with one of these statuses
    statuses: tuple[RunStatus, ...] = ()
    #: only runs with one of these triggers ("cli", "api", "check", "schedule"); a trigger
    #: also matches by what precedes its ":" ("schedule" finds "schedule:nightly@...")
    triggers: tuple[str, ...] = ()
    #: only runs that recorded a step event or check result of this asset
    asset: str | None = None
    #: only runs that recorded a step event or check result of this partition key
    partition: str | None = None
    #: only runs started at or after this time (timezone-aware)
    since: datetime | None = None
    #: only runs started before this time (timezone-aware; excluded)
    until: datetime | None = None
    #: only runs older than this run (a full run id), as listed: the page after it
    before: str | None = None


class Lease(NamedTuple):
    """One run's exclusive claim on an asset-partition while it materializes it.

    A plain tuple: one is taken and released per step, so it stays cheap.
    """

    asset: str
    partition: str | None
    run_id: str
    #: the process of the run that took it, on ``host``
    pid: int
    host: str
    acquired_at: datetime
    #: when it lapses unless renewed: another run may take it over from then on
    expires_at: datetime

    @property
    def key(self) -> tuple[str, str | None]:
        """The asset-partition this lease is on."""
        return (self.asset, self.partition)

    def is_live(
        self,
        now: datetime,
        *,
        is_run_running: bool,
        takeover: Callable[[Lease], bool] | None = None,
    ) -> bool:
        """Whether the lease still excludes other runs at ``now``: the one rule both
        stores apply before handing a held lease to another run.

        Args:
            now: The time of the question (timezone-aware).
            is_run_running: Whether the lease's run is RUNNING in the store (False
                when it finished, crashed, was cancelled, or was never recorded).
            takeover: The asking run's own judgement that the holder is gone (asked
                only of a lease that would otherwise stand).

        Returns:
            True while it has not expired (``expires_at > now``), its run is running,
            and ``takeover`` does not say the holder is gone.
        """
        if not (is_run_running and self.expires_at > now):
            return False
        return takeover is None or not takeover(self)
