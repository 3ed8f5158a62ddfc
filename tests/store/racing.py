"""Run one function in several real processes at once, as concurrent assetflow runs would."""

from __future__ import annotations

import multiprocessing
from collections.abc import Callable
from pathlib import Path
from typing import Any

#: How long a racing process may take before the test gives up on it.
PROCESS_TIMEOUT_S = 120


def race(target: Callable[..., None], path: Path, count: int) -> list[Any]:
    """Start `count` spawned processes running `target(path, worker, barrier, results)`
    together (each waits at the barrier), and return what each put on `results`, sorted."""
    context = multiprocessing.get_context("spawn")
    start = context.Barrier(count)
    results: multiprocessing.Queue[Any] = context.Queue()
    processes = [
        context.Process(target=target, args=(str(path), worker, start, results))
        for worker in range(count)
    ]
    for process in processes:
        process.start()
    outcomes = sorted(results.get(timeout=PROCESS_TIMEOUT_S) for _ in processes)
    for process in processes:
        process.join(PROCESS_TIMEOUT_S)
    return outcomes
