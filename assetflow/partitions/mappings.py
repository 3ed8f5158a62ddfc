"""Partition mappings: which partitions of an input each partition of an asset reads.

A mapping is declared per input (``@asset(mappings={"raw_records": Window(7)})``)
or decided by :func:`resolve_mapping` from the two definitions. Keys in and out
are ``str`` for a partitioned asset and ``None`` for the whole of an unpartitioned
one, so the answers are step keys as the planner uses them.

Window, Offset, Identity and TimeOverlap answer from the definitions alone:
their keys are clipped to the keys the definition has (not before its start, not
at or after its end) but not to the partitions complete at ``now``, so an asset
can see that an input partition it needs is not complete yet. At the start of
the range, Offset(-1) on the first partition reads nothing and Window(7) reads
the partitions that exist (one, two, ... up to seven). AllPartitions reads the
partitions complete at ``now``, because "all" has to stop somewhere.

Dynamic partitions (keys kept in the store) map like static ones: equal
definitions (one name) by Identity, Window and Offset by the order keys were
added; a declared Identity() also joins a dynamic definition to another dynamic
or a static one, key to key (a key the input lacks reads nothing).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TypeAlias

from assetflow.errors import DefinitionError, Problem
from assetflow.partitions.base import PartitionsDefinition
from assetflow.partitions.calendars import WeeklyPartitions
from assetflow.partitions.dynamic import DynamicPartitions
from assetflow.partitions.static import StaticPartitions
from assetflow.partitions.temporal import TimePartitions
from assetflow.partitions.types import MAPPING_TYPES as MAPPING_TYPES
from assetflow.partitions.types import AllPartitions as AllPartitions
from assetflow.partitions.types import Identity as Identity
from assetflow.partitions.types import Offset as Offset
from assetflow.partitions.types import PartitionMapping as PartitionMapping
from assetflow.partitions.types import TimeOverlap as TimeOverlap
from assetflow.partitions.types import Unpartitioned as Unpartitioned
from assetflow.partitions.types import Window as Window
from assetflow.partitions.types import undeclared_mapping

#: A definition, or None for an unpartitioned asset.
Definition: TypeAlias = PartitionsDefinition | None
#: A step key's partition: a key, or None for the whole of an unpartitioned asset.
StepPartition: TypeAlias = str | None


def resolve_mapping(
    down: Definition,
    up: Definition,
    declared: PartitionMapping | None,
    *,
    asset: str,
    param: str,
    file: str = "",
    line: int = 0,
) -> PartitionMapping:
    """Decide how the partitions of ``asset`` read its input ``param``.

    A declared mapping wins, once checked. Otherwise: an unpartitioned input is
    read whole (:class:`Unpartitioned`, also when neither asset is partitioned); an
    unpartitioned asset reads every partition of its input (:class:`AllPartitions`);
    equal definitions map by :class:`Identity`; time definitions in one timezone map
    by :class:`TimeOverlap`. Anything else must be declared.

    Args:
        down: The partitions of the asset, or None.
        up: The partitions of its input, or None.
        declared: The mapping declared for the input, or None.
        asset: The asset's name, for messages.
        param: The input's parameter (the upstream asset's name), for messages.
        file: The file defining the asset, for messages.
        line: The line of the asset's definition, for messages.

    Returns:
        The mapping to use.

    Raises:
        DefinitionError: When the declared mapping does not fit the definitions, or
            none can be decided; the message names both definitions and what to declare.
    """
    place = _Place(asset, param, file, line)
    if declared is not None:
        _check_declared(declared, down, up, place)
        return declared
    plain = undeclared_mapping(down, up)
    if plain is not None:
        return plain
    assert down is not None  # both partitioned, as undeclared_mapping left them
    assert up is not None
    if down == up:
        return Identity()
    if _same_timezone(down, up):
        return TimeOverlap()
    raise place.error(
        f"their partitions do not line up: {place.both(down, up)}, "
        f"and {_why_not_automatic(down, up)}.",
        "assetflow maps partitions by itself only between equal definitions, and by time "
        f"overlap between time definitions in one timezone. Declare which partitions of "
        f"'{param}' each partition of '{asset}' reads, e.g. all of them:\n\n"
        f'    @asset(partitions=..., mappings={{"{param}": AllPartitions()}})\n\n'
        "or give both assets the same partitions.",
    )


def upstream_keys(
    mapping: PartitionMapping,
    down_def: Definition,
    down_key: StepPartition,
    up_def: Definition,
    now: datetime,
) -> list[StepPartition]:
    """The partitions of the input that one partition of the asset reads.

    Args:
        mapping: The mapping from :func:`resolve_mapping`.
        down_def: The asset's partitions, or None.
        down_key: The asset's partition (a key of ``down_def``), or None.
        up_def: The input's partitions, or None.
        now: The time that decides which partitions AllPartitions reads.

    Returns:
        Keys of ``up_def`` in its order; ``[None]`` for an unpartitioned input; ``[]``
        when the partition reads nothing (e.g. Offset(-1) on the first partition).

    Raises:
        PartitionError: When ``down_key`` is not a key of ``down_def``.
    """
    if isinstance(mapping, Unpartitioned):
        return [None]
    up = _partitioned(up_def, mapping, "input")
    if isinstance(mapping, AllPartitions):
        return list(up.keys(now))
    down = _partitioned(down_def, mapping, "asset")
    key = _key(down_key, mapping)
    return list(_map_key(mapping, down, key, up, forward=True))


def downstream_keys(
    mapping: PartitionMapping,
    up_def: Definition,
    up_key: StepPartition,
    down_def: Definition,
    now: datetime,
) -> list[StepPartition]:
    """The partitions of the asset that read one partition of its input: the inverse
    of :func:`upstream_keys`, used to carry staleness downstream.

    Args:
        mapping: The mapping from :func:`resolve_mapping`.
        up_def: The input's partitions, or None.
        up_key: The input's partition (a key of ``up_def``), or None.
        down_def: The asset's partitions, or None.
        now: The time that decides which partitions read all of the input.

    Returns:
        Keys of ``down_def`` in its order; ``[None]`` for an unpartitioned asset.

    Raises:
        PartitionError: When ``up_key`` is not a key of ``up_def``.
    """
    if isinstance(mapping, Unpartitioned | AllPartitions):
        return [None] if down_def is None else list(down_def.keys(now))
    up = _partitioned(up_def, mapping, "input")
    down = _partitioned(down_def, mapping, "asset")
    key = _key(up_key, mapping)
    return list(_map_key(mapping, up, key, down, forward=False))


def _map_key(
    mapping: PartitionMapping,
    source: PartitionsDefinition,
    key: str,
    target: PartitionsDefinition,
    *,
    forward: bool,
) -> list[str]:
    """Keys of ``target`` related to ``key`` of ``source``: upstream when ``forward``."""
    if isinstance(mapping, Identity):
        if source is target or source == target or target.has_key(key):
            return [key]
        source.index(key)  # a bad key is an error, not an empty answer
        return []
    if isinstance(mapping, TimeOverlap):
        return _overlapping(_timed(source), key, _timed(target))
    position = source.index(key)
    if isinstance(mapping, Offset):
        position += mapping.n if forward else -mapping.n
        return target.keys_between(position, position + 1)
    if isinstance(mapping, Window):
        if forward:
            return target.keys_between(position - mapping.size + 1, position + 1)
        return target.keys_between(position, position + mapping.size)
    raise TypeError(f"{mapping!r} is not a partition mapping")


def _overlapping(source: TimePartitions, key: str, target: TimePartitions) -> list[str]:
    return source.overlapping(key, target)


def _timed(definition: PartitionsDefinition) -> TimePartitions:
    if not isinstance(definition, TimePartitions):
        raise TypeError(f"TimeOverlap() maps time partitions, not {definition.describe()}")
    return definition


def _partitioned(
    definition: Definition, mapping: PartitionMapping, role: str
) -> PartitionsDefinition:
    if definition is None:
        raise TypeError(f"{mapping!r} needs a partitioned {role}; resolve_mapping() decides")
    return definition


def _key(key: StepPartition, mapping: PartitionMapping) -> str:
    if key is None:
        raise TypeError(f"{mapping!r} maps partition keys; got None")
    return key


# -- checking and explaining ---------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Place:
    """Where a mapping is decided: the asset, its input, and the asset's definition site."""

    asset: str
    param: str
    file: str
    line: int

    def error(self, problem: str, fix: str) -> DefinitionError:
        where = f" ({self.file}:{self.line})" if self.file else ""
        message = f"asset '{self.asset}'{where} reads '{self.param}', but {problem}"
        return DefinitionError([Problem(self.file, self.line, message)], hint=fix)

    def both(self, down: Definition, up: Definition) -> str:
        return f"'{self.asset}' is {_shown(down)} and '{self.param}' is {_shown(up)}"


