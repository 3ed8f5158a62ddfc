"""StaticPartitions: a fixed, ordered list of string keys (regions, customers, sources)."""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from assetflow.errors import DefinitionError, suggest
from assetflow.partitions.base import (
    LISTED_KEYS,
    PartitionError,
    PartitionsDefinition,
    list_keys,
    require_aware,
)

#: Hex digits of the key list's sha256 that describe() shows for long lists.
DIGEST_CHARS = 12


@dataclass(frozen=True, slots=True, init=False)
class StaticPartitions(PartitionsDefinition):
    """A fixed, ordered set of partition keys; every key exists at every ``now``.

    Static partitions have no time window: :meth:`window` returns None.

    Example::

        regions = StaticPartitions(["eu", "us", "apac"])
    """

    all_keys: tuple[str, ...]
    _index_by_key: dict[str, int] = field(repr=False, compare=False, hash=False)

    def __init__(self, keys: Iterable[str]) -> None:
        """Make a definition from its keys, kept in the given order.

        Args:
            keys: Non-empty, unique strings.

        Raises:
            DefinitionError: When there are no keys, a key is not a non-empty
                string, or a key appears twice.
        """
        object.__setattr__(self, "all_keys", _checked_keys(keys))
        object.__setattr__(self, "_index_by_key", {k: i for i, k in enumerate(self.all_keys)})

    def __repr__(self) -> str:
        return f"StaticPartitions({list(self.all_keys)!r})"

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (self.all_keys,))

    def keys(self, now: datetime) -> list[str]:
        """Every key, in the given order (``now`` is checked but does not matter)."""
        require_aware(now)
        return list(self.all_keys)

    def count(self, now: datetime) -> int:
        """How many keys there are (``now`` does not matter)."""
        require_aware(now)
        return len(self.all_keys)

    def latest(self, now: datetime) -> str:
        """The last key in the given order."""
        require_aware(now)
        return self.all_keys[-1]

    def window(self, key: str) -> None:
        """Static partitions have no time window: always None (after checking ``key``)."""
        self.index(key)

    def index(self, key: str) -> int:
        """The position of ``key`` in the given order.

        Raises:
            PartitionError: When ``key`` is not one of the keys, with did-you-mean.
        """
        position = self._index_by_key.get(key)
        if position is None:
            raise self._unknown(key)
        return position

    def key_at(self, index: int) -> str:
        """The key at ``index`` (0-based; IndexError when out of range)."""
        if index < 0:
            raise IndexError(f"partition index {index} is negative")
        return self.all_keys[index]

    def keys_between(self, start: int, stop: int) -> list[str]:
        """The keys at positions ``start`` up to ``stop`` (excluded), clipped to the keys.

        One slice of the key tuple, where the base class asks for each key in turn.

        Args:
            start: The first position (clipped to 0).
            stop: The position after the last one (clipped to the number of keys).

        Returns:
            The keys at those positions, in the given order.
        """
        return list(self.all_keys[max(start, 0) : max(stop, 0)])

    def validate(self, key: str, now: datetime) -> None:
        """Raise :class:`PartitionError`, with did-you-mean, unless ``key`` is one of the keys."""
        require_aware(now)
        self.index(key)

    def describe(self) -> str:
        """``static: eu, us, apac``; a long list is shortened and named by its sha256."""
        if len(self.all_keys) <= LISTED_KEYS:
            return "static: " + ", ".join(self.all_keys)
        digest = hashlib.sha256("\n".join(self.all_keys).encode()).hexdigest()[:DIGEST_CHARS]
        head = ", ".join(self.all_keys[:3])
        return (
            f"static, {len(self.all_keys)} keys: {head}, ..., {self.all_keys[-1]} (sha256 {digest})"
        )

    def _unknown(self, key: str) -> PartitionError:
        return PartitionError(
            f"partition '{key}' is not a key of {self.describe()}.",
            key=key,
            definition=self.describe(),
            suggestions=suggest(str(key), self.all_keys),
            hint=f"Valid keys: {list_keys(self.all_keys)}.",
        )


def _checked_keys(keys: Iterable[str]) -> tuple[str, ...]:
    if isinstance(keys, str):
        raise DefinitionError(
            f"StaticPartitions({keys!r}) got one string, not a list of keys.",
            hint=f"Pass a list of keys, e.g. StaticPartitions([{keys!r}]).",
        )
    try:
        result = tuple(keys)
    except TypeError:
        raise DefinitionError(
            f"StaticPartitions({keys!r}) needs a list of keys, got {type(keys).__name__}.",
            hint="Pass a list of strings, e.g. StaticPartitions(['eu', 'us']).",
        ) from None
    if not result:
        raise DefinitionError(
            "StaticPartitions([]) has no keys; a partitioned asset needs at least one.",
            hint="List the keys, e.g. StaticPartitions(['eu', 'us']), or drop `partitions=`.",
        )
    for key in result:
        if not isinstance(key, str) or not key:
            raise DefinitionError(
                f"StaticPartitions key {key!r} is not a non-empty string.",
                hint=f"Write every key as a string, e.g. {str(key) or 'default'!r}.",
            )
    repeated = sorted(key for key, times in Counter(result).items() if times > 1)
    if repeated:
        raise DefinitionError(
            f"StaticPartitions lists {list_keys(repeated)} more than once; keys must be unique.",
            hint="Remove the repeated keys.",
        )
    return result
