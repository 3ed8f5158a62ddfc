"""Leases: a run holds an asset-partition's lease while it materializes it.

The store keeps the leases (see MetadataStore.acquire_lease); this module holds
how a run takes and keeps them: how long a lease lasts, how often it is renewed,
and when another run's lease counts as abandoned. Every time comes from the
caller (a Clock's ``now``), never from the machine's clock directly.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from assetflow.execution.liveness import HOST, crash_reason, is_process_alive
from assetflow.store.records import Lease

if TYPE_CHECKING:
    from assetflow.clock import Clock
    from assetflow.planner.plan import Step
    from assetflow.store.base import MetadataStore

logger = logging.getLogger(__name__)

#: How often a step whose lease another run holds tries again.
RETRY_S = 0.25
#: A lease lasts this long unless renewed (a backstop: a dead holder on this
#: machine is noticed at once by its pid, one on another by its run's heartbeat).
TTL = timedelta(minutes=10)
#: How often a run renews its leases.
RENEW_S = 60.0


def new_lease(step: Step, run_id: str, now: datetime) -> Lease:
    """The lease this process asks for to run a step, from ``now`` for `TTL`."""
    return Lease(step.asset, step.partition, run_id, os.getpid(), HOST, now, now + TTL)


def is_local_holder_gone(holder: Lease) -> bool:
    """Whether a lease's holder is a process of this machine that no longer exists.

    Quick and store-free, so the store may ask it inside its write transaction
    (the ``takeover`` of ``MetadataStore.acquire_lease``).
    """
    return holder.host == HOST and not is_process_alive(holder.pid)


def holder_is_gone(store: MetadataStore, holder: Lease, now: datetime) -> bool:
    """Whether a lease's holder is gone: by its pid on this machine, else by the heartbeat
    of its run (see ``assetflow.execution.liveness``).

    Reads the holder's run from the store: call it outside the store's transaction.
    """
    if holder.host == HOST:
        return is_local_holder_gone(holder)
    run = store.get_run(holder.run_id)
    # No such run: the store lets its lease lapse by itself.
    return run is not None and crash_reason(run, now) is not None


def acquire(store: MetadataStore, lease: Lease) -> Lease | None:
    """Take ``lease`` (asked at its ``acquired_at``), taking over one whose holder is gone.

    A holder on this machine is judged inside the store's write transaction, by its
    pid. One on another machine is judged after, by its run's heartbeat; when that
    is stale the lease is asked for again, taking over from that run only.

    Returns:
        None when the lease is now the run's; otherwise the holder's lease.
    """
    now = lease.acquired_at
    holder = store.acquire_lease(lease, now=now, takeover=is_local_holder_gone)
    if holder is None or holder.host == HOST or not holder_is_gone(store, holder, now):
        return holder
    logger.info(
        "taking over the lease on %s from run %s on %s: its heartbeat is stale",
        holder.key,
        holder.run_id,
        holder.host,
    )
    stale_run = holder.run_id

    def take_from(held: Lease) -> bool:
        return held.run_id == stale_run or is_local_holder_gone(held)

    return store.acquire_lease(lease, now=now, takeover=take_from)


def renew(store: MetadataStore, run_id: str, now: datetime) -> None:
    """Push back the expiry of every lease the run holds, to ``now`` plus `TTL`."""
    store.renew_leases(run_id, now + TTL)


@contextmanager
def renewing(store: MetadataStore, run_id: str, clock: Clock) -> Iterator[None]:
    """Renew the run's leases from a thread every `RENEW_S`, while the block runs: for
    a step that holds the coordinator's own thread for longer than a lease lasts."""
    stop = threading.Event()

    def keep() -> None:
        while not stop.wait(RENEW_S):
            try:
                renew(store, run_id, clock.now())
            except Exception:  # the next renewal tries again; the step goes on
                logger.warning("could not renew the leases of run %s", run_id, exc_info=True)

    keeper = threading.Thread(target=keep, name="assetflow-leases", daemon=True)
    keeper.start()
    try:
        yield
    finally:
        stop.set()
        keeper.join()
