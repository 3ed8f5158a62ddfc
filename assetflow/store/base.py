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
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from types import TracebackType
from typing import Protocol, Self, runtime_checkable

from assetflow.store.records import (
    CheckRecord,
    EventRecord,
    LogRecord,
    MaterializationRecord,
    MaterializationState,
    RunRecord,
    RunStatus,
)

#: An asset and one of its partitions (None for an unpartitioned asset).
AssetPartition = tuple[str, str | None]


@runtime_checkable
class MetadataStore(Protocol):
    """Where runs, their events, materializations and asset code are recorded."""

    def create_run(self, run: RunRecord) -> None:
        """Record a new run.

        Args:
            run: The run, usually with status RUNNING and no ``finished_at``.

        Raises:
            StoreError: A run with this id exists, or the store cannot be written.
        """
        ...

    def finish_run(self, run_id: str, status: RunStatus, finished_at: datetime) -> None:
        """Set the final status and end time of a run.

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
        """Finish a run only if it is still RUNNING, and record ``events`` with it.

        Both happen in one transaction, and only when the run was running: two
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

    def run_events(self, run_id: str) -> list[EventRecord]:
        """Every event of one run (full id), in time order."""
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
