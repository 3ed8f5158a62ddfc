"""A cheap look at many stored outputs of one asset at once, through its kind's ``stat``.

A kind may offer ``stat_partitions(asset, refs)`` to look at many partitions in
one go (DuckDB counts every partition's rows in one query); any other kind is
asked ``stat`` once per output.
"""

from __future__ import annotations

from collections.abc import Sequence

from assetflow.io.base import IOManager, OutputRef, OutputStat


def stat_outputs(
    manager: IOManager, asset: str, refs: Sequence[OutputRef]
) -> list[OutputStat | None]:
    """``manager.stat`` of each ref (outputs of ``asset``), in order; None where missing."""
    many = getattr(manager, "stat_partitions", None)
    if many is not None:
        found: list[OutputStat | None] = list(many(asset, refs))
        return found
    return [manager.stat(ref) for ref in refs]
