"""The scheduler: put a set of assets in dependency order, ties broken by name."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from assetflow.graph import AssetGraph


def order_assets(graph: AssetGraph, names: Iterable[str]) -> list[str]:
    """`names` in an order where every asset comes after the assets it reads, alphabetical
    among equals (see `AssetGraph.topological_order`)."""
    return graph.topological_order(names)
