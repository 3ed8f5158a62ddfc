"""Reading stored outputs back: the head of one (`assetflow show`) and the whole value
(`assetflow.read_asset`), found through the newest materialization the store records."""

from __future__ import annotations

import typing
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from assetflow.errors import UsageError
from assetflow.services.planning import bind_partitions, check_asset_name, check_partition
from assetflow.services.stores import project_store

if TYPE_CHECKING:
    from datetime import datetime

    from assetflow.project import Project
    from assetflow.store.base import MetadataStore
    from assetflow.store.records import MaterializationState

#: How many rows `assetflow show` prints unless told.
DEFAULT_HEAD_ROWS = 10


@dataclass(frozen=True, slots=True)
class AssetHead:
    """The first rows (or items) of one asset-partition's stored value: what `show` prints."""

    asset: str
    partition: str | None
    #: the storage kind it is stored as ("parquet", "duckdb", "json", "none", ...)
    kind: str
    run_id: str
    materialized_at: datetime
    #: how many rows were asked for
    limit: int
    #: (name, type) of each column; the type is empty for a JSON value's fields
    columns: tuple[tuple[str, str], ...]
    #: the first rows, each a tuple of plain Python values in column order
    rows: tuple[tuple[Any, ...], ...]
    #: how many rows (or items) are stored in all, when known
    total: int | None
    #: the value (cut to ``limit`` items) for a kind that stores values; None for tables
    value: Any = None
    #: True when no partition was asked for and the newest one was chosen
    is_newest_partition: bool = False

    @property
    def is_table(self) -> bool:
        """Whether the head has rows and columns (a table, or a JSON list of records)."""
        return bool(self.columns)

    @property
    def shown(self) -> int:
        """How many rows (or items) the head holds."""
        if self.is_table:
            return len(self.rows)
        if isinstance(self.value, list | dict):
            return len(self.value)
        return 0 if self.value is None else 1


def head(
    project: Project,
    asset: str,
    *,
    partition: str | None = None,
    limit: int = DEFAULT_HEAD_ROWS,
    store: MetadataStore | None = None,
) -> AssetHead:
    """The first ``limit`` rows of an asset's stored value, reading only those (a Parquet
    file's first row groups, a DuckDB ``LIMIT``).

    For a partitioned asset without ``partition``, the newest materialized partition
    (the last in the partitions' order) is shown.

    Raises:
        SelectionError: No asset has that name (with did-you-mean).
        UsageError: A partition of an unpartitioned asset, a negative limit, or
            nothing stored yet (the message says how to materialize it).
        PartitionError: ``partition`` is not a partition of the asset.
        StoreError: The stored output is missing or unreadable.
    """
    from assetflow.execution.inputs import stored_ref
    from assetflow.execution.step import io_settings
    from assetflow.io import io_manager

    if limit < 0:
        raise UsageError(
            f"--limit {limit}: the number of rows to show cannot be negative.",
            hint="Give 0 or more, e.g. --limit 20.",
        )
    _check_partition(project, asset, partition, store)
    with project_store(project, store) as opened:
        project = bind_partitions(project, opened)
        states = _stored(project, opened, asset, partition)
    state = states[-1]
    manager = io_manager(state.io, io_settings(project))
    found = manager.head(stored_ref(state, project.state_dir), limit)
    columns, rows, value = _tabulate(found.value, manager.holds == "tables")
    return AssetHead(
        asset=asset,
        partition=state.partition,
        kind=state.io,
        run_id=state.run_id,
        materialized_at=state.finished_at,
        limit=limit,
        columns=columns,
        rows=rows,
        total=found.total,
        value=value,
        is_newest_partition=partition is None and state.partition is not None,
    )


