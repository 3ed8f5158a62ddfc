"""Leases: a run holds an asset-partition's lease while it materializes it.

The store keeps the leases (see MetadataStore.acquire_lease); this module holds
how a run takes and keeps them: how long a lease lasts, how often it is renewed,
and when another run's lease counts as abandoned.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from assetflow.runs import is_process_alive
from assetflow.store.records import Lease

if TYPE_CHECKING:
    from assetflow.planner.plan import Step
    from assetflow.store.base import MetadataStore

logger = logging.getLogger(__name__)

#: How often a step whose lease another run holds tries again.
RETRY_S = 0.25
#: A lease lasts this long unless renewed (a backstop: a dead holder on this
#: machine is noticed at once by its pid).
TTL = timedelta(minutes=10)
#: How often a run renews its leases.
RENEW_S = 60.0
HOST = socket.gethostname()


def new_lease(step: Step, run_id: str) -> Lease:
    """The lease this process asks for to run a step, from now for `TTL`."""
    now = datetime.now(UTC)
    return Lease(step.asset, step.partition, run_id, os.getpid(), HOST, now, now + TTL)


def holder_is_gone(holder: Lease) -> bool:
    """Whether a lease's holder is a process of this machine that no longer exists."""
    return holder.host == HOST and not is_process_alive(holder.pid)


def renew(store: MetadataStore, run_id: str) -> None:
    """Push back the expiry of every lease the run holds."""
    store.renew_leases(run_id, datetime.now(UTC) + TTL)


@contextmanager
def renewing(store: MetadataStore, run_id: str) -> Iterator[None]:
    """Renew the run's leases from a thread every `RENEW_S`, while the block runs: for
    a step that holds the coordinator's own thread for longer than a lease lasts."""
    stop = threading.Event()

    def keep() -> None:
        while not stop.wait(RENEW_S):
            try:
                renew(store, run_id)
            except Exception:  # the next renewal tries again; the step goes on
                logger.warning("could not renew the leases of run %s", run_id, exc_info=True)

    keeper = threading.Thread(target=keep, name="assetflow-leases", daemon=True)
    keeper.start()
    try:
        yield
    finally:
        stop.set()
        keeper.join()