def _check_declared(
    declared: PartitionMapping, down: Definition, up: Definition, place: _Place
) -> None:
    name = repr(declared)
    if not isinstance(declared, MAPPING_TYPES):
        raise place.error(
            f"the mapping declared for it, {declared!r}, is not a partition mapping.",
            "Declare one of Identity(), AllPartitions(), Window(size), Offset(n) or "
            "TimeOverlap(), or leave the input out of `mappings` to have it decided.",
        )
    if isinstance(declared, Unpartitioned):
        if up is not None:
            raise place.error(
                f"it declares {name}, and '{place.param}' is partitioned ({_shown(up)}).",
                f'To read every partition of it, declare {{"{place.param}": AllPartitions()}}.',
            )
        return
    if up is None:
        raise place.error(
            f"it declares {name}, and '{place.param}' has no partitions to map.",
            f"An unpartitioned input is read whole: drop '{place.param}' from `mappings`.",
        )
    if isinstance(declared, AllPartitions):
        return
    if down is None:
        raise place.error(
            f"it declares {name}, and '{place.asset}' has no partitions to map from.",
            "An unpartitioned asset reads every partition of its input (AllPartitions()): "
            f"drop '{place.param}' from `mappings`, or give '{place.asset}' partitions.",
        )
    if isinstance(declared, Window | Offset) and down != up:
        raise place.error(
            f"it declares {name}, which needs both to have the same partitions: "
            f"{place.both(down, up)}.",
            _instead(down, up, place),
        )
    if isinstance(declared, Identity) and not _same_key_kind(down, up):
        raise place.error(
            f"it declares {name}, which reads the partition with the same key, and their "
            f"keys differ: {place.both(down, up)}.",
            _instead(down, up, place),
        )
    if isinstance(declared, TimeOverlap) and not _same_timezone(down, up):
        raise place.error(
            f"it declares {name}, which needs time partitions in one timezone: "
            f"{place.both(down, up)}.",
            _instead(down, up, place),
        )


