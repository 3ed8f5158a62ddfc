"""Key ranges: runs of consecutive partition keys, for compact state and short display."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from assetflow.partitions.base import PartitionError, PartitionsDefinition


@dataclass(frozen=True, slots=True)
class KeyRange:
    """``count`` consecutive keys of a definition, from ``first`` to ``last`` (both included)."""

    first: str
    last: str
    count: int

    def render(self) -> str:
        """``2026-01-01..2026-03-14 (73)``, or just the key when the range holds one."""
        if self.count == 1:
            return self.first
        return f"{self.first}..{self.last} ({self.count})"


def compact(keys: Iterable[str], definition: PartitionsDefinition) -> list[KeyRange]:
    """Group keys into runs of keys that are consecutive in the definition's order.

    Args:
        keys: Keys of ``definition``, in any order; repeats count once.
        definition: The definition that orders the keys.

    Returns:
        The runs, oldest first; ``expand(compact(keys, d), d)`` gives the keys back,
        sorted and without repeats.

    Raises:
        PartitionError: When a key is not a key of ``definition``.
    """
    positions = sorted({definition.index(key) for key in keys})
    ranges = []
    run_start = 0
    for at in range(1, len(positions) + 1):
        if at == len(positions) or positions[at] != positions[at - 1] + 1:
            first, last = positions[run_start], positions[at - 1]
            ranges.append(
                KeyRange(definition.key_at(first), definition.key_at(last), last - first + 1)
            )
            run_start = at
    return ranges


def expand(ranges: Iterable[KeyRange], definition: PartitionsDefinition) -> list[str]:
    """The keys the ranges hold, in the order of the ranges.

    Args:
        ranges: Ranges made by :func:`compact` for ``definition``.
        definition: The definition the ranges belong to.

    Returns:
        Every key of every range.

    Raises:
        PartitionError: When a range does not fit the definition (a key is not one
            of its keys, or ``count`` keys from ``first`` do not end at ``last``),
            which happens when ranges recorded for one definition meet a changed one.
    """
    keys: list[str] = []
    for key_range in ranges:
        start = definition.index(key_range.first)
        held = definition.keys_between(start, start + key_range.count)
        if len(held) != key_range.count or held[-1] != key_range.last:
            ends = f"end at '{held[-1]}'" if held else "do not exist"
            raise PartitionError(
                f"the partition range {key_range.render()} does not fit "
                f"{definition.describe()}: {key_range.count} keys from "
                f"'{key_range.first}' {ends}.",
                key=key_range.first,
                definition=definition.describe(),
                hint="Was the asset's partitions definition changed since the range was "
                "recorded? Ranges must be expanded with the definition that made them.",
            )
        keys.extend(held)
    return keys
