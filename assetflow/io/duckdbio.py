"""DuckDB storage (``io="duckdb"``): each asset a table in the project's one DuckDB file.

The SQL, the locking and the schema evolution live in ``assetflow.io.duckdb``;
this is the kind that the registry hands out. A partition is replaced in one
transaction (delete its rows, insert the new ones, commit).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from assetflow.datahash import table_version
from assetflow.errors import StoreError, WriteError
from assetflow.io.base import (
    Holds,
    IOSettings,
    OutputHead,
    OutputRef,
    OutputStat,
    StoredOutput,
    WriteTarget,
)
from assetflow.io.duckdb import (
    RowCounts,
    count_rows,
    count_tables_rows,
    database_path,
    delete_rows,
    read_head,
    read_table,
    to_frame,
    write_table,
)
from assetflow.io.parquet import _wants_arrow_table, column_types, empty_table, to_arrow_table
from assetflow.io.values import DUCKDB, SUPPORTED, is_table, type_name

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class DuckDBIO:
    """Tables in one DuckDB file (``settings.database``, else ``<state_dir>/warehouse.duckdb``);
    a partitioned asset's table has a ``partition_key`` column."""

    settings: IOSettings = field(default_factory=IOSettings)
    kind: str = DUCKDB
    holds: Holds = "tables"
    partitions_share_path: bool = True

    def write(self, value: object, target: WriteTarget) -> StoredOutput:
        """Replace the asset's table, or its partition's rows, in one transaction. The
        record's path is the database file, and its bytes the table's size in memory."""
        asset = target.asset
        if not is_table(value):
            raise WriteError(
                f"asset '{asset}' is stored in DuckDB (io=\"duckdb\") but returned a "
                f"{type_name(value)}, which is not a table.",
                hint="DuckDB stores a pandas.DataFrame or a pyarrow.Table: return one (e.g. "
                'pd.DataFrame(records)), or store the value as JSON (io="json").\n' + SUPPORTED,
            )
        database = self.settings.database or database_path(Path(target.directory))
        table = to_arrow_table(value, asset=asset)
        version = table_version(table)
        stored = write_table(
            Path(database),
            asset,
            table,
            partition=target.partition,
            lock_timeout=self.settings.lock_timeout,
        )
        logger.debug(
            "wrote %s to %s: %d rows, version %s", asset, database, table.num_rows, version
        )
        return StoredOutput(
            DUCKDB, Path(database), table.num_rows, table.nbytes, column_types(stored), version
        )

    def read(self, ref: OutputRef, as_type: object = None) -> object:
        """The partition's rows (every row of the table when ``ref.partition`` is None),
        without the ``partition_key`` column; see ``assetflow.io.duckdb`` for the dtypes."""
        database = self._database(ref)
        partitions = [ref.partition] if ref.partition is not None else None
        return self._read(database, ref.asset, partitions, as_type)

    def read_partitions(
        self, asset: str, refs: Sequence[OutputRef], as_type: object = None
    ) -> object:
        """The partitions' rows in one query, in the order of ``refs``. A partition with
        no rows adds nothing, so a key never written is not detected here."""
        databases = {Path(ref.path) for ref in refs if ref.path is not None}
        if len(databases) > 1 or len(databases) < min(len(refs), 1):
            raise StoreError(
                f"the partitions of asset '{asset}' are recorded in "
                f"{len(databases) or 'no'} DuckDB files ({sorted(map(str, databases))}); "
                "they are read from one.",
                hint="Materialize the asset's partitions again (with --force) so that "
                "they are all in the project's DuckDB file.",
            )
        if not refs:
            return empty_table(as_type)
        keys = [ref.partition or "" for ref in refs]
        return self._read(databases.pop(), asset, keys, as_type)

    def delete(self, ref: OutputRef) -> None:
        """Delete the partition's rows (the whole table for an unpartitioned ref), in one
        transaction; one already gone is left as it is (`partitions remove --prune`)."""
        if ref.path is None:
            return
        delete_rows(
            Path(ref.path),
            ref.asset,
            partition=ref.partition,
            lock_timeout=self.settings.lock_timeout,
        )

    def stat(self, ref: OutputRef) -> OutputStat | None:
        """The rows of the table or partition; None if the file or the table is missing.
        A partition written empty and one never written both have 0 rows."""
        if ref.path is None:
            return None
        rows = count_rows(
            Path(ref.path),
            ref.asset,
            partition=ref.partition,
            lock_timeout=self.settings.lock_timeout,
        )
        return None if rows is None else OutputStat(rows=rows)

    def head(self, ref: OutputRef, limit: int) -> OutputHead:
        """The first ``limit`` rows of the table or partition (a ``LIMIT`` query), in the
        order they were inserted, without the ``partition_key`` column; and the row count."""
        table, total = read_head(
            self._database(ref),
            ref.asset,
            partition=ref.partition,
            limit=limit,
            lock_timeout=self.settings.lock_timeout,
        )
        return OutputHead(table, total)

    def stat_partitions(self, asset: str, refs: Sequence[OutputRef]) -> list[OutputStat | None]:
        """``stat`` of each ref, in order, with one query per DuckDB file rather than one
        per partition: what verifying a year of daily partitions needs."""
        return self.stat_assets({asset: refs})[asset]

    def stat_assets(
        self, refs_by_asset: Mapping[str, Sequence[OutputRef]]
    ) -> dict[str, list[OutputStat | None]]:
        """``stat_partitions`` of several assets, with one connection per DuckDB file:
        a plan verifies every DuckDB asset, and opening the file costs more than the
        counts (see ``assetflow.io.stats``)."""
        by_database: dict[Path, list[str]] = {}
        for asset, refs in refs_by_asset.items():
            for database in {Path(ref.path) for ref in refs if ref.path is not None}:
                by_database.setdefault(database, []).append(asset)
        counted: dict[tuple[Path, str], RowCounts | None] = {}
        for database, assets in by_database.items():
            found = count_tables_rows(database, assets, lock_timeout=self.settings.lock_timeout)
            counted.update(((database, asset), counts) for asset, counts in found.items())
        return {
            asset: [
                _stat_of(ref, counted.get((Path(ref.path), asset))) if ref.path else None
                for ref in refs
            ]
            for asset, refs in refs_by_asset.items()
        }

    def _database(self, ref: OutputRef) -> Path:
        if ref.path is None:
            raise StoreError(
                f"the output of asset '{ref.asset}' has no recorded DuckDB file.",
                hint="Materialize the asset again (with --force).",
            )
        return Path(ref.path)

    def _read(
        self, database: Path, asset: str, partitions: list[str] | None, as_type: object
    ) -> object:
        table = read_table(
            database, asset, partitions=partitions, lock_timeout=self.settings.lock_timeout
        )
        return table if _wants_arrow_table(as_type) else to_frame(table)


def _stat_of(ref: OutputRef, counts: RowCounts | None) -> OutputStat | None:
    """What ``stat`` says of one ref, from its asset's row counts."""
    if counts is None:
        return None
    total, by_partition = counts
    if ref.partition is None:
        return OutputStat(rows=total)
    if not by_partition and total:
        return None  # a partition asked of a table stored unpartitioned
    return OutputStat(rows=by_partition.get(ref.partition, 0))
