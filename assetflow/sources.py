"""Observe source assets: call each observer once per plan and hash what it returns."""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from assetflow.context import RunContext
from assetflow.graph import display_location

if TYPE_CHECKING:
    from assetflow.project import Project

logger = logging.getLogger(__name__)

#: Files are hashed in chunks of this size, so big files do not fill memory.
_CHUNK = 1 << 20


@dataclass(frozen=True, slots=True)
class Observations:
    """What the sources said at plan time: a value and version each, or why they could not."""

    values: dict[str, Any] = field(default_factory=dict)
    versions: dict[str, str] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)


def observe_sources(project: Project, names: Iterable[str]) -> Observations:
    """Call the observer of each named source; an observer that raises is reported, not fatal."""
    observations = Observations()
    for name in sorted(set(names)):
        spec = project.graph.spec(name)
        context = RunContext(
            run_id="observe",
            asset=name,
            project_dir=project.root,
            log=logging.getLogger(f"assetflow.source.{name}"),
        )
        try:
            value = spec.fn(context) if spec.wants_context else spec.fn()
            version = observed_version(value)
        except Exception as error:
            detail = f"{type(error).__name__}: {error}"
            where = display_location(spec, project.root)
            observations.errors[name] = f"source '{name}' ({where}) could not be observed: {detail}"
            logger.debug("observing %s failed", name, exc_info=True)
            continue
        observations.values[name] = value
        observations.versions[name] = version
    return observations


def observed_version(value: Any) -> str:
    """The version of an observed value: a file's content hash, else a hash of the value."""
    if isinstance(value, Path):
        return _file_digest(value)
    if isinstance(value, str):
        return hashlib.blake2b(value.encode(), digest_size=16).hexdigest()
    from assetflow.io.versions import data_version

    return data_version(value)


def _file_digest(path: Path) -> str:
    if not path.is_file():
        raise FileNotFoundError(f"no file at {path}")
    digest = hashlib.blake2b(digest_size=16)
    with path.open("rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()
