"""Is a run still alive? Judge it by its pid on this machine, by its heartbeat on another.

A run is recorded as ``running`` when it starts and finished by the process that
runs it. If that process dies without finishing it (SIGKILL, the OOM killer, a
machine restart), nothing else would: ``sweep_orphaned_runs`` finds such runs and
marks them ``crashed``. It is cheap (one query for the running runs, one signal-0
probe per local run), so `materialize`, `plan`, `status` and `runs` call it first.

A run records the host its process runs on, and that process records a
heartbeat every ``HEARTBEAT_INTERVAL`` (``MetadataStore.heartbeat``, which also
tells it whether a cancel was requested). How a run is judged:

- on this host, by its pid: gone when no such process exists (or it is a zombie);
- on another host (a store shared between machines), by its heartbeat: gone when
  the newest one (or its start, before the first) is older than
  ``HEARTBEAT_TIMEOUT``. The heartbeat was written by that host's clock and is
  read against this one's, so the machines' clocks must agree to well within
  the timeout (NTP does);
- recorded without a host (by an assetflow that did not record one), by its pid
  as if on this host; a run with neither a host nor a pid is left alone.

What a pid cannot tell:

- pid reuse: once a process is gone, a new, unrelated process may get its pid;
  then the run looks alive and stays ``running`` until that process ends too
  (knowing would need the process start time, which is not portable);
- another pid namespace on the same host name (a container): its pids mean
  nothing here, so such a run may be marked ``crashed``; if it was in fact
  alive, its own end overwrites that status, and the extra event stays;
- Windows: ``os.kill(pid, 0)`` would terminate the process there, so every
  process counts as alive and nothing local is swept.

Marking a run crashed writes nothing else: the steps it finished were recorded
as they finished, and the outputs it was writing are invisible, since outputs
are written beside their target and renamed. The planner re-plans from that.
"""

from __future__ import annotations

import logging
import os
import socket
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import replace
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from assetflow.store.records import EventKind, EventRecord, Lease, RunRecord, RunStatus

if TYPE_CHECKING:
    from collections.abc import Sequence

    from assetflow.clock import Clock
    from assetflow.store.base import MetadataStore

    #: What the crash sweep calls for each run it marks crashed (see `sweep_orphaned_runs`).
    CrashHook = Callable[[RunRecord, Sequence[EventRecord], MetadataStore], None]

logger = logging.getLogger(__name__)

#: How often a run's process records its heartbeat (and so polls for a cancel request):
#: often enough that a cancel from another process takes effect within seconds, rarely
#: enough that the writes cost nothing next to a step's.
HEARTBEAT_INTERVAL = timedelta(seconds=5)
#: A run on another host whose newest heartbeat is older than this is taken as crashed:
#: three missed beats, so that one slow write or a short network stall does not kill it.
HEARTBEAT_TIMEOUT = 3 * HEARTBEAT_INTERVAL
#: This machine's name, as runs and leases record it.
HOST = socket.gethostname()

#: `list_runs` takes a limit; the sweep must see every running run, however many.
_EVERY_RUN = sys.maxsize


def is_process_alive(pid: int) -> bool:
    """Whether a process with this id exists on this machine.

    It may be another process than the one that took the id first (see the
    module docstring); an answer the operating system does not give counts as
    alive, so that a run is never marked crashed on a guess.
    """
    if sys.platform == "win32":
        # On Windows, os.kill(pid, 0) terminates the process: never probe there.
        return True
    if pid <= 0:
        return False  # 0 and negative ids name process groups, never a run's process
    try:
        os.kill(pid, 0)  # signal 0: only asks whether the process exists
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # it exists, but belongs to another user
    except OverflowError:
        return False  # larger than any pid this system hands out
    except OSError:
        return True
    return not _is_zombie(pid)


def _is_zombie(pid: int) -> bool:
    """Whether a process has exited and only waits to be reaped (Linux; False elsewhere).

    A killed worker whose parent died first stays a zombie until init reaps it,
    which in a container without an init may be never: it must count as gone.
    """
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as stat:
            fields = stat.read().rsplit(")", 1)  # the name, in parentheses, may hold spaces
    except OSError:
        return False
    return len(fields) == 2 and fields[1].split()[:1] == ["Z"]


#: The message of a step that was running when its run crashed.
INTERRUPTED_STEP = (
    "the run crashed while this step was running; it is rebuilt by the next run, since "
    "its output may have been replaced without being recorded"
)


def crash_message(pid: int) -> str:
    """The message of the run-level event that records a crash found by the pid."""
    return (
        f"run crashed: its process (pid {pid}) is gone; nothing it was writing is visible, "
        "since outputs are written atomically"
    )


def silent_message(run: RunRecord, last_sign: datetime, stale_after: timedelta) -> str:
    """The message of the run-level event that records a crash found by the heartbeat."""
    what = "heartbeat" if run.heartbeat_at is not None else "start (and no heartbeat since)"
    return (
        f"run crashed: its process (pid {run.pid} on {run.host}) has been silent since its "
        f"last {what} at {last_sign:%Y-%m-%d %H:%M:%S} UTC, longer than "
        f"{stale_after.total_seconds():g} s; nothing it was writing is visible, since "
        "outputs are written atomically"
    )


