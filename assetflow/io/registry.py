"""The storage kinds by name: the built-in ones, and those packages register as entry points.

The built-in kinds are written once, in ``BUILTIN_KINDS``, as ``module:Class``
so that naming a kind imports only its own module (and its data library). A
kind that is not built in is looked up, only then, in the entry-point group
``assetflow.io``: a package registers ``snowflake = my_package.io:SnowflakeIO``
and assets use ``@asset(io="snowflake")`` (see docs/io-kinds.md).
"""

from __future__ import annotations

import functools
import importlib
import logging
from collections.abc import Callable, Iterable
from dataclasses import replace
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, cast

from assetflow.errors import ProjectError, StoreError, did_you_mean, suggest
from assetflow.io.base import IOManager, IOSettings, NamedIO, OutputRef, OutputStat
from assetflow.io.values import DUCKDB, JSON, NONE, PARQUET, POSTGRES

if TYPE_CHECKING:
    from importlib.metadata import EntryPoint

logger = logging.getLogger(__name__)

#: The entry-point group through which packages add storage kinds.
ENTRY_POINT_GROUP = "assetflow.io"

#: Every built-in kind, and the class (``module:Class``) that implements it.
BUILTIN_KINDS = MappingProxyType(
    {
        PARQUET: "assetflow.io.parquet:ParquetIO",
        DUCKDB: "assetflow.io.duckdbio:DuckDBIO",
        JSON: "assetflow.io.jsonfile:JsonIO",
        NONE: "assetflow.io.nothing:NothingIO",
        POSTGRES: "assetflow.io.postgres:PostgresIO",
    }
)

#: What an entry point or a built-in name points at: a class built with the settings.
KindFactory = Callable[[IOSettings], IOManager]

_REGISTER_HINT = (
    "To add a storage kind, write a class that satisfies assetflow.io.IOManager and "
    f"register it under the entry-point group '{ENTRY_POINT_GROUP}' of your package, "
    'e.g. in pyproject.toml: [project.entry-points."assetflow.io"] '
    'mykind = "my_package.io:MyKindIO" (see docs/io-kinds.md).'
)


def io_manager(kind: str, settings: IOSettings | None = None) -> IOManager:
    """Return the IOManager of a storage kind, built with ``settings``.

    Args:
        kind: The kind's name: built in, or registered by an installed package.
        settings: What the kind is built with; None gives the defaults.

    Returns:
        A new instance of the kind's class.

    Raises:
        StoreError: No kind has that name (the message suggests the closest and
            says how to register one).
        ProjectError: The package that registers the kind fails to import, or
            its entry point is not an IOManager.
    """
    settings = settings or IOSettings()
    named = settings.named.get(kind)
    if named is not None:
        return _factory(named.kind)(_named_settings(kind, named, settings))
    return _factory(kind)(settings)


def resolve_kind(name: str, settings: IOSettings | None = None) -> str:
    """The kind an io name builds: the ``kind`` of its named settings, else the name itself."""
    named = settings.named.get(name) if settings is not None else None
    return named.kind if named is not None else name


def _named_settings(name: str, named: NamedIO, settings: IOSettings) -> IOSettings:
    """``settings`` for the kind of a named io: its name and options, and the options
    every kind reads from the settings themselves (a DuckDB ``database`` file, a ``wait``)."""
    database = named.options.get("database")
    wait = named.options.get("wait")
    return replace(
        settings,
        name=name,
        options=named.options,
        database=Path(str(database)) if database is not None else settings.database,
        lock_timeout=float(cast(float, wait)) if wait is not None else settings.lock_timeout,
    )


def is_io_kind(kind: str, named: Iterable[str] = ()) -> bool:
    """Whether ``kind`` names a built-in or a registered storage kind, or one of ``named``
    (the project's ``[tool.assetflow.io.NAME]`` tables).

    Raises:
        ProjectError: More than one installed package registers ``kind``.
    """
    if kind in BUILTIN_KINDS or kind in named:
        return True
    try:
        _entry_point(kind)
    except LookupError:
        return False
    return True


def known_kinds() -> tuple[str, ...]:
    """Every kind's name: the built-in ones, then the registered ones, sorted."""
    registered = sorted({point.name for point in _entry_points()} - set(BUILTIN_KINDS))
    return (*BUILTIN_KINDS, *registered)


