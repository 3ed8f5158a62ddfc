"""What every partitions definition answers, and the error for a key it does not have."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from datetime import datetime

from assetflow.errors import SelectionError

#: How many keys an error message lists before it says "and N more".
LISTED_KEYS = 10


class PartitionError(SelectionError):
    """A partition key is not a key of a definition, not complete yet, or a range is reversed.

    Exit code 2, like every error in the user's input. ``key`` is the key that was
    given, ``definition`` the definition's ``describe()`` text, and ``nearest`` the
    closest valid key, when there is one (it is also offered as "Did you mean").
    """

    def __init__(
        self,
        message: str,
        *,
        key: str,
        definition: str,
        nearest: str | None = None,
        suggestions: Sequence[str] = (),
        hint: str = "",
    ) -> None:
        self.key = key
        self.definition = definition
        self.nearest = nearest
        if not suggestions and nearest is not None:
            suggestions = (nearest,)
        super().__init__(message, suggestions=suggestions, hint=hint)


class PartitionsDefinition(ABC):
    """The partitions of an asset: an ordered set of string keys, and for time, their windows.

    Every question that depends on the time takes ``now`` (a timezone-aware
    datetime): a time partition exists for the planner only once its window has
    ended. Definitions are frozen values: equal definitions compare equal and hash
    alike, so they can key dicts and be compared to find identical partitioning.
    """

    __slots__ = ()

    @abstractmethod
    def keys(self, now: datetime) -> list[str]:
        """Every key of a complete partition at ``now``, oldest first."""

    @abstractmethod
    def count(self, now: datetime) -> int:
        """How many partitions are complete at ``now`` (``len(keys(now))``, without the list)."""

    @abstractmethod
    def latest(self, now: datetime) -> str:
        """The newest complete partition at ``now``."""

    @abstractmethod
    def window(self, key: str) -> tuple[datetime, datetime] | None:
        """The half-open ``[start, end)`` time window of ``key``, or None when it has none."""

    @abstractmethod
    def index(self, key: str) -> int:
        """The position of ``key`` in the definition's order (0 for the first key)."""

    @abstractmethod
    def key_at(self, index: int) -> str:
        """The key at position ``index`` in the definition's order (the inverse of ``index``)."""

    @abstractmethod
    def validate(self, key: str, now: datetime) -> None:
        """Raise :class:`PartitionError` unless ``key`` is a complete partition at ``now``."""

    @abstractmethod
    def describe(self) -> str:
        """A stable one-line text, e.g. ``daily from 2026-01-01 UTC`` (part of code versions)."""

    def key_range(self, first: str, last: str, now: datetime) -> list[str]:
        """The keys from ``first`` to ``last``, both included, oldest first.

        Args:
            first: The oldest key of the range.
            last: The newest key of the range.
            now: The time that decides which partitions are complete.

        Returns:
            Every key between the two, in the definition's order.

        Raises:
            PartitionError: When either key is not a complete partition at ``now``,
                or ``first`` comes after ``last``.
        """
        self.validate(first, now)
        self.validate(last, now)
        start, stop = self.index(first), self.index(last)
        if start > stop:
            raise PartitionError(
                f"the partition range '{first}' .. '{last}' of {self.describe()} is reversed: "
                f"'{first}' comes after '{last}'.",
                key=first,
                definition=self.describe(),
                hint=f"Write the older key first: '{last}' .. '{first}'.",
            )
        return self.keys_between(start, stop + 1)

    def keys_between(self, start: int, stop: int) -> list[str]:
        """The keys at positions ``start`` up to ``stop`` (excluded), complete or not.

        Args:
            start: The first position (clipped to 0).
            stop: The position after the last one.

        Returns:
            The keys at those positions that the definition has.
        """
        keys = []
        for index in range(max(start, 0), stop):
            try:
                keys.append(self.key_at(index))
            except IndexError:  # past the last key of a bounded definition
                break
        return keys

    def has_key(self, key: str) -> bool:
        """Whether ``key`` is one of the definition's keys, complete or not."""
        try:
            self.index(key)
        except PartitionError:
            return False
        return True


def require_aware(now: datetime) -> None:
    """Refuse a naive ``now``: partition questions need an instant, not a wall-clock time.

    Raises:
        TypeError: When ``now`` has no timezone (a programming error of the caller).
    """
    if not isinstance(now, datetime) or now.utcoffset() is None:
        raise TypeError(
            f"now must be a timezone-aware datetime, got {now!r}; "
            "take it from a Clock (clock.now()) or write datetime(..., tzinfo=UTC)"
        )


def list_keys(keys: Sequence[str], limit: int = LISTED_KEYS) -> str:
    """Keys as messages show them: quoted, comma-separated, the rest counted."""
    shown = ", ".join(f"'{key}'" for key in keys[:limit])
    if len(keys) > limit:
        shown += f" and {len(keys) - limit} more"
    return shown
