"""Dynamic partition keys: list, add and remove the keys of an asset's DynamicPartitions.

The keys belong to the definition (its name), so adding a key to one asset adds
it to every asset that shares the definition. Removing a key keeps its stored
outputs and their records; ``prune`` deletes the outputs through each asset's
storage kind, and the records stay as history.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from assetflow.errors import UsageError
from assetflow.services.planning import check_asset_name
from assetflow.services.stores import project_store

if TYPE_CHECKING:
    from assetflow.clock import Clock
    from assetflow.partitions.dynamic import DynamicPartitions
    from assetflow.project import Project
    from assetflow.store.base import MetadataStore
    from assetflow.store.records import MaterializationState


@dataclass(frozen=True, slots=True)
class KeyChange:
    """What adding or removing keys of a dynamic definition did."""

    #: the asset named in the request
    asset: str
    #: the dynamic definition's name
    definition: str
    #: every asset whose partitions are that definition, sorted
    assets: tuple[str, ...]
    #: the keys that changed (added, or removed), in the order given
    changed: tuple[str, ...]
    #: the keys given that were already there (add) or not there (remove)
    unchanged: tuple[str, ...]
    #: (asset, key) of each stored output that is not live any more and was kept
    kept: tuple[tuple[str, str], ...] = ()
    #: (asset, key) of each stored output that was deleted (with prune)
    pruned: tuple[tuple[str, str], ...] = ()
    #: (asset, key, why) of each output prune could not delete
    not_pruned: tuple[tuple[str, str, str], ...] = ()


def dynamic_definition(project: Project, asset: str) -> DynamicPartitions:
    """The DynamicPartitions of `asset`.

    Raises:
        SelectionError: No asset has that name (with did-you-mean).
        UsageError: The asset is not partitioned, or its partitions are not dynamic.
    """
    from assetflow.partitions.dynamic import DynamicPartitions

    check_asset_name(project, asset)
    definition = project.graph.spec(asset).partitions
    if isinstance(definition, DynamicPartitions):
        return definition
    what = "is not partitioned" if definition is None else f"has {definition.describe()} partitions"
    raise UsageError(
        f"asset '{asset}' {what}, so it has no dynamic partition keys to list, add or remove.",
        hint='Only an asset declared with partitions=DynamicPartitions("name") has keys '
        "kept in the store; `assetflow list` shows each asset's partitions.",
    )


def sharing(project: Project, definition: DynamicPartitions) -> tuple[str, ...]:
    """Every asset whose partitions are `definition` (the same name), sorted."""
    return tuple(spec.name for spec in project.graph.specs() if spec.partitions == definition)


def partition_keys(project: Project, asset: str, store: MetadataStore | None = None) -> list[str]:
    """The live keys of the asset's dynamic definition, in the order added."""
    definition = dynamic_definition(project, asset)
    with project_store(project, store, reading=True) as opened:
        return opened.partition_keys([definition.name])[definition.name]


def add_partitions(
    project: Project,
    asset: str,
    keys: Iterable[str],
    *,
    store: MetadataStore | None = None,
    clock: Clock | None = None,
) -> KeyChange:
    """Add keys to the asset's dynamic definition; keys already there are left alone.

    Raises:
        UsageError: A key is not a valid key (nothing is added), or the asset's
            partitions are not dynamic.
    """
    from assetflow.clock import SystemClock

    definition = dynamic_definition(project, asset)
    wanted = _checked(keys)
    with project_store(project, store) as opened:
        added = opened.add_partition_keys(definition.name, wanted, (clock or SystemClock()).now())
    return KeyChange(
        asset,
        definition.name,
        sharing(project, definition),
        tuple(added),
        tuple(key for key in wanted if key not in added),
    )


def remove_partitions(
    project: Project,
    asset: str,
    keys: Iterable[str],
    *,
    prune: bool = False,
    store: MetadataStore | None = None,
    clock: Clock | None = None,
) -> KeyChange:
    """Remove keys from the asset's dynamic definition; keys not there are left alone.

    The stored outputs of every asset sharing the definition are kept, or with
    `prune` deleted through each one's storage kind (also those of keys removed
    earlier); their records stay as history either way.

    Raises:
        UsageError: A key is not a valid key (nothing is removed), or the asset's
            partitions are not dynamic.
    """
    from assetflow.clock import SystemClock

    definition = dynamic_definition(project, asset)
    wanted = _checked(keys)
    assets = sharing(project, definition)
    with project_store(project, store) as opened:
        removed = opened.remove_partition_keys(
            definition.name, wanted, (clock or SystemClock()).now()
        )
        live = set(opened.partition_keys([definition.name])[definition.name])
        gone = [key for key in wanted if key not in live]
        stored = opened.latest_states_of((name, key) for name in assets for key in gone)
    outputs = sorted((state.asset, state.partition or "") for state in stored.values())
    change = KeyChange(
        asset,
        definition.name,
        assets,
        tuple(removed),
        tuple(key for key in wanted if key not in removed),
    )
    if not prune:
        return _with(change, kept=tuple(outputs))
    pruned: list[tuple[str, str]] = []
    failed: list[tuple[str, str, str]] = []
    for key in sorted(stored):
        why = _delete_output(project, stored[key])
        if why is None:
            pruned.append((key[0], key[1] or ""))
        else:
            failed.append((key[0], key[1] or "", why))
    return _with(change, pruned=tuple(pruned), not_pruned=tuple(failed))


def _with(change: KeyChange, **fields: object) -> KeyChange:
    from dataclasses import replace

    return replace(change, **fields)  # type: ignore[arg-type]


def _checked(keys: Iterable[str]) -> list[str]:
    """The keys, each checked, repeats dropped; at least one."""
    from assetflow.partitions.dynamic import check_partition_key

    if isinstance(keys, str):
        keys = [keys]
    wanted = list(dict.fromkeys(check_partition_key(key) for key in keys))
    if not wanted:
        raise UsageError(
            "no partition keys were given.",
            hint="Name one or more keys, e.g. assetflow partitions add ASSET 2026-03-07-batch-2",
        )
    return wanted


def _delete_output(project: Project, state: MaterializationState) -> str | None:
    """Delete one stored output through its kind; None when done, else why not.

    A kind may delete its own outputs (a ``delete(ref)`` method); otherwise an output
    that is a file of its own, in the state directory, is deleted with its
    partition's directory when that is left empty. An output already gone counts
    as deleted.
    """
    from assetflow.execution.inputs import stored_ref
    from assetflow.execution.step import io_settings
    from assetflow.io import io_manager

    manager = io_manager(state.io, io_settings(project))
    ref = stored_ref(state, project.state_dir)
    delete = getattr(manager, "delete", None)
    if callable(delete):
        delete(ref)
        return None
    if ref.path is None:  # a kind that stores nothing
        return None
    if manager.partitions_share_path:
        return (
            f"the '{state.io}' kind keeps all partitions in {ref.path.name} and cannot delete one"
        )
    return _delete_file(ref.path, project.state_dir)


def _delete_file(path: Path, state_dir: Path) -> str | None:
    resolved = path.resolve()
    if not resolved.is_relative_to(state_dir.resolve()):
        return f"{path} is outside the state directory"
    resolved.unlink(missing_ok=True)
    parent = resolved.parent
    if parent != state_dir.resolve() and parent.name.startswith("partition="):
        with contextlib.suppress(OSError):  # not empty: something else lives there
            parent.rmdir()
    return None


def describe_keys(keys: Sequence[str]) -> str:
    """Keys as a message lists them: quoted, comma-separated."""
    from assetflow.partitions.base import list_keys

    return list_keys(list(keys))
