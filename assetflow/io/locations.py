"""Where a recorded output is: paths kept relative to the project's state directory.

The store records an output's path relative to the state directory
(``data/clean_records/partition=2026-03-03/part.parquet``, ``warehouse.duckdb``),
never as an absolute path, so that a project that is moved (``mv``), copied
(``cp -r``), checked out elsewhere or mounted in a container reads and writes
its own files. Each reader resolves a recorded path against its own project's
state directory. A path outside the state directory (a kind that keeps its
outputs elsewhere) is recorded, and read, as it is.
"""

from __future__ import annotations

import os
from pathlib import Path

from assetflow.io.base import OutputRef


def recorded_path(path: Path | None, root: Path) -> str | None:
    """The text to record for an output written at ``path``: relative to ``root`` (with
    ``/`` separators, whatever the platform) when it is inside it, else absolute."""
    if path is None:
        return None
    absolute = Path(path).absolute()
    try:
        relative = absolute.relative_to(Path(root).absolute())
    except ValueError:
        return str(absolute)
    return relative.as_posix()


def resolved_path(recorded: str | None, root: Path) -> Path | None:
    """Where a recorded output is in the project whose state directory is ``root``."""
    if recorded is None:
        return None
    # os.path rather than pathlib's joins: a plan resolves one path per stored output
    # (365,000 for a year of daily partitions over 1,000 assets), and each pathlib
    # operation parses its parts again.
    if os.path.isabs(recorded):
        return Path(recorded)
    return Path(os.path.join(root, recorded))


def output_ref(asset: str, partition: str | None, recorded: str | None, root: Path) -> OutputRef:
    """The ref a kind reads or inspects, for an output recorded at ``recorded``."""
    return OutputRef(asset, partition, resolved_path(recorded, root))
