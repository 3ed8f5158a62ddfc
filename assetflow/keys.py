"""AssetPartition: the one key of an asset-partition, and its `asset[partition]` text."""

from __future__ import annotations

from typing import TypeAlias

#: An asset and one of its partitions (None for an unpartitioned asset).
#:
#: A plain tuple, not a NamedTuple: keys are built several times per
#: asset-partition while planning (a year of daily partitions over a thousand
#: assets is 365,000 of them), a tuple literal is built about seven times faster
#: than a NamedTuple, and store rows, dict keys and sorting already give tuples.
AssetPartition: TypeAlias = tuple[str, str | None]


def key_text(key: AssetPartition) -> str:
    """How a key is written in reasons and input versions: `asset` or `asset[partition]`.

    Args:
        key: The asset-partition.

    Returns:
        The asset's name, followed by the partition in brackets when there is one.
    """
    asset, partition = key
    return asset if partition is None else f"{asset}[{partition}]"


def split_key_text(text: str | None) -> tuple[str | None, str | None]:
    """Read a key back from its text: `asset[partition]` as (asset, partition).

    The inverse of :func:`key_text` (asset names are identifiers, so the first
    `[` ends the name; a partition may hold brackets of its own).

    Args:
        text: `asset`, `asset[partition]`, or None / empty for no key.

    Returns:
        (asset, partition); partition is None for a bare `asset`, and both are
        None for an empty or missing text.
    """
    if not text:
        return None, None
    if text.endswith("]") and "[" in text:
        asset, partition = text[:-1].split("[", 1)
        return asset, partition
    return text, None