def _instead(down: PartitionsDefinition, up: PartitionsDefinition, place: _Place) -> str:
    if down == up:
        return f"Drop '{place.param}' from `mappings`: equal partitions map key to key."
    if _same_timezone(down, up):
        return (
            "Give both assets the same partitions, or drop the mapping to read the "
            "input's partitions that overlap in time (TimeOverlap())."
        )
    return (
        f'Give both assets the same partitions, or declare {{"{place.param}": '
        "AllPartitions()} to read all of the input."
    )


def _same_timezone(down: Definition, up: Definition) -> bool:
    return (
        isinstance(down, TimePartitions)
        and isinstance(up, TimePartitions)
        and down.timezone == up.timezone
    )


def _same_key_kind(down: PartitionsDefinition, up: PartitionsDefinition) -> bool:
    """Whether keys of the two can be equal: both lists of keys (static or dynamic), or
    both time with the same keys."""
    listed = (StaticPartitions, DynamicPartitions)
    if isinstance(down, listed) and isinstance(up, listed):
        return True
    if not (isinstance(down, TimePartitions) and isinstance(up, TimePartitions)):
        return False
    if type(down) is not type(up) or down.key_format != up.key_format:
        return False
    if isinstance(down, WeeklyPartitions) and isinstance(up, WeeklyPartitions):
        return down.week_start == up.week_start
    return True


def _why_not_automatic(down: PartitionsDefinition, up: PartitionsDefinition) -> str:
    if isinstance(down, TimePartitions) and isinstance(up, TimePartitions):
        return f"their timezones differ ({down.timezone} and {up.timezone})"
    if isinstance(down, StaticPartitions) and isinstance(up, StaticPartitions):
        return "their static keys differ"
    if isinstance(down, DynamicPartitions) or isinstance(up, DynamicPartitions):
        return "only assets sharing one dynamic definition (the same name) map key to key"
    return "one is static and the other time-based"


def _shown(definition: Definition) -> str:
    return "not partitioned" if definition is None else definition.describe()
