"""A cheap look at many stored outputs of one asset at once, through its kind.

Verifying every output a plan calls fresh means looking at up to hundreds of
thousands of them, so a kind may offer a faster way than ``stat`` per output:

- ``stat_files(paths)``: a kind whose outputs are files of their own looks at
  them by path text, without building a ``Path`` and an ``OutputRef`` for each
  (Parquet and JSON; about half the cost of a look is building those);
- ``stat_partitions(asset, refs)``: a kind that can look at many partitions in
  one go (DuckDB counts every partition's rows in one query), and
  ``stat_assets({asset: refs})``, the same for several assets at once (DuckDB
  opens its file once for all of them).

Any other kind is asked ``stat`` once per output.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

from assetflow.io.base import IOManager, OutputRef, OutputStat


def stat_outputs(
    manager: IOManager, asset: str, partitions: Sequence[str | None], paths: Sequence[str]
) -> list[OutputStat | None]:
    """What the kind finds of each output of ``asset``, in order; None where missing.

    Args:
        manager: The kind the outputs were stored with.
        asset: Their asset.
        partitions: Each output's partition key.
        paths: Where each output is, as text (absolute).
    """
    files = getattr(manager, "stat_files", None)
    if files is not None:
        found: list[OutputStat | None] = list(files(paths))
        return found
    refs = [
        OutputRef(asset, partition, Path(path))
        for partition, path in zip(partitions, paths, strict=True)
    ]
    many = getattr(manager, "stat_partitions", None)
    if many is not None:
        counted: list[OutputStat | None] = list(many(asset, refs))
        return counted
    return [manager.stat(ref) for ref in refs]


def stat_assets(
    manager: IOManager, outputs: Mapping[str, tuple[Sequence[str | None], Sequence[str]]]
) -> dict[str, list[OutputStat | None]]:
    """``stat_outputs`` of several assets of one kind: {asset: (partitions, paths)}.

    A kind with ``stat_files`` is asked once for every asset's files together, so that
    outputs on object storage are looked at with one listing, not one request each.
    """
    files = getattr(manager, "stat_files", None)
    if files is not None:
        every = [path for _, paths in outputs.values() for path in paths]
        looked: list[OutputStat | None] = list(files(every))
        found_by_asset: dict[str, list[OutputStat | None]] = {}
        start = 0
        for asset, (_, paths) in outputs.items():
            found_by_asset[asset] = looked[start : start + len(paths)]
            start += len(paths)
        return found_by_asset
    many = getattr(manager, "stat_assets", None)
    if many is None:
        return {
            asset: stat_outputs(manager, asset, partitions, paths)
            for asset, (partitions, paths) in outputs.items()
        }
    refs = {
        asset: [
            OutputRef(asset, partition, Path(path))
            for partition, path in zip(partitions, paths, strict=True)
        ]
        for asset, (partitions, paths) in outputs.items()
    }
    found: dict[str, list[OutputStat | None]] = many(refs)
    return found
