"""Why a key is not a partition of a time definition, and the error that says so.

Functions of a :class:`~assetflow.partitions.temporal.TimePartitions`, kept apart
from its arithmetic; they read its calendar cells (package-internal members), as the
:class:`TimeCells` protocol names them, so that this module need not import temporal
(which imports it).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Protocol

from assetflow.partitions.arguments import guess_local_time
from assetflow.partitions.base import PartitionError

if TYPE_CHECKING:
    from zoneinfo import ZoneInfo


class TimeCells(Protocol):
    """What a diagnosis reads of a time definition: its words, keys and calendar cells.

    TimePartitions has all of it. Cells count the definition's calendar units from an
    epoch; the ``_`` members are package-internal, shared with this module only.
    """

    @property
    def timezone(self) -> str: ...
    @property
    def key_format(self) -> str: ...
    @property
    def noun(self) -> str: ...
    @property
    def unit(self) -> str: ...
    @property
    def _zone(self) -> ZoneInfo: ...
    @property
    def _first(self) -> int: ...
    @property
    def _stop(self) -> int | None: ...

    def describe(self) -> str: ...
    def count(self, now: datetime) -> int: ...
    def key_at(self, index: int) -> str: ...
    def _cell_of(self, local: datetime) -> int: ...
    def _cell_start(self, cell: int) -> datetime: ...
    def _is_gap(self, cell: int) -> bool: ...
    def _index_of_cell(self, cell: int) -> int: ...
    def _next_cell(self, cell: int) -> int: ...
    def _size(self) -> int | None: ...
    def _instant(self, cell: int) -> datetime: ...
    def _cell_at(self, instant: datetime) -> int: ...


@dataclass(frozen=True, slots=True)
class KeyProblem:
    """Why a key is not a (complete) partition, and the cell it points at, if any."""

    reason: str
    cell: int | None = None


def not_complete(definition: TimeCells, cell: int, now: datetime) -> KeyProblem:
    """The problem of a partition whose window has not ended at ``now``."""
    ends = when(definition, definition._instant(definition._next_cell(cell)))
    return KeyProblem(
        f"of {definition.describe()} is not complete yet: its window ends at {ends}, "
        f"and now is {when(definition, now)}.",
        cell,
    )


def no_complete_partition(definition: TimeCells, now: datetime) -> PartitionError:
    """The error of asking for the latest partition before the first one is complete."""
    return PartitionError(
        f"{definition.describe()} has no complete partition at {when(definition, now)}.",
        key="",
        definition=definition.describe(),
        hint=_valid_keys(definition, now),
    )


def locate(definition: TimeCells, key: str, now: datetime | None) -> int | KeyProblem:
    """The cell that ``key`` names, or why it names none of the definition's."""
    if not isinstance(key, str):
        example = _example(definition, now)
        return KeyProblem(f"is of type {type(key).__name__}, not a string key like {example}.")
    try:
        local = datetime.strptime(key, definition.key_format)
    except ValueError:
        guess = guess_local_time(key)
        return KeyProblem(
            f"is not a key of {definition.describe()}: "
            f"expected a key like {_example(definition, now)} ({definition.key_format}).",
            None if guess is None else definition._cell_of(guess),
        )
    cell = definition._cell_of(local)
    written = definition._cell_start(cell).strftime(definition.key_format)
    if definition._cell_start(cell) != local:
        return KeyProblem(
            f"does not start a partition of {definition.describe()}: "
            f"it falls in the {definition.noun} '{written}'.",
            cell,
        )
    if written != key:
        return KeyProblem(
            f"is not written like the keys of {definition.describe()}: "
            f"that {definition.noun} is '{written}' ({definition.key_format}).",
            cell,
        )
    if definition._is_gap(cell):
        return KeyProblem(
            f"does not exist in {definition.timezone}: the clocks skip that hour, "
            f"so {definition.describe()} has no partition for it.",
            cell,
        )
    if cell < definition._first:
        return KeyProblem(
            f"is before the start of {definition.describe()}: "
            f"the first key is '{definition.key_at(0)}'.",
            cell,
        )
    if definition._stop is not None and cell >= definition._stop:
        last = definition.key_at(definition._index_of_cell(definition._stop) - 1)
        return KeyProblem(
            f"is at or after the end of {definition.describe()} (the end is exclusive): "
            f"the last key is '{last}'.",
            cell,
        )
    return cell


def _example(definition: TimeCells, now: datetime | None) -> str:
    complete = 0 if now is None else definition.count(now)
    return definition.key_at(complete - 1 if complete else 0)


def key_error(
    definition: TimeCells, key: str, problem: KeyProblem, now: datetime | None
) -> PartitionError:
    """The error for a key with a problem: why, the nearest valid key, the valid range."""
    return PartitionError(
        f"partition '{key}' {problem.reason}",
        key=str(key),
        definition=definition.describe(),
        nearest=_nearest(definition, problem.cell, now),
        hint=_valid_keys(definition, now),
    )


def _nearest(definition: TimeCells, cell: int | None, now: datetime | None) -> str | None:
    """The valid key closest to ``cell``: complete at ``now`` when it is given."""
    if cell is None:
        return None
    last = None
    if now is not None:
        complete = definition.count(now)
        if complete == 0:
            return None
        if cell >= definition._cell_at(now):
            return definition.key_at(complete - 1)
        last = complete - 1
    if cell < definition._first:
        return definition.key_at(0)
    if definition._stop is not None and cell >= definition._stop:
        position = definition._index_of_cell(definition._stop) - 1
    else:
        position = definition._index_of_cell(cell)
    return definition.key_at(position if last is None else min(position, last))


def _valid_keys(definition: TimeCells, now: datetime | None) -> str:
    if now is None:
        size = definition._size()
        until = "" if size is None else f" to '{definition.key_at(size - 1)}'"
        return f"Keys of {definition.describe()} run from '{definition.key_at(0)}'{until}."
    complete = definition.count(now)
    if complete == 0:
        ends = when(definition, definition._instant(definition._next_cell(definition._first)))
        return (
            f"No partition is complete at {when(definition, now)}: the first, "
            f"'{definition.key_at(0)}', completes at {ends}."
        )
    return (
        f"Valid keys at {when(definition, now)}: '{definition.key_at(0)}' .. "
        f"'{definition.key_at(complete - 1)}' ({complete} {definition.unit} partitions)."
    )


def when(definition: TimeCells, instant: datetime) -> str:
    """An instant as messages show it: local time in the definition's timezone."""
    return f"{instant.astimezone(definition._zone):%Y-%m-%d %H:%M} {definition.timezone}"