def crash_reason(
    run: RunRecord,
    now: datetime,
    *,
    host: str = HOST,
    is_alive: Callable[[int], bool] = is_process_alive,
    stale_after: timedelta = HEARTBEAT_TIMEOUT,
) -> str | None:
    """Why a ``running`` run is taken as crashed at ``now``, or None while it looks alive.

    Args:
        run: The run as recorded (its status is not looked at).
        now: The time of the question (timezone-aware).
        host: This machine's name: a run recorded on another host is judged by
            its heartbeat, one on this host (or with no host) by its pid.
        is_alive: Whether a pid is a live process here (tests inject their own).
        stale_after: How old a heartbeat may be before its run counts as crashed.

    Returns:
        The message of the crash event, or None.
    """
    if run.host is not None and run.host != host:
        last_sign = run.heartbeat_at or run.started_at
        if now - last_sign > stale_after:
            return silent_message(run, last_sign, stale_after)
        return None
    if run.pid is None or is_alive(run.pid):
        return None
    return crash_message(run.pid)


def running_leases(
    store: MetadataStore,
    now: datetime,
    *,
    host: str = HOST,
    is_alive: Callable[[int], bool] = is_process_alive,
) -> list[Lease]:
    """The leases of steps being run now: unexpired, held by a run that is recorded
    ``running`` and still looks alive (its process here, or its heartbeat elsewhere).

    A crashed run's leases stay in the store until a sweep finishes the run (a
    read-only store is never swept); they are not "running" for anyone asking.
    """
    held = [lease for lease in store.leases() if lease.expires_at > now]
    runs = {run_id: store.get_run(run_id) for run_id in {lease.run_id for lease in held}}
    alive = {
        run_id
        for run_id, run in runs.items()
        if run is not None
        and run.status is RunStatus.RUNNING
        and crash_reason(run, now, host=host, is_alive=is_alive) is None
    }
    return [lease for lease in held if lease.run_id in alive]


def sweep_orphaned_runs(
    store: MetadataStore,
    *,
    clock: Clock,
    is_alive: Callable[[int], bool] = is_process_alive,
    host: str = HOST,
    stale_after: timedelta = HEARTBEAT_TIMEOUT,
    on_crashed: CrashHook | None = None,
) -> list[RunRecord]:
    """Mark ``crashed`` every ``running`` run whose process is gone (see ``crash_reason``).

    Each crashed run gets a run-level FAILED event saying why, and a FAILED event
    for each step it held a lease on. Two processes sweeping at once mark a run
    once between them.

    Args:
        store: The metadata store.
        clock: Gives when the crash is noticed: the runs' ``finished_at`` (never
            before a run's start).
        is_alive: Whether a pid is a live process here (tests inject their own).
        host: This machine's name (tests pretend to be another).
        stale_after: How old another host's heartbeat may be.
        on_crashed: Called with each run this call marks crashed (as now recorded), the
            events recorded with the mark (the run's own, saying why, then one per step
            it interrupted) and the store, inside the transaction that marks it: what it
            writes (lineage events) commits with the mark.

    Returns:
        The runs this call marked crashed, as they are now recorded.
    """
    now = clock.now()
    running = store.list_runs(limit=_EVERY_RUN, status=RunStatus.RUNNING)
    reasons: dict[str, str] = {}
    for run in running:
        reason = crash_reason(run, now, host=host, is_alive=is_alive, stale_after=stale_after)
        if reason is not None:
            reasons[run.run_id] = reason
    if not reasons:
        return []
    in_flight: dict[str, list[Lease]] = {}
    for lease in store.leases():
        in_flight.setdefault(lease.run_id, []).append(lease)
    crashed: list[RunRecord] = []
    for run in running:
        if run.run_id not in reasons:
            continue
        finished_at = max(now, run.started_at)
        event = EventRecord(
            run_id=run.run_id, kind=EventKind.FAILED, at=finished_at, message=reasons[run.run_id]
        )
        # The steps it held leases on were running: each may have replaced its output
        # without recording it. A failure newer than their last materialization makes
        # the next plan rebuild them, so outputs and records agree again.
        interrupted = [
            EventRecord(
                run_id=run.run_id,
                kind=EventKind.FAILED,
                at=finished_at,
                asset=lease.asset,
                partition=lease.partition,
                message=INTERRUPTED_STEP,
            )
            for lease in in_flight.get(run.run_id, ())
        ]
        recorded = [event, *interrupted]
        with store.unit_of_work() if on_crashed is not None else nullcontext():
            if not store.finish_run_if_running(
                run.run_id, RunStatus.CRASHED, finished_at, recorded
            ):
                continue  # another process marked it meanwhile
            marked = replace(run, status=RunStatus.CRASHED, finished_at=finished_at)
            if on_crashed is not None:
                on_crashed(marked, recorded, store)
        logger.warning("run %s was left running: %s", run.run_id, reasons[run.run_id])
        crashed.append(marked)
    return crashed


@contextmanager
def heartbeating(
    store: MetadataStore,
    run_id: str,
    clock: Clock,
    on_cancel: Callable[[], None],
    *,
    interval: timedelta = HEARTBEAT_INTERVAL,
) -> Iterator[None]:
    """Record the run's heartbeat from a thread every ``interval`` while the block runs,
    and call ``on_cancel`` (from that thread, once) when a cancel has been requested.

    A heartbeat that fails is logged and tried again at the next beat: the run goes
    on, and only a silence longer than ``HEARTBEAT_TIMEOUT`` makes it look crashed.
    """
    stop = threading.Event()

    def beat() -> None:
        cancelled = False
        while not stop.wait(interval.total_seconds()):
            try:
                asked = store.heartbeat(run_id, clock.now())
            except Exception:  # the next beat tries again; the run goes on
                logger.warning("could not record the heartbeat of run %s", run_id, exc_info=True)
                continue
            if asked and not cancelled:
                cancelled = True
                on_cancel()

    beater = threading.Thread(target=beat, name="assetflow-heartbeat", daemon=True)
    beater.start()
    try:
        yield
    finally:
        stop.set()
        beater.join()
