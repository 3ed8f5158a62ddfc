"""The MetadataStore protocol: what every metadata store backend offers, and its semantics.

Semantics every backend shares (the contract tests in ``tests/store`` pin them):

- Times are timezone-aware UTC datetimes; a naive datetime is refused with a
  StoreError, other timezones are converted to UTC.
- "Newest" means the latest ``finished_at`` (materializations), ``started_at``
  (runs) or ``at`` (events); records with the same time are ordered by when
  they were written.
- Bulk reads (``latest_materializations``, ``latest_failures``) answer in one
  query whatever the number of assets, because the planner asks for all of them.
- A materialization or event may name a run that was never created: the store
  records what it is given and does not police references.
- A lease is one run's exclusive claim on one asset-partition while it
  materializes it, so that two runs of one project never write the same
  asset-partition at once. It lapses when it expires, when its run is no longer
  RUNNING (finishing a run releases its leases in the same transaction), or when
  the caller finds its process dead; taking one is a single short write
  transaction, race-free across processes.
- A unit of work (``unit_of_work()``) is one transaction around a block: every
  write the block makes through the store (``record``, ``create_run``,
  ``finish_run``, lease calls, ...) commits together when the block ends, or
  none does when it raises. A unit opened inside another joins it. Other
  threads and processes wait for the unit to end before they write (and, on the
  memory store, before they read): keep the block short.
- A run records its host and a heartbeat: ``heartbeat()`` both says the run's
  process is alive and asks whether a cancel was requested, in one transaction,
  so any process (on any machine sharing the store) may ``request_cancel()``.
- Every store also keeps the scheduler's records (ticks, its leader lease, the
  state of each schedule and sensor, sensor cursors): ``MetadataStore`` extends
  ``AutomationStore`` (``assetflow.store.automation``), where their semantics are.
- And alerting's records (incidents with their members, the alert outbox and its
  delivery attempts): ``MetadataStore`` extends ``AlertStore``
  (``assetflow.store.alerts``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from contextlib import AbstractContextManager
from datetime import datetime
from types import TracebackType
from typing import TYPE_CHECKING, Protocol, Self, runtime_checkable

from assetflow.errors import StoreError
from assetflow.keys import AssetPartition as AssetPartition
from assetflow.store.alerts import AlertStore
from assetflow.store.automation import AutomationStore
from assetflow.store.normalise import MAX_INTEGER, as_utc, readable_text
from assetflow.store.records import (
    CheckRecord,
    EventRecord,
    Lease,
    LogRecord,
    MaterializationRecord,
    MaterializationState,
    RunQuery,
    RunRecord,
    RunStatus,
)

if TYPE_CHECKING:
    from assetflow.store.lineage import LineageOutbox


def normalise_lease(lease: Lease) -> Lease:
    """Check ``lease`` the way every backend does, and return it with its times in UTC.

    Partition keys are never empty (the SQLite store keeps an unpartitioned
    asset's lease under the key ''), so an empty one is refused rather than
    confused with None.

    Raises:
        StoreError: A time is naive, the pid does not fit 64 bits, a text is not
            valid Unicode, or the partition key is empty.
    """
    where = f"lease on '{readable_text(lease.asset)}' of run '{readable_text(lease.run_id)}'"
    texts = {
        "asset": lease.asset,
        "partition": lease.partition,
        "run_id": lease.run_id,
        "host": lease.host,
    }
    for name, text in texts.items():
        if text is not None and readable_text(text) != text:
            raise StoreError(
                f"{where} has a {name} that is not valid Unicode text: {text!r}.",
                hint="The metadata store keeps UTF-8 text: pass valid text.",
            )
    if lease.partition == "":
        raise StoreError(
            f"{where} has an empty partition key.",
            hint="Partition keys are never empty: pass partition=None for an unpartitioned asset.",
        )
    if not -MAX_INTEGER - 1 <= lease.pid <= MAX_INTEGER:
        raise StoreError(
            f"{where} has pid {lease.pid}, which does not fit a 64-bit integer column.",
            hint="This is a bug in the code that built the lease; please report it.",
        )
    return lease._replace(
        acquired_at=as_utc(lease.acquired_at, f"{where} acquired_at"),
        expires_at=as_utc(lease.expires_at, f"{where} expires_at"),
    )


class UnitOfWork(Protocol):
    """One open transaction of a store, as ``MetadataStore.unit_of_work()`` yields it.

    Every write made through the store while it is open joins it. A backend's
    unit also offers that backend's own door for writers of new tables (the
    SQLite unit has ``execute``); those writers live in the store's package.
    """

    @property
    def is_nested(self) -> bool:
        """Whether this unit joined one opened further out (which commits or rolls back)."""
        ...

    def after_commit(self, callback: Callable[[], None]) -> None:
        """Call ``callback`` once the outermost unit has committed (never if it rolls back).

        For what must not happen unless the writes are durable (delivering an
        alert, trusting a cache of what is stored).
        """
        ...


@runtime_checkable
class MetadataStore(AutomationStore, AlertStore, Protocol):
    """Where runs, their events, materializations and asset code are recorded, and
    (through ``AutomationStore``) the scheduler's ticks, lease, origin states and cursors,
    and (through ``AlertStore``) incidents and the alert outbox.
    """

    def create_run(self, run: RunRecord) -> None:
        """Record a new run.

        Args:
            run: The run, usually with status RUNNING and no ``finished_at``.

        Raises:
            StoreError: A run with this id exists, or the store cannot be written.
        """
        ...

    def finish_run(self, run_id: str, status: RunStatus, finished_at: datetime) -> None:
        """Set the final status and end time of a run, and release its leases, in one transaction.

        Args:
            run_id: The full id of the run.
            status: How it ended.
            finished_at: When it ended (timezone-aware).

        Raises:
            StoreError: No run has this id, or the store cannot be written.
        """
        ...

    def finish_run_if_running(
        self,
        run_id: str,
        status: RunStatus,
        finished_at: datetime,
        events: Sequence[EventRecord] = (),
    ) -> bool:
        """Finish a run only if it is still RUNNING, record ``events`` and release its leases.

        All happen in one transaction, and only when the run was running: two
        processes that both find a run orphaned mark it (and record its events)
        once between them.

        Args:
            run_id: The full id of the run.
            status: How it ended.
            finished_at: When it ended (timezone-aware).
            events: Events to record along with the status (e.g. why it ended).

        Returns:
            True if the run was running and is now finished; False, writing
            nothing, if it had finished already or no run has this id.

        Raises:
            StoreError: An event is invalid, or the store cannot be written.
        """
        ...

    def record(
        self,
        materializations: Sequence[MaterializationRecord] = (),
        events: Sequence[EventRecord] = (),
        checks: Sequence[CheckRecord] = (),
        logs: Sequence[LogRecord] = (),
    ) -> None:
        """Write a batch of materializations, events, check results and step logs in one
        transaction.

        The executor calls this once per finished step, so it is cheap: one short
        write transaction whatever the number of rows.

        Raises:
            StoreError: A record is invalid (naive time, ...) or the store cannot
                be written; then nothing of the batch is written.
        """
        ...

    def get_run(self, run_id: str) -> RunRecord | None:
        """Find a run by its id or by a unique prefix of it (like a git short hash).

        An exact id wins over longer ids it is a prefix of.

        Returns:
            The run, or None when no run id starts with ``run_id`` (or it is empty).

        Raises:
            StoreError: The prefix matches several runs (the message lists them).
        """
        ...

    def list_runs(self, limit: int = 20, status: RunStatus | None = None) -> list[RunRecord]:
        """The most recent runs, newest first.

        Args:
            limit: At most this many runs (none when ``limit <= 0``).
            status: Only runs with this status, if given.
        """
        ...

    def find_runs(self, query: RunQuery) -> list[RunRecord]:
        """The runs ``query`` selects, newest first (by start, ties: last written first).

        A run matches ``query.asset`` (and ``query.partition``) when it recorded a
        step event or a check result of that asset (partition). ``query.before``
        names a run by its full id: only runs listed after it come back, the next
        page; an unknown id matches nothing.

        Raises:
            StoreError: A time is naive.
        """
        ...

    def run_events(self, run_id: str) -> list[EventRecord]:
        """Every event of one run (full id), in time order."""
        ...

    def step_counts(self, run_ids: Iterable[str]) -> dict[str, dict[str, int]]:
        """How many step events of each kind each run recorded, in one query:
        ``{run_id: {"materialized": 12, "failed": 1}}`` (runs with none are left out).

        A cancelled run's steps that never started (CANCELLED events with attempt
        `NOT_STARTED_ATTEMPT`) count as ``"not_started"``, not ``"cancelled"``."""
        ...

    def asset_history(
        self, asset: str, partition: str | None = None, limit: int = 50
    ) -> list[MaterializationRecord]:
        """The materializations of an asset, newest first.

        Args:
            asset: The asset name.
            partition: Only this partition; None means every partition of the asset.
            limit: At most this many records (none when ``limit <= 0``).
        """
        ...

    def latest_materializations(
        self, assets: Iterable[str] | None = None
    ) -> dict[AssetPartition, MaterializationRecord]:
        """The newest materialization of every (asset, partition), in one bulk query.

        Args:
            assets: Only these assets (a single string is one asset name); None
                means every asset in the store.

        Returns:
            The newest record keyed by (asset, partition); pairs never
            materialized are absent.
        """
        ...

    def latest_states(
        self, assets: Iterable[str] | None = None
    ) -> dict[AssetPartition, MaterializationState]:
        """`latest_materializations` as plain states (what the planner reads), in one query."""
        ...

    def latest_states_of(
        self, keys: Iterable[AssetPartition]
    ) -> dict[AssetPartition, MaterializationState]:
        """The latest states of exactly these asset-partitions, in one query."""
        ...

    def latest_attempts(self, keys: Iterable[AssetPartition]) -> dict[AssetPartition, EventRecord]:
        """The newest step event of each of these asset-partitions, in one query:
        how its last attempt ended (or that it started), whatever run made it.

        Only kinds in `ATTEMPT_KINDS` count; keys with none are absent.
        """
        ...

    def attempts(
        self, asset: str, partition: str | None = None, limit: int = 50
    ) -> list[EventRecord]:
        """Every attempt at an asset's steps, newest first: its events of the kinds in
        `ATTEMPT_KINDS` except STARTED (an attempt that ended says how).

        Args:
            asset: The asset name.
            partition: Only this partition; None means every partition of the asset.
            limit: At most this many events (none when ``limit <= 0``).
        """
        ...

    def latest_failures(
        self, assets: Iterable[str] | None = None
    ) -> dict[AssetPartition, EventRecord]:
        """The newest FAILED event of every (asset, partition), in one bulk query.

        Run-level events (asset None) are not included.

        Args:
            assets: Only these assets; None means every asset in the store.
        """
        ...

    def run_checks(self, run_id: str) -> list[CheckRecord]:
        """Every check result of one run (full id), in time order."""
        ...

    def step_logs(
        self, run_id: str, asset: str | None = None, partition: str | None = None
    ) -> list[LogRecord]:
        """What the step attempts of one run (full id) wrote, in the order it was recorded.

        Args:
            run_id: The full id of the run.
            asset: Only this asset's logs, if given.
            partition: Only this partition's logs, if given.
        """
        ...

    def latest_check_results(
        self, assets: Iterable[str] | None = None
    ) -> dict[AssetPartition, list[CheckRecord]]:
        """The newest result of each check of each asset-partition, sorted by check name."""
        ...

    def check_history(
        self, asset: str, partition: str | None = None, limit: int = 200
    ) -> list[CheckRecord]:
        """An asset's check results, newest first."""
        ...

    def save_code(self, code_version: str, source: str) -> None:
        """Keep the source a code version was computed from, if not kept already.

        Idempotent: the first source saved for a code version stays, and each
        distinct source text is stored once however many code versions share it.
        """
        ...

    def save_codes(self, sources: Mapping[str, str]) -> None:
        """`save_code` for many code versions at once, in one transaction."""
        ...

    def saved_codes(self, code_versions: Iterable[str]) -> set[str]:
        """Which of these code versions have their source saved, in one query."""
        ...

    def get_code(self, code_version: str) -> str | None:
        """The source saved for a code version, or None."""
        ...

    def add_partition_keys(self, name: str, keys: Sequence[str], at: datetime) -> list[str]:
        """Add keys to the dynamic partitions definition ``name``, in one transaction.

        A key that is already live is left as it is; a removed key is revived (it
        keeps its first position in the order). Keys given twice count once.

        Returns:
            The keys that were not live before, in the order given.
        """
        ...

    def remove_partition_keys(self, name: str, keys: Sequence[str], at: datetime) -> list[str]:
        """Remove live keys from the dynamic partitions definition ``name``.

        The key's row stays with ``removed_at`` set; materializations are not touched.

        Returns:
            The keys that were live and are now removed, in the order given.
        """
        ...

    def partition_keys(self, names: Iterable[str]) -> dict[str, list[str]]:
        """The live keys of each named dynamic definition, in the order first added,
        in one query; a name without keys maps to an empty list."""
        ...

    def acquire_lease(
        self,
        lease: Lease,
        *,
        now: datetime,
        takeover: Callable[[Lease], bool] | None = None,
    ) -> Lease | None:
        """Take the lease on ``(lease.asset, lease.partition)`` for ``lease.run_id``.

        One short write transaction, race-free across processes: of several runs
        asking at once, exactly one gets it. A lease held by another run is taken
        over when it expired (``expires_at <= now``), when its run is not RUNNING
        (finished, crashed, cancelled, or no such run), or when
        ``takeover(holder)`` returns True.

        Args:
            lease: The lease wanted: the asset-partition, the run, its process and
                host, and times (timezone-aware).
            now: The time of the request, against which expiry is judged.
            takeover: Asked about a holder that is otherwise live (another run,
                unexpired, RUNNING), typically "is its pid dead on this host?".
                It runs inside the write transaction: keep it quick, and do not
                use the store from it.

        Returns:
            None when the lease is now the run's: it was free, lapsed or taken
            over (``lease`` is stored as given), or the run held it already (only
            its ``expires_at`` is renewed). Otherwise the holder's lease,
            unchanged.

        Raises:
            StoreError: A time is naive, a text is invalid, the partition key is
                empty, or the store cannot be written.
        """
        ...

    def release_leases(self, run_id: str, keys: Iterable[AssetPartition] | None = None) -> None:
        """Drop the run's leases on these asset-partitions, in one transaction.

        Never touches another run's lease; keys the run does not hold are ignored.

        Args:
            run_id: The full id of the run.
            keys: The (asset, partition) pairs to release; None releases every
                lease of the run.
        """
        ...

    def renew_leases(self, run_id: str, expires_at: datetime) -> None:
        """Push back the expiry of every lease the run holds to ``expires_at``.

        Raises:
            StoreError: ``expires_at`` is naive, or the store cannot be written.
        """
        ...

    def leases(self) -> list[Lease]:
        """Every lease held now (expired or not), sorted by asset then partition.

        An unpartitioned asset's lease (partition None) sorts before its partitions.
        """
        ...

    def heartbeat(self, run_id: str, at: datetime) -> bool:
        """Record that the run's process is alive at ``at``, and say whether to stop.

        One short write transaction serves both the heartbeat and the cancel poll.

        Args:
            run_id: The full id of the run.
            at: Now, as the run's process sees it (timezone-aware).

        Returns:
            True when a cancel has been requested for the run (``request_cancel``).

        Raises:
            StoreError: No run has this id, ``at`` is naive, or the store cannot
                be written.
        """
        ...

    def request_cancel(self, run_id: str, at: datetime) -> RunRecord:
        """Ask a running run to stop; its process notices at its next ``heartbeat``.

        Asking twice keeps the first request's time.

        Args:
            run_id: The run's id or a unique prefix of it (as ``get_run`` takes).
            at: When the cancel is asked for (timezone-aware).

        Returns:
            The run as now recorded, with ``cancel_requested_at`` set.

        Raises:
            UnknownRunError: No run id starts with ``run_id`` (exit 2).
            AmbiguousRunIdError: Several do (exit 2).
            RunFinishedError: The run is no longer running (exit 2).
            StoreError: ``at`` is naive, or the store cannot be written.
        """
        ...

    def lineage_outbox(self) -> LineageOutbox:
        """This store's outbox of OpenLineage events (see ``assetflow.store.lineage``)."""
        ...

    def unit_of_work(self) -> AbstractContextManager[UnitOfWork]:
        """Open one transaction around a block: its writes commit together, or not at all.

        Nested use joins the outer unit: only the outermost one commits or rolls
        back. A write that fails inside the block writes nothing of its own (its
        batch stays whole), and the block may go on.

        Raises:
            StoreError: The store is closed, cannot take the write lock, or the
                commit fails (then nothing of the block is written).
        """
        ...

    def close(self) -> None:
        """Release the store's resources; using it afterwards is a StoreError."""
        ...

    def __enter__(self) -> Self: ...

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None: ...
