"""Reuse code fingerprints across processes while none of the project's source files changed.

Hashing normalised source is the one part of planning whose cost grows with
the amount of code: about 0.3 ms per asset. A nightly plan of a large project
with no code edits should not pay it. The cache holds each asset's version and
part digests, keyed by a content hash of every Python file and config file
in the project; any change to any of them recomputes everything. Normalised
sources are not cached: they are needed only to store the code of a step that
runs, and are recomputed then.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from assetflow.codeversion import (
    LIBRARY_DIRS,
    SCHEME,
    CodeFingerprint,
    CodePart,
    Fingerprinter,
)

if TYPE_CHECKING:
    from assetflow.asset import AssetSpec
    from assetflow.project import Project

logger = logging.getLogger(__name__)

CACHE_FILE = "code-versions.json"
#: Directories whose files are never hashed as project code: bytecode caches, version
#: control data, installed packages (what codeversion.LIBRARY_DIRS treats as library).
_SKIPPED_DIRS = frozenset({"__pycache__", ".git", ".hg", ".svn", *LIBRARY_DIRS})
#: A directory holding this file is a virtual environment: library code only.
_VENV_MARKER = "pyvenv.cfg"


def fingerprints_of(project: Project, names: Iterable[str]) -> dict[str, CodeFingerprint]:
    """The code fingerprint of each named asset (sources are ignored), from the cache if valid.

    Cached fingerprints carry their parts' names and digests, but empty sources;
    `with_sources()` recomputes one when its sources are needed.
    """
    wanted = [name for name in names if not project.graph.spec(name).is_source]
    path = project.state_dir / CACHE_FILE
    key = _cache_key(project)
    cached = _read(path, key)
    missing = [name for name in wanted if name not in cached]
    if missing:
        computed = compute(project, missing)
        cached.update(computed)
        _write(path, key, cached)
    return {name: cached[name] for name in wanted}


def compute(project: Project, names: Iterable[str]) -> dict[str, CodeFingerprint]:
    """Fingerprint assets from their source now, sources included."""
    fingerprinter = Fingerprinter(project.root)
    result = {}
    for name in names:
        spec = project.graph.spec(name)
        result[name] = fingerprinter.fingerprint(
            spec.fn, settings=output_settings(spec), explicit=spec.code_version, name=name
        )
    return result


def output_settings(spec: AssetSpec) -> dict[str, str]:
    """The settings of an asset that change its output, as part of its code version."""
    settings = {"io": spec.kind}
    if spec.partitions is not None:
        settings["partitions"] = spec.partitions.describe()
    for name, mapping in sorted(spec.mappings.items()):
        settings[f"mapping:{name}"] = repr(mapping)
    return settings


def has_sources(fingerprint: CodeFingerprint) -> bool:
    """Whether a fingerprint carries its normalised sources (a cached one does not)."""
    return all(part.source for part in fingerprint.parts)


def _cache_key(project: Project) -> dict[str, Any]:
    files = {}
    state_dir = project.state_dir
    for directory, subdirs, filenames in os.walk(project.root):
        current = Path(directory)
        if _VENV_MARKER in filenames and current != project.root:
            subdirs[:] = []
            continue
        subdirs[:] = [d for d in subdirs if d not in _SKIPPED_DIRS and current / d != state_dir]
        for filename in filenames:
            if filename.endswith((".py", ".toml")):
                path = current / filename
                relative = path.relative_to(project.root).as_posix()
                # The content, not (mtime, size): an edit within the filesystem's
                # clock tick that keeps the size would otherwise go unseen.
                files[relative] = hashlib.blake2b(path.read_bytes(), digest_size=16).hexdigest()
    return {"scheme": SCHEME, "python": list(sys.version_info[:2]), "files": files}


def _read(path: Path, key: dict[str, Any]) -> dict[str, CodeFingerprint]:
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    if not isinstance(document, dict) or document.get("key") != key:
        return {}
    try:
        return {
            name: CodeFingerprint(
                version=entry["version"],
                parts=tuple(CodePart(n, kind, digest, "") for n, kind, digest in entry["parts"]),
            )
            for name, entry in document["assets"].items()
        }
    except (KeyError, TypeError, ValueError):
        logger.debug("ignoring a malformed %s", path)
        return {}


def _write(path: Path, key: dict[str, Any], fingerprints: dict[str, CodeFingerprint]) -> None:
    document = {
        "key": key,
        "assets": {
            name: {
                "version": fp.version,
                "parts": [[part.name, part.kind, part.digest] for part in fp.parts],
            }
            for name, fp in fingerprints.items()
        },
    }
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary.write_text(json.dumps(document, separators=(",", ":")), encoding="utf-8")
        os.replace(temporary, path)
    except OSError:
        # A cache that cannot be written only costs time on the next plan.
        logger.debug("could not write %s", path, exc_info=True)
        with contextlib.suppress(OSError):
            temporary.unlink(missing_ok=True)
