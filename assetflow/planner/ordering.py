"""The scheduler: put a set of assets in dependency order, ties broken by name."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from assetflow.graph import AssetGraph


def order_assets(graph: AssetGraph, names: Iterable[str]) -> list[str]:
    """`names` in an order where every asset comes after the assets it reads.

    Kahn's algorithm over the induced subgraph with a sorted ready list, so
    the order is deterministic (and readable: alphabetical among equals).
    """
    import heapq

    wanted = set(names)
    indegree = {name: 0 for name in wanted}
    for name in wanted:
        for parent in graph.parents(name):
            if parent in wanted:
                indegree[name] += 1
    ready = [name for name, degree in indegree.items() if degree == 0]
    heapq.heapify(ready)
    ordered: list[str] = []
    while ready:
        name = heapq.heappop(ready)
        ordered.append(name)
        for child in graph.children(name):
            if child in indegree:
                indegree[child] -= 1
                if indegree[child] == 0:
                    heapq.heappush(ready, child)
    return ordered
