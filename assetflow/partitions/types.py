"""The partition mappings as values: what an asset declares per input, and what the
graph holds per edge. How each maps keys is in ``mappings.py``; this module imports
no partition definition, so a project without partitions never loads them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TypeAlias

from assetflow.errors import DefinitionError


@dataclass(frozen=True, slots=True)
class Identity:
    """Each partition reads the input's partition with the same key."""


@dataclass(frozen=True, slots=True)
class AllPartitions:
    """The asset (or each of its partitions) reads every complete partition of the input."""


@dataclass(frozen=True, slots=True)
class Window:
    """Each partition reads the input's partition with the same position and the
    ``size - 1`` before it: ``Window(7)`` on daily partitions is the 7 days up to this one."""

    size: int

    def __post_init__(self) -> None:
        if isinstance(self.size, bool) or not isinstance(self.size, int) or self.size < 1:
            raise DefinitionError(
                f"Window({self.size!r}) needs a size of at least 1 partition.",
                hint="Window(7) reads 7 partitions: this one and the 6 before it.",
            )


@dataclass(frozen=True, slots=True)
class Offset:
    """Each partition reads the input's partition ``n`` steps away: ``Offset(-1)`` is the
    previous one (nothing, for the first partition)."""

    n: int

    def __post_init__(self) -> None:
        if isinstance(self.n, bool) or not isinstance(self.n, int):
            raise DefinitionError(
                f"Offset({self.n!r}) needs a whole number of partitions.",
                hint="Offset(-1) reads the previous partition, Offset(1) the next one.",
            )


@dataclass(frozen=True, slots=True)
class TimeOverlap:
    """Each partition reads the input's partitions whose time windows overlap its own.

    Decided automatically between time definitions of one timezone: a monthly
    asset reading daily partitions reads that month's days, a daily asset reading
    monthly partitions reads the month that contains the day.
    """


@dataclass(frozen=True, slots=True)
class Unpartitioned:
    """The input has no partitions: the asset (or each of its partitions) reads all of it."""


PartitionMapping: TypeAlias = (
    Identity | AllPartitions | Window | Offset | TimeOverlap | Unpartitioned
)
MAPPING_TYPES = (Identity, AllPartitions, Window, Offset, TimeOverlap, Unpartitioned)


def undeclared_mapping(down: object, up: object) -> PartitionMapping | None:
    """The mapping of an input declared with none, when the definitions need no look:
    an unpartitioned input is read whole, an unpartitioned asset reads every partition
    of its input. None when both are partitioned (``resolve_mapping`` decides)."""
    if up is None:
        return Unpartitioned()
    if down is None:
        return AllPartitions()
    return None
