"""Observe source assets: call each observer once per plan and hash what it returns."""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from assetflow.context import RunContext
from assetflow.graph import display_location
from assetflow.keys import AssetPartition, key_text

if TYPE_CHECKING:
    from assetflow.asset import AssetSpec
    from assetflow.project import Project

logger = logging.getLogger(__name__)

#: Files are hashed in chunks of this size, so big files do not fill memory.
_CHUNK = 1 << 20


@dataclass(frozen=True, slots=True)
class Observations:
    """What the sources said at plan time, per source-partition: a value and version
    each, or why they could not (a partition of a partitioned source on its own)."""

    values: dict[AssetPartition, Any] = field(default_factory=dict)
    versions: dict[AssetPartition, str] = field(default_factory=dict)
    errors: dict[AssetPartition, str] = field(default_factory=dict)

    def warnings(self) -> tuple[str, ...]:
        """One warning per source that could not be observed; a partitioned source's
        failed partitions are summed up in one, so a year of missing files is one line."""
        by_source: dict[str, list[tuple[str | None, str]]] = {}
        for (name, partition), error in sorted(
            self.errors.items(), key=lambda item: (item[0][0], item[0][1] or "")
        ):
            by_source.setdefault(name, []).append((partition, error))
        result = []
        for failed in by_source.values():
            first = failed[0][1]
            if len(failed) > 1:
                keys = [key for key, _ in failed if key is not None]
                shown = ", ".join(keys[:_KEYS_SHOWN])
                more = f" and {len(keys) - _KEYS_SHOWN} more" if len(keys) > _KEYS_SHOWN else ""
                first += f"\n({len(failed)} partitions could not be observed: {shown}{more})"
            result.append(first)
        return tuple(result)


#: How many failed partitions of one source a warning names before it counts the rest.
_KEYS_SHOWN = 5


def observe_sources(
    project: Project,
    names: Iterable[str],
    partitions: Mapping[str, Iterable[str]] | None = None,
) -> Observations:
    """Call the observer of each named source; an observer that raises is reported, not fatal.

    Args:
        project: The loaded project.
        names: The sources to observe.
        partitions: For a partitioned source, the partitions to observe (those its
            readers in the plan read); a partitioned source not in it is not observed.

    Returns:
        The values, versions and errors, by source-partition.
    """
    observations = Observations()
    for name in sorted(set(names)):
        spec = project.graph.spec(name)
        if spec.partitions is None:
            keys: list[str | None] = [None]
        else:
            keys = [*sorted(set((partitions or {}).get(name, ())))]
        for key in keys:
            _observe(project, spec, key, observations)
    return observations


def _observe(project: Project, spec: AssetSpec, key: str | None, into: Observations) -> None:
    name = spec.name
    context = RunContext.for_partition(
        run_id="observe",
        asset=name,
        project_dir=project.root,
        partitions=spec.partitions,
        partition=key,
    )
    context = replace(context, log=logging.getLogger(f"assetflow.source.{name}"))
    try:
        value = spec.fn(context) if spec.wants_context else spec.fn()
        version = observed_version(value, project.root)
    except Exception as error:
        detail = f"{type(error).__name__}: {error}"
        where = display_location(spec, project.root)
        which = f" for partition {key}" if key is not None else ""
        into.errors[(name, key)] = (
            f"source '{name}' ({where}) could not be observed{which}: {detail}"
        )
        logger.debug("observing %s failed", key_text((name, key)), exc_info=True)
        return
    into.values[(name, key)] = value
    into.versions[(name, key)] = version


def observed_version(value: Any, root: Path | None = None) -> str:
    """The version of an observed value: a file's content hash, else a hash of the value.

    Args:
        value: What an observer returned.
        root: The project's directory, to name a missing file relative to it.

    Raises:
        FileNotFoundError: The value is a path where no file is (saying where it looked).
        IsADirectoryError: The value is the path of a directory.
    """
    if isinstance(value, Path):
        return _file_digest(value, root)
    if isinstance(value, str):
        return hashlib.blake2b(value.encode(), digest_size=16).hexdigest()
    from assetflow.io.versions import data_version

    return data_version(value)


def _file_digest(path: Path, root: Path | None) -> str:
    if path.is_dir():
        raise IsADirectoryError(
            f"{_shown(path, root)} is a directory, but a file source reads one file; "
            "name a file in it (or, for one file per partition, use a pattern with "
            "{partition} and partitions=)"
        )
    if not path.is_file():
        raise FileNotFoundError(f"no file at {_shown(path, root)}")
    digest = hashlib.blake2b(digest_size=16)
    with path.open("rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _shown(path: Path, root: Path | None) -> str:
    """A path relative to the project when inside it (what the user wrote), else as is."""
    if root is not None:
        try:
            return path.resolve().relative_to(root.resolve()).as_posix()
        except ValueError:
            pass
    return str(path)