def read_asset(
    project: Project,
    asset: str,
    *,
    partition: str | None = None,
    store: MetadataStore | None = None,
) -> Any:
    """An asset's stored value, as the asset returned it: a DataFrame (a pyarrow Table
    when the asset is annotated so), or the JSON value validated into the annotated type.

    For a partitioned asset without ``partition``, every materialized partition is
    read, in the partitions' order, as a downstream unpartitioned asset reads it:
    tables concatenated into one, values as ``{partition: value}``.

    Raises:
        SelectionError: No asset has that name (with did-you-mean).
        UsageError: A partition of an unpartitioned asset, or nothing stored yet.
        PartitionError: ``partition`` is not a partition of the asset.
        StoreError: A stored output is missing or unreadable.
    """
    from assetflow.execution.inputs import read_many, read_one
    from assetflow.execution.step import io_settings
    from assetflow.io import io_manager

    _check_partition(project, asset, partition, store)
    spec = project.graph.spec(asset)
    with project_store(project, store) as opened:
        project = bind_partitions(project, opened)
        states = _stored(project, opened, asset, partition, every=True)
    settings = io_settings(project)
    if partition is not None or spec.partitions is None:
        return read_one(states[-1], spec.returns, settings, project.state_dir)
    kinds = sorted({state.io for state in states})
    if len(kinds) > 1:
        raise UsageError(
            f"the partitions of asset '{asset}' are stored as different kinds "
            f"({', '.join(kinds)}), so they cannot be read as one value.",
            hint=f"Read one partition at a time (partition=...), or materialize them all "
            f"again: assetflow materialize '{asset}' --force",
        )
    holds_values = io_manager(kinds[0], settings).holds != "tables"
    annotation = _mapping_of(spec.returns) if holds_values else spec.returns
    return read_many(states, annotation, settings, project.state_dir)


def _check_partition(
    project: Project, asset: str, partition: str | None, store: MetadataStore | None
) -> None:
    """Check the asset exists, and that ``partition`` fits it."""
    check_asset_name(project, asset)
    definition = project.graph.spec(asset).partitions
    if partition is None:
        return
    if definition is None:
        raise UsageError(
            f"asset '{asset}' is not partitioned, so it has no partition '{partition}'.",
            hint=f"Leave the partition out: assetflow show {asset}",
        )
    check_partition(project, asset, partition, store)


def _stored(
    project: Project,
    store: MetadataStore,
    asset: str,
    partition: str | None,
    *,
    every: bool = False,
) -> list[MaterializationState]:
    """What the store records for the asset (one partition, or every partition in the
    partitions' order, the newest last); never an empty list.

    Raises:
        UsageError: Nothing is recorded: says how to materialize it.
    """
    spec = project.graph.spec(asset)
    if partition is not None:
        found = store.latest_states_of([(asset, partition)])
    else:
        found = store.latest_states([asset])
    states = [state for key, state in found.items() if key[0] == asset]
    if not states or spec.is_source:
        raise _never_materialized(project, asset, partition)
    if spec.partitions is not None:
        definition = spec.partitions

        def order(state: MaterializationState) -> tuple[int, str]:
            key = state.partition or ""
            try:
                return definition.index(key), key
            except Exception:  # a key the definition no longer has: by its text, first
                return -1, key

        states.sort(key=order)
    return states if every else states[-1:]


def _never_materialized(project: Project, asset: str, partition: str | None) -> UsageError:
    spec = project.graph.spec(asset)
    if spec.is_source:
        return UsageError(
            f"'{asset}' is a source: it is observed each time assetflow plans, never "
            "materialized, so nothing of it is stored.",
            hint=f"Show an asset that reads it (`assetflow list '{asset}+'` lists them).",
        )
    option = f" --partition {partition}" if partition is not None else ""
    what = f"partition '{partition}' of asset '{asset}'" if partition else f"asset '{asset}'"
    return UsageError(
        f"{what} has never been materialized, so nothing is stored to read.",
        hint=f"Materialize it with everything it needs first:\n\n"
        f"    assetflow materialize '+{asset}'{option}",
    )


def _tabulate(
    value: Any, is_table: bool
) -> tuple[tuple[tuple[str, str], ...], tuple[tuple[Any, ...], ...], Any]:
    """(columns, rows, value) of what a kind's head read: a table as rows of plain values;
    a JSON list of records as rows too (its value kept); any other value as it is."""
    if is_table:
        columns = tuple((field.name, str(field.type)) for field in value.schema)
        pylists = [column.to_pylist() for column in value.columns]
        return columns, tuple(zip(*pylists, strict=True)), None
    if isinstance(value, list) and value and all(isinstance(item, dict) for item in value):
        names = list(dict.fromkeys(name for item in value for name in item))
        rows = tuple(tuple(item.get(name) for name in names) for item in value)
        return tuple((name, "") for name in names), rows, value
    return (), (), value


def _mapping_of(returns: Any) -> Any:
    """The annotation of ``{partition: value}`` for values annotated ``returns``: None (as
    stored) when the annotation is no type pydantic could validate into."""
    is_type = isinstance(returns, type) or typing.get_origin(returns) is not None
    if not is_type or returns in (object, Any, type(None)):
        return None
    return dict[str, returns]
