"""A step's inputs: taken from this run's memory or read from storage, combined per parameter.

Collecting (which keys come from memory, which from storage) happens on the
coordinator's thread, which owns the run's state; loading (reading files,
concatenating partitions) happens where the step runs.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from assetflow.asset import AssetSpec
    from assetflow.io import IOSettings, OutputRef
    from assetflow.keys import AssetPartition
    from assetflow.planner.plan import Step
    from assetflow.store.records import MaterializationState


@dataclass(frozen=True, slots=True)
class ParamInput:
    """What one parameter receives: one key's value, or many partitions combined."""

    name: str
    annotation: Any
    reads_many: bool
    keys: tuple[AssetPartition, ...]
    #: values produced earlier in this run, by key
    in_memory: Mapping[AssetPartition, Any]
    #: where the other keys are stored
    stored: Mapping[AssetPartition, MaterializationState]
    #: the state directory that the stored keys' recorded paths are relative to
    root: Path | None = None


def collect_inputs(
    step: Step,
    spec: AssetSpec,
    reads_many: frozenset[str],
    values: Mapping[AssetPartition, Any],
    latest: Mapping[AssetPartition, MaterializationState],
    root: Path | None = None,
) -> tuple[ParamInput, ...]:
    """Decide, per parameter, which keys come from memory and which are read from storage
    (`latest`: where each stored key's newest materialization is, its path relative to
    the state directory `root`)."""
    by_param: dict[str, list[AssetPartition]] = {}
    for key in step.inputs:
        by_param.setdefault(key[0], []).append(key)
    params = []
    for param in spec.input_params():
        if param.name not in by_param and param.name not in reads_many:
            continue  # not an asset (it keeps its default), or an input with no key
        keys = tuple(by_param.get(param.name, ()))
        params.append(
            ParamInput(
                name=param.name,
                annotation=param.annotation,
                reads_many=param.name in reads_many,
                keys=keys,
                in_memory={key: values[key] for key in keys if key in values},
                stored={key: latest[key] for key in keys if key not in values},
                root=root,
            )
        )
    return tuple(params)


def load_inputs(
    params: tuple[ParamInput, ...],
    *,
    asset: str = "",
    partition: str | None = None,
    settings: IOSettings | None = None,
) -> dict[str, Any]:
    """Read what is stored, combine each parameter's keys into its argument, and convert
    it to the parameter's annotation where that is lossless (a DataFrame for a
    pyarrow.Table parameter, dicts for a pydantic model).

    ``settings`` are the storage kinds' (the project's `duckdb_wait`).

    Raises:
        StoreError: A stored input cannot be read (missing file, wrong type).
        TypeCheckError: An input cannot be converted to its annotation.
    """
    from assetflow.typecheck import convert_input

    return {
        param.name: convert_input(
            _load(param, settings),
            param.annotation,
            asset=asset,
            parameter=param.name,
            partition=partition,
        )
        for param in params
    }


def _load(param: ParamInput, settings: IOSettings | None = None) -> Any:
    if not param.reads_many:
        if not param.keys:
            return None  # e.g. Offset(-1) on the first partition
        key = param.keys[0]
        if key in param.in_memory:
            return param.in_memory[key]
        return read_one(param.stored[key], param.annotation, settings, param.root)
    pieces: list[Piece] = []
    for keys, in_memory in _runs(param):
        if in_memory:
            pieces.extend(Piece(key[1], param.in_memory[key]) for key in keys)
        else:
            pieces.append(Piece(None, _read_many(keys, param, settings), is_bulk=True))
    return combine(pieces, param.annotation)


@dataclass(frozen=True, slots=True)
class Piece:
    """One partition's value, or (`is_bulk`) several stored partitions read at once: a
    table, or a dict by partition key for values stored as JSON."""

    partition: str | None
    value: Any
    is_bulk: bool = False


