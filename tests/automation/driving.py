"""Driving a real Scheduler in tests: build one on a temporary project, and keep its
bookkeeping going (record what the run threads reported, start queued runs) until
something holds."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from assetflow.api import load, open_project_store
from assetflow.automation.loading import load_automation
from assetflow.automation.scheduler import Scheduler


def scheduler_for(root: Any, clock: Any) -> tuple[Scheduler, Any]:
    """A scheduler of the project at `root` on its own store, on `clock`."""
    project = load(root)
    store = open_project_store(project)
    return Scheduler(project, load_automation(project), store, clock), store


def pump(daemon: Scheduler, store: Any, clock: Any) -> None:
    """Record what the run threads reported and start the queued runs the caps allow."""
    daemon.launcher.settle(store, clock.now())
    daemon.launcher.pump()


def wait_until(
    condition: Callable[[], bool], daemon: Scheduler, store: Any, clock: Any, seconds: float = 10.0
) -> None:
    """Keep the scheduler's bookkeeping going until `condition()` holds."""
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        daemon.wake.wait(0.02)
        daemon.wake.clear()
        pump(daemon, store, clock)


def settle(daemon: Scheduler, store: Any, clock: Any) -> None:
    """Wait for every run the scheduler started, and record what they did."""
    wait_until(lambda: not daemon.launcher.busy, daemon, store, clock, seconds=30)
