"""Where an asset's output lives on disk: one function owns the file layout.

Unpartitioned outputs are ``<directory>/<asset>.<suffix>``. A partition is a
hive-style directory, ``<directory>/<asset>/partition=<key>/part.<suffix>``, so
DuckDB and pyarrow datasets read all partitions of an asset as one table.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import quote

from assetflow.errors import WriteError
from assetflow.io.registry import known_kinds
from assetflow.io.values import JSON, NONE, PARQUET

#: The file suffix of each kind that is stored in a file.
SUFFIX_BY_KIND = {PARQUET: ".parquet", JSON: ".json"}
#: The hive key of a partition directory (``partition=2026-03-01``).
PARTITION_KEY = "partition"
#: Characters kept as they are in a partition directory name; the rest are
#: %-escaped as Hive does, so keys such as "2026-03-01T13:00" or "eu/west" are
#: safe on every filesystem.
_SAFE_IN_PARTITION = "-_.~"


def output_path(directory: Path, asset: str, kind: str, partition: str | None = None) -> Path:
    """Return the file that holds one asset's (or one partition's) output.

    Args:
        directory: The directory outputs are stored in (the project's state dir).
        asset: The asset's name, a Python identifier.
        kind: ``"parquet"`` or ``"json"``.
        partition: The partition key, or None for an unpartitioned asset.

    Returns:
        The path of the output file; its parent directories may not exist yet.

    Raises:
        WriteError: ``kind`` stores no file, or ``asset`` is not an identifier
            (which would let a name escape ``directory``).
    """
    suffix = SUFFIX_BY_KIND.get(kind)
    if suffix is None:
        stored = " or ".join(repr(name) for name in SUFFIX_BY_KIND)
        reason = "stores nothing" if kind == NONE else "is not a storage kind"
        kinds = ", ".join(known_kinds())
        raise WriteError(
            f"asset '{asset}' has storage kind {kind!r}, which {reason}, so it has no file.",
            hint=f"Files are kept for the kinds {stored}; the kinds are {kinds}.",
        )
    if not asset.isidentifier():
        raise WriteError(
            f"cannot store an output for the asset name {asset!r}: it is not a Python "
            "identifier, so it is not a safe file name.",
            hint="Asset names are the names of Python functions (letters, digits, '_').",
        )
    if partition is None:
        return Path(directory) / f"{asset}{suffix}"
    key_directory = f"{PARTITION_KEY}={quote(partition, safe=_SAFE_IN_PARTITION)}"
    return Path(directory) / asset / key_directory / f"part{suffix}"
