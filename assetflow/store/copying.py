"""Copy a project's whole history from one metadata store to another (`store copy`).

Every SQL backend keeps the same tables with the same columns, so a copy moves
rows table by table, keeping their ids (a materialization's id is what
``latest_state`` points at; an alert's, what its delivery attempts do). Rows
travel in one *portable form*: the values SQLite stores (times as ISO text with
microseconds in UTC, booleans as 0 and 1, nested values as JSON text); a
backend that stores other types converts on the way in and out.

The target must be empty and is written in one transaction: a copy that fails
half-way leaves the target as it was. Before the transaction commits, each
table's row count in the target is checked against the source's.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from assetflow.errors import StoreError

#: Every table of a store's history, in the order a copy writes them.
TABLES = (
    "runs",
    "materializations",
    "latest_state",
    "events",
    "check_results",
    "step_logs",
    "code_versions",
    "code_sources",
    "leases",
    "dynamic_partitions",
    "ticks",
    "origin_states",
    "sensor_cursors",
    "scheduler_lease",
    "incidents",
    "incident_members",
    "alerts",
    "alert_attempts",
    "lineage_outbox",
)

#: A table's rows as a copy moves them: its column names, and the rows in portable form.
Rows = tuple[tuple[str, ...], Iterable[Sequence[object]]]


@runtime_checkable
class CopyableStore(Protocol):
    """A store whose tables can be read and loaded whole (the SQL backends)."""

    def table_columns(self, table: str) -> tuple[str, ...]:
        """The columns of ``table``, in the store's order."""
        ...

    def count_rows(self, table: str) -> int:
        """How many rows ``table`` holds."""
        ...

    def read_rows(self, table: str, columns: Sequence[str]) -> Iterable[Sequence[object]]:
        """Every row of ``table`` (those ``columns``), in portable form."""
        ...

    def load_rows(self, tables: Mapping[str, Rows], expected: Mapping[str, int]) -> dict[str, int]:
        """Insert rows (portable form, ids kept) into empty tables, all in one transaction;
        before it commits, count each table and check the counts (`check_counts`).

        Returns:
            Each table's count as loaded.

        Raises:
            StoreError: A row cannot be written, or a count is not ``expected``'s;
                nothing of the load is kept.
        """
        ...


@dataclass(frozen=True, slots=True)
class CopyResult:
    """What a copy moved: each table's rows, as counted in the source and the target."""

    counts: dict[str, tuple[int, int]]

    @property
    def total(self) -> int:
        return sum(source for source, _ in self.counts.values())


def copy_store(
    source: object, target: object, *, source_shown: str, target_shown: str
) -> CopyResult:
    """Copy every table of ``source`` into the empty ``target``, in one transaction.

    Raises:
        StoreError: Either store cannot be copied (not a SQL backend), the target
            already holds history, their tables do not match, a row cannot be
            written, or the counts differ after loading (then nothing is kept).
    """
    for store, shown in ((source, source_shown), (target, target_shown)):
        if not isinstance(store, CopyableStore):
            raise StoreError(
                f"the metadata store {shown} cannot be copied: only SQLite and PostgreSQL "
                "stores keep their history in tables.",
                hint="Copy between sqlite:... and postgresql://... stores.",
            )
    assert isinstance(source, CopyableStore)
    assert isinstance(target, CopyableStore)
    # The schemas first: a store at another version may lack a table altogether.
    columns_of: dict[str, tuple[str, ...]] = {}
    for table in TABLES:
        columns = source.table_columns(table)
        theirs = target.table_columns(table)
        if set(columns) != set(theirs):
            raise StoreError(
                f"the table {table} has the columns {_listed(columns)} in {source_shown} "
                f"but {_listed(theirs)} in {target_shown}, so rows cannot be copied as "
                "they are.",
                hint="Both stores must be at the same schema version: run `assetflow store "
                "migrate` with this assetflow on each, then copy again.",
            )
        columns_of[table] = columns
    held = {table: count for table in TABLES if (count := target.count_rows(table))}
    if held:
        what = ", ".join(f"{count} {table}" for table, count in list(held.items())[:4])
        raise StoreError(
            f"the target store {target_shown} already holds history ({what}): a copy goes "
            "into an empty store only, so that nothing is merged or overwritten.",
            hint="Copy into a new database or file (PostgreSQL: `createdb NAME`), or drop "
            "the target's tables first if its history is not needed.",
        )
    expected: dict[str, int] = {}
    tables: dict[str, Rows] = {}
    for table, columns in columns_of.items():
        expected[table] = source.count_rows(table)
        tables[table] = (columns, source.read_rows(table, columns))
    loaded = target.load_rows(tables, expected)
    return CopyResult({table: (expected[table], loaded.get(table, 0)) for table in TABLES})


def _listed(columns: Sequence[str]) -> str:
    return ", ".join(columns) if columns else "none (the table is missing)"


def check_counts(expected: Mapping[str, int], loaded: Mapping[str, int], shown: str) -> None:
    """Raise if a table's count as loaded differs from the source's.

    Raises:
        StoreError: Some table's counts differ (the caller's transaction rolls back).
    """
    wrong = [
        f"{table}: {loaded.get(table, 0)} of {count}"
        for table, count in expected.items()
        if loaded.get(table, 0) != count
    ]
    if not wrong:
        return
    raise StoreError(
        f"copying into {shown} wrote other row counts than the source holds "
        f"({'; '.join(wrong)}), so nothing was kept.",
        hint="Another process may have written to the source during the copy: stop the "
        "scheduler, the UI and running materializations, then copy again.",
    )