def _runs(param: ParamInput) -> list[tuple[list[AssetPartition], bool]]:
    """The keys in order, cut into runs that are all in memory or all stored (and of one
    storage kind), so that each stored run is one read."""
    runs: list[tuple[list[AssetPartition], bool]] = []
    previous: tuple[bool, str] | None = None
    for key in param.keys:
        in_memory = key in param.in_memory
        kind = "" if in_memory else param.stored[key].io
        if runs and previous == (in_memory, kind):
            runs[-1][0].append(key)
        else:
            runs.append(([key], in_memory))
        previous = (in_memory, kind)
    return runs


def read_one(
    state: MaterializationState,
    annotation: Any,
    settings: IOSettings | None = None,
    root: Path | None = None,
) -> Any:
    """Read one stored asset-partition, as the parameter's annotation asks; its recorded
    path is resolved against the state directory `root` (the reading project's own)."""
    from assetflow.io import io_manager

    return io_manager(state.io, settings).read(_ref(state, root), annotation)


def read_many(
    states: list[MaterializationState],
    annotation: Any,
    settings: IOSettings | None = None,
    root: Path | None = None,
) -> Any:
    """Several stored partitions of one asset and kind, in one read, in the given order;
    their recorded paths are resolved against the state directory `root`."""
    from assetflow.io import io_manager

    refs = [_ref(state, root) for state in states]
    return io_manager(states[0].io, settings).read_partitions(states[0].asset, refs, annotation)


def stored_ref(state: MaterializationState, root: Path) -> OutputRef:
    """Where one recorded output is, resolved against the state directory `root`: what
    its kind's read, stat and head take."""
    return _ref(state, root)


def _read_many(
    keys: list[AssetPartition], param: ParamInput, settings: IOSettings | None = None
) -> Any:
    """Several stored partitions of one asset and kind, in one read."""
    states = [param.stored[key] for key in keys]
    return read_many(states, param.annotation, settings, param.root)


def _ref(state: MaterializationState, root: Path | None) -> OutputRef:
    from assetflow.io.locations import output_ref

    return output_ref(state.asset, state.partition, state.path, root or Path())


def combine(pieces: list[Piece], annotation: Any) -> Any:
    """Several partitions as one argument: tables concatenated in key order, other values
    as a dict by partition key. No partitions gives an empty table (or an empty dict)."""
    from assetflow.asset import is_table_type

    items = [piece.value for piece in pieces]
    if not items:
        return _empty(annotation) if is_table_type(annotation) else {}
    if all(_is_pandas(item) for item in items):
        import pandas as pd

        return pd.concat(items, ignore_index=True)
    if all(_is_arrow(item) for item in items):
        import pyarrow as pa

        return pa.concat_tables(items, promote_options="default")
    if any(_is_pandas(item) or _is_arrow(item) for item in items):
        return _mixed_tables(items, annotation)
    combined: dict[str | None, Any] = {}
    for piece in pieces:
        if piece.is_bulk:
            combined.update(piece.value)
        else:
            combined[piece.partition] = piece.value
    return combined


def _empty(annotation: Any) -> Any:
    if _wants_arrow(annotation):
        import pyarrow as pa

        return pa.table({})
    import pandas as pd

    return pd.DataFrame()


def _mixed_tables(items: list[Any], annotation: Any) -> Any:
    """Frames and Arrow tables together (some from memory, some read): the annotated kind."""
    import pyarrow as pa

    tables = [item if _is_arrow(item) else pa.Table.from_pandas(item) for item in items]
    combined = pa.concat_tables(tables, promote_options="default")
    return combined if _wants_arrow(annotation) else combined.to_pandas()


def _wants_arrow(annotation: Any) -> bool:
    from assetflow.asset import is_table_type

    text = getattr(annotation, "__module__", "") or ""
    return is_table_type(annotation) and (
        text.startswith("pyarrow") or str(annotation).endswith("Table")
    )


def _is_pandas(value: Any) -> bool:
    return type(value).__module__.startswith("pandas") and type(value).__name__ == "DataFrame"


def _is_arrow(value: Any) -> bool:
    return type(value).__module__.startswith("pyarrow") and type(value).__name__ == "Table"
