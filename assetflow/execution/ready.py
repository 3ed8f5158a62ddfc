"""The ready queue: a step is ready as soon as every in-plan step it reads has finished."""

from __future__ import annotations

import heapq
from collections import defaultdict
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from assetflow.keys import AssetPartition
    from assetflow.planner.plan import Plan, Step


class ReadyQueue:
    """Hands out a plan's steps in dependency order, each as soon as it can start.

    Among ready steps, plan order wins (it is topological and readable); with
    `newest_first`, the newest partition wins, so a backfill fills the recent
    days first.
    """

    def __init__(self, plan: Plan, *, newest_first: bool = False) -> None:
        self._steps = plan.steps
        in_plan = {step.key for step in plan.steps}
        self._waiting_on: dict[AssetPartition, int] = {}
        self._readers: defaultdict[AssetPartition, list[int]] = defaultdict(list)
        ranks = _partition_ranks(plan) if newest_first else {}
        self._priority = [
            (-ranks.get(step.partition, 0), index) for index, step in enumerate(plan.steps)
        ]
        self._ready: list[tuple[tuple[int, int], int]] = []
        for index, step in enumerate(plan.steps):
            upstream = {key for key in step.inputs if key in in_plan and key != step.key}
            self._waiting_on[step.key] = len(upstream)
            for key in upstream:
                self._readers[key].append(index)
            if not upstream:
                heapq.heappush(self._ready, (self._priority[index], index))
        self._unfinished = len(plan.steps)

    def __bool__(self) -> bool:
        return self._unfinished > 0

    def has_ready(self) -> bool:
        return bool(self._ready)

    def pop(self) -> Step:
        """The next ready step (call only when `has_ready()`)."""
        _, index = heapq.heappop(self._ready)
        return self._steps[index]

    def finished(self, step: Step) -> None:
        """Mark a step done, whatever its outcome; its readers may become ready."""
        self._unfinished -= 1
        for index in self._readers.pop(step.key, ()):
            reader = self._steps[index].key
            self._waiting_on[reader] -= 1
            if self._waiting_on[reader] == 0:
                heapq.heappush(self._ready, (self._priority[index], index))


def _partition_ranks(plan: Plan) -> dict[str | None, int]:
    """Partition keys ranked oldest (1) to newest; keys sort in time order by their format."""
    keys = sorted({step.partition for step in plan.steps if step.partition is not None})
    return {key: rank for rank, key in enumerate(keys, start=1)}