def describe_unknown_kind(kind: str, *, also: Iterable[str] = ()) -> str:
    """The did-you-mean, the known kinds, and how to register one, for an unknown ``kind``.

    Args:
        kind: The name that matched no kind.
        also: Other accepted values to list and suggest (``"auto"`` for ``@asset(io=...)``).
    """
    names = (*also, *known_kinds())
    suggestion = did_you_mean(suggest(kind, names))
    lead = f"    {suggestion}\n\n" if suggestion else ""
    return f"{lead}The storage kinds are: {', '.join(names)}.\n\n{_REGISTER_HINT}"


def stat_output(kind: str, ref: OutputRef, settings: IOSettings | None = None) -> OutputStat | None:
    """A cheap look at one stored output (size, modification time, rows): None if missing.

    Raises:
        StoreError: ``kind`` is unknown (see ``io_manager``).
    """
    return io_manager(kind, settings).stat(ref)


def output_exists(kind: str, ref: OutputRef, settings: IOSettings | None = None) -> bool:
    """Whether one stored output is still there (see ``stat_output``)."""
    return stat_output(kind, ref, settings) is not None


def _factory(kind: str) -> KindFactory:
    spec = BUILTIN_KINDS.get(kind)
    if spec is not None:
        module, _, name = spec.partition(":")
        return cast(KindFactory, getattr(importlib.import_module(module), name))
    return _registered_factory(kind)


# Scanning the installed distributions costs milliseconds, and a run looks a kind up
# for every write and read (and validation for every asset), so a registered kind is
# found and loaded once per process. A kind that is missing or fails raises, and
# raising is never cached: installing (or fixing) the package takes effect at the next
# lookup.
@functools.cache
def _registered_factory(kind: str) -> KindFactory:
    try:
        point = _entry_point(kind)
    except LookupError:
        raise StoreError(
            f"there is no storage kind {kind!r}.\n\n{describe_unknown_kind(kind)}",
            hint="Install the package that provides the kind, or use a built-in kind.",
        ) from None
    try:
        loaded = point.load()
    except Exception as error:  # an import of someone else's code: anything can go wrong
        raise ProjectError(
            f"the storage kind {kind!r} is registered by {_provider(point)} as "
            f"'{point.value}', but loading it failed: {type(error).__name__}: {error}",
            hint="Install what that package needs (its error above says what), upgrade "
            "or reinstall it, or uninstall it if you do not use the kind.",
        ) from error
    if not callable(loaded):
        raise ProjectError(
            f"the storage kind {kind!r} registered by {_provider(point)} points at "
            f"'{point.value}', which is not a class.",
            hint="The entry point must name a class that satisfies assetflow.io.IOManager.",
        )
    return _checked(cast(KindFactory, loaded), kind, point)


def _checked(factory: KindFactory, kind: str, point: EntryPoint) -> KindFactory:
    """``factory``, wrapped to refuse what is not an IOManager (with the provider's name)."""

    def build(settings: IOSettings) -> IOManager:
        manager = factory(settings)
        if not isinstance(manager, IOManager):
            raise ProjectError(
                f"the storage kind {kind!r} registered by {_provider(point)} "
                f"('{point.value}') does not satisfy assetflow.io.IOManager.",
                hint="Give the class the attributes kind, holds and partitions_share_path "
                "and the methods write, read, read_partitions, stat and head (docs/io-kinds.md).",
            )
        return manager

    return build


@functools.cache  # see _registered_factory
def _entry_point(kind: str) -> EntryPoint:
    """The entry point that registers ``kind``.

    Raises:
        LookupError: No installed package registers it.
        ProjectError: More than one does.
    """
    matches = [point for point in _entry_points() if point.name == kind]
    if len(matches) > 1:
        providers = ", ".join(_provider(point) for point in matches)
        raise ProjectError(
            f"the storage kind {kind!r} is registered by more than one package: {providers}.",
            hint="Uninstall all but one of them.",
        )
    if not matches:
        raise LookupError(kind)
    return matches[0]


def _entry_points() -> tuple[EntryPoint, ...]:
    import importlib.metadata  # costs tens of milliseconds: only for kinds not built in

    return tuple(importlib.metadata.entry_points(group=ENTRY_POINT_GROUP))


def _provider(point: EntryPoint) -> str:
    """The distribution (name and version) that declares ``point``, for messages."""
    dist = point.dist
    if dist is None:
        return f"the module '{point.module}'"
    return f"the package '{dist.metadata['Name']}' {dist.version} (module '{point.module}')"
