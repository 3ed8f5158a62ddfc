"""DynamicPartitions: partition keys that live in the metadata store, added and removed at run time.

A definition is only a name (``DynamicPartitions("uploads")``); its keys are
added by ``assetflow partitions add``, the Python API or a sensor's run request.
The services layer reads the keys of every dynamic definition a project uses in
one query when it plans, and :meth:`DynamicPartitions.bind` makes a copy that
holds them, so the planner, ranges and mappings see an ordinary ordered key set
(in the order the keys were first added). An unbound definition answers no key
question: it raises :class:`UnboundPartitionsError` rather than look empty.

The keys are not part of the definition's identity: two definitions with one
name are equal, bound or not, and ``describe()`` names only the definition, so
adding a key changes no code version.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from assetflow.errors import DefinitionError, UsageError, suggest
from assetflow.partitions.base import PartitionError, PartitionsDefinition, list_keys, require_aware

#: The longest partition key a dynamic definition accepts, in characters.
MAX_KEY_LENGTH = 200


class UnboundPartitionsError(RuntimeError):
    """A key question was asked of a DynamicPartitions whose keys were not read from the
    store: a bug in the caller (plan through `assetflow.services`, which binds them)."""


def check_partition_key(key: object) -> str:
    """Refuse a key a dynamic definition cannot hold; return it when it is fine.

    A key names a directory of stored outputs and appears in ranges (``a..b``), so
    it must be non-empty, at most 200 characters, without ``/``, ``\\``, ``..``,
    control characters, or whitespace at either end.

    Raises:
        UsageError: Naming the key and the rule it breaks (exit code 2).
    """
    if not isinstance(key, str):
        raise UsageError(
            f"the partition key {key!r} is a {type(key).__name__}, not a string.",
            hint="Give each dynamic partition key as a string, e.g. '2026-03-07-batch-2'.",
        )
    problem = key_problem(key)
    if problem is not None:
        raise UsageError(
            f"the partition key {key!r} is not a valid key: {problem}.",
            hint="A dynamic partition key is 1 to 200 characters without '/', '\\', '..', "
            "control characters or surrounding spaces, and not '.', e.g. "
            "'2026-03-07-batch-2'.",
        )
    return key


def key_problem(key: str) -> str | None:
    """What is wrong with a dynamic partition key, as "it ..." (None: nothing): the one
    rule of `partitions add`, the Python API and sensors."""
    if not key:
        return "it is empty"
    if key == ".":
        return "it is '.', which names the folder its outputs would go in"
    if len(key) > MAX_KEY_LENGTH:
        return f"it is {len(key)} characters long, over the {MAX_KEY_LENGTH} allowed"
    if "/" in key or "\\" in key:
        return "it contains a path separator ('/' or '\\')"
    if ".." in key:
        return "it contains '..', which reads as a range or a parent directory"
    if any(unicodedata.category(char) == "Cc" for char in key):
        return "it contains a control character (a newline, tab or the like)"
    if key != key.strip():
        return "it starts or ends with whitespace"
    return None


@dataclass(frozen=True, slots=True, init=False)
class DynamicPartitions(PartitionsDefinition):
    """Partitions whose keys are kept in the metadata store, in the order they were added.

    Dynamic partitions have no time window: :meth:`window` returns None. Assets
    that share one definition (the same name) map key to key.

    Example::

        uploads = DynamicPartitions("uploads")

        @asset(partitions=uploads)
        def parsed(context): ...

    and then ``assetflow partitions add parsed 2026-03-07-batch-2``.
    """

    name: str
    #: the keys read from the store, or None until bound
    bound_keys: tuple[str, ...] | None = field(compare=False, repr=False)
    _index_by_key: dict[str, int] = field(repr=False, compare=False, hash=False)

    def __init__(self, name: str) -> None:
        """Name a dynamic definition; its keys come from the store.

        Raises:
            DefinitionError: When ``name`` is not a non-empty string.
        """
        if not isinstance(name, str) or not name.strip() or name != name.strip():
            raise DefinitionError(
                f"DynamicPartitions({name!r}) needs a name: a non-empty string without "
                "surrounding spaces.",
                hint='Name the set of keys, e.g. DynamicPartitions("uploads").',
            )
        object.__setattr__(self, "name", name)
        object.__setattr__(self, "bound_keys", None)
        object.__setattr__(self, "_index_by_key", {})

    def __repr__(self) -> str:
        return f"DynamicPartitions({self.name!r})"

    def __reduce__(self) -> tuple[Any, ...]:
        return (_rebuild, (self.name, self.bound_keys))

    @property
    def is_bound(self) -> bool:
        """Whether the keys were read from the store (:meth:`bind`)."""
        return self.bound_keys is not None

    def bind(self, keys: Iterable[str]) -> DynamicPartitions:
        """A copy of this definition holding ``keys`` (the store's live keys, in order).

        Args:
            keys: Unique keys, in the order they were added.
        """
        bound = DynamicPartitions(self.name)
        ordered = tuple(dict.fromkeys(keys))
        object.__setattr__(bound, "bound_keys", ordered)
        object.__setattr__(bound, "_index_by_key", {k: i for i, k in enumerate(ordered)})
        return bound

    def keys(self, now: datetime) -> list[str]:
        """Every live key, in the order added (``now`` is checked but does not matter)."""
        require_aware(now)
        return list(self._keys())

    def count(self, now: datetime) -> int:
        """How many live keys there are."""
        require_aware(now)
        return len(self._keys())

    def latest(self, now: datetime) -> str:
        """The key added last.

        Raises:
            PartitionError: When there is no key yet (says how to add one).
        """
        require_aware(now)
        keys = self._keys()
        if not keys:
            raise PartitionError(
                f"the dynamic partitions '{self.name}' have no keys yet, so there is no "
                "latest partition.",
                key="latest",
                definition=self.describe(),
                hint="Add keys first: assetflow partitions add ASSET KEY...",
            )
        return keys[-1]

    def window(self, key: str) -> None:
        """Dynamic partitions have no time window: always None (after checking ``key``,
        when bound; an unbound definition can still say it has no windows)."""
        if self.bound_keys is not None:
            self.index(key)

    def index(self, key: str) -> int:
        """The position of ``key`` in the order added.

        Raises:
            PartitionError: When ``key`` is not a live key, with did-you-mean.
        """
        self._keys()
        position = self._index_by_key.get(key)
        if position is None:
            raise self._unknown(key)
        return position

    def key_at(self, index: int) -> str:
        """The key at ``index`` (0-based; IndexError when out of range)."""
        if index < 0:
            raise IndexError(f"partition index {index} is negative")
        return self._keys()[index]

    def keys_between(self, start: int, stop: int) -> list[str]:
        """The keys at positions ``start`` up to ``stop`` (excluded), clipped to the keys."""
        return list(self._keys()[max(start, 0) : max(stop, 0)])

    def validate(self, key: str, now: datetime) -> None:
        """Raise :class:`PartitionError`, with did-you-mean, unless ``key`` is a live key."""
        require_aware(now)
        self.index(key)

    def describe(self) -> str:
        """``dynamic: uploads``: the name only, so adding keys changes no code version."""
        return f"dynamic: {self.name}"

    def _keys(self) -> tuple[str, ...]:
        if self.bound_keys is None:
            raise UnboundPartitionsError(
                f"{self!r} was asked for its keys before they were read from the metadata "
                "store; plan through assetflow.services (which binds them with "
                "bind_partitions) or call .bind(keys)"
            )
        return self.bound_keys

    def _unknown(self, key: str) -> PartitionError:
        keys = self._keys()
        listed = f"Its keys: {list_keys(keys)}." if keys else "It has no keys yet."
        return PartitionError(
            f"partition '{key}' is not a key of the dynamic partitions '{self.name}'.",
            key=key,
            definition=self.describe(),
            suggestions=suggest(str(key), keys),
            hint=f"{listed} Add one with: assetflow partitions add ASSET {key}",
        )


def _rebuild(name: str, keys: Sequence[str] | None) -> DynamicPartitions:
    definition = DynamicPartitions(name)
    return definition if keys is None else definition.bind(keys)
