"""What the scheduler keeps in the metadata store: ticks, its leader lease, origin states
and sensor cursors; the AutomationStore protocol over them, and the checks every backend
applies to them.

A *tick* is one due instant of a schedule or sensor (its *origin*, e.g.
``schedule:nightly``), recorded before its run starts and linked to the run after.
``(origin, scheduled_at)`` is unique, so that however many schedulers race, restart or
crash, a tick is claimed once and starts at most one run. A run key set on a tick is
unique among ticks that hold it (claimed or started): a second tick asking for the same
key is stored as skipped, with the reason naming the tick or run that has it.

Semantics every backend shares (``tests/store/test_ticks.py`` and
``test_automation_store.py`` pin them):

- Times are timezone-aware; they are kept and returned in UTC, a naive one is a
  StoreError.
- Each call is one short write (or read) transaction, race-free across processes,
  and joins an open ``unit_of_work()``.
- ``request`` is kept as JSON and read back as plain dicts and lists.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any, Final, Literal, Protocol, get_args, runtime_checkable

from assetflow.errors import StoreError
from assetflow.store.normalise import MAX_INTEGER, as_utc, readable_text
from assetflow.store.records import RunRecord

TickStatus = Literal["claimed", "started", "skipped", "failed"]
#: Every tick status, in the order a tick's life goes.
TICK_STATUSES: Final[tuple[TickStatus, ...]] = get_args(TickStatus)
#: The statuses of a tick that holds its run key (a run was, or is about to be, started).
KEY_HOLDING_STATUSES: Final[frozenset[TickStatus]] = frozenset({"claimed", "started"})
#: The statuses of ticks without a run: their run id is cleared when they are stored.
RUNLESS_STATUSES: Final[frozenset[TickStatus]] = frozenset({"skipped", "failed"})


@dataclass(frozen=True, slots=True)
class TickRecord:
    """One due instant of a schedule or sensor, and what became of it.

    Statuses: ``claimed``: recorded, its run not yet started (or the process died
    in between); ``started``: its run was started (``run_id`` set); ``skipped``:
    not run, ``reason`` says why (paused, calendar, catch-up, overlap, a run key
    already used...); ``failed``: its run could not be started (``reason`` holds
    the error).
    """

    #: "schedule:nightly", "sensor:new_files", "automation"
    origin: str
    #: the due instant (UTC); (origin, scheduled_at) is unique
    scheduled_at: datetime
    #: when the scheduler decided about it (UTC)
    evaluated_at: datetime
    status: TickStatus
    reason: str | None = None
    run_id: str | None = None
    #: unique among claimed and started ticks when set (a repeated key is skipped)
    run_key: str | None = None
    partition_keys: tuple[str, ...] = ()
    selection: str | None = None
    #: ``RunRequest.to_json()`` of the run it starts, so that a claimed tick can be retried
    request: Mapping[str, Any] | None = None


@dataclass(frozen=True, slots=True)
class SchedulerLease:
    """The one scheduler process allowed to start runs on a store, while it heartbeats."""

    #: a unique id of the scheduler process (uuid hex)
    holder: str
    pid: int
    host: str
    acquired_at: datetime
    heartbeat_at: datetime
    #: it lapses at this instant (``expires_at <= now``) unless renewed
    expires_at: datetime


@dataclass(frozen=True, slots=True)
class OriginState:
    """What is kept of one schedule or sensor across scheduler restarts."""

    origin: str
    #: when a scheduler first saw it (a schedule without ``start`` starts here)
    first_seen_at: datetime
    paused: bool = False
    #: when it was last paused or resumed
    changed_at: datetime | None = None
    #: of the schedule's timing (cron/every/timezone), to notice an edit
    fingerprint: str | None = None


@runtime_checkable
class AutomationStore(Protocol):
    """The scheduler's records in the metadata store (every MetadataStore offers them)."""

    def claim_tick(self, tick: TickRecord) -> bool:
        """Record ``tick`` unless its (origin, scheduled_at) is recorded already.

        Atomic across processes: of schedulers racing to claim one tick, exactly one
        gets True. A claimed or started tick whose run key is already held (by a
        claimed or started tick of any origin, or by a run) is stored as skipped,
        with the reason, and gets False: start no run for it.

        Returns:
            True when the tick was recorded as given and its run is the caller's
            to start; False otherwise (an existing tick is left unchanged).

        Raises:
            StoreError: A time is naive, a text is invalid, the request is not
                JSON, or the store cannot be written.
        """
        ...

    def claim_ticks(self, ticks: Sequence[TickRecord]) -> list[bool]:
        """``claim_tick`` for each of ``ticks``, in order, in one transaction."""
        ...

    def update_tick(
        self,
        origin: str,
        scheduled_at: datetime,
        *,
        status: TickStatus,
        evaluated_at: datetime,
        run_id: str | None = None,
        reason: str | None = None,
    ) -> None:
        """Set a recorded tick's status and evaluation time; ``run_id`` and ``reason``
        replace the recorded ones when given (None keeps them). A tick set skipped
        or failed has no run: its run id is cleared.

        Raises:
            StoreError: No such tick; setting it claimed or started again while
                another tick holds its run key; a naive time; or the store cannot
                be written.
        """
        ...

    def get_tick(self, origin: str, scheduled_at: datetime) -> TickRecord | None:
        """The tick of ``origin`` due at ``scheduled_at``, or None."""
        ...

    def ticks(
        self,
        origin: str | None = None,
        *,
        limit: int = 50,
        before: datetime | None = None,
        statuses: Collection[TickStatus] | None = None,
    ) -> list[TickRecord]:
        """Recorded ticks, newest scheduled first (ties: last written first).

        Args:
            origin: Only this origin's ticks; None means every origin.
            limit: At most this many (none when ``limit <= 0``).
            before: Only ticks scheduled strictly before this instant (the next page).
            statuses: Only ticks with one of these statuses.
        """
        ...

    def latest_ticks(self, origins: Iterable[str]) -> dict[str, TickRecord]:
        """The newest-scheduled tick of each of ``origins``, in one query (origins with
        no tick are absent)."""
        ...

    def claimed_ticks(self) -> list[TickRecord]:
        """Every tick still ``claimed`` (its run not started), oldest scheduled first."""
        ...

    def run_by_key(self, run_key: str) -> RunRecord | None:
        """The newest run (by start) created with this run key, or None."""
        ...

    def origin_states(self) -> dict[str, OriginState]:
        """The kept state of every schedule and sensor seen so far."""
        ...

    def see_origins(
        self, origins: Mapping[str, str | None], at: datetime
    ) -> dict[str, OriginState]:
        """Note that the scheduler sees these origins now, with these fingerprints.

        New origins are recorded as first seen ``at``; known ones keep their
        first-seen time and pause state and take the fingerprint given. One
        transaction.

        Args:
            origins: ``{origin: fingerprint}``.
            at: Now (timezone-aware).

        Returns:
            The states of every origin in the store (not only those given).
        """
        ...

    def set_paused(self, origin: str, paused: bool, at: datetime) -> OriginState:
        """Pause or resume an origin (recording it first seen ``at`` if it is new).

        ``changed_at`` becomes ``at`` only when the pause state changes: pausing a
        paused origin keeps the time it was paused.
        """
        ...

    def sensor_cursor(self, origin: str) -> str | None:
        """The cursor saved for a sensor, or None."""
        ...

    def save_sensor_evaluation(
        self, origin: str, cursor: str | None, ticks: Sequence[TickRecord]
    ) -> list[bool]:
        """Save a sensor's cursor (None clears it) and claim the ticks of the run requests
        it returned, in one transaction: both or neither.

        A tick whose run key is already held by a claimed or started tick (of any
        origin, or earlier in ``ticks``) or by a run is stored as skipped with the
        reason ``run key 'K' was already requested (tick ... / run ...)``.

        Returns:
            For each tick, whether it was claimed (as ``claim_ticks``).
        """
        ...

    def acquire_scheduler_lease(
        self, holder: str, pid: int, host: str, now: datetime, ttl: timedelta
    ) -> SchedulerLease:
        """Take the scheduler lease if it is free, lapsed (``expires_at <= now``) or
        ``holder``'s already (then it is renewed, keeping ``acquired_at``).

        Atomic across processes: of several racing, one wins.

        Returns:
            The lease now recorded: ``holder``'s when it got it, else the other
            holder's, unchanged.

        Raises:
            StoreError: ``ttl`` is not positive, a time is naive, or the store
                cannot be written.
        """
        ...

    def renew_scheduler_lease(self, holder: str, now: datetime, ttl: timedelta) -> bool:
        """Heartbeat: move the lease's expiry to ``now + ttl`` if ``holder`` still holds it.

        Returns:
            False when another process holds it now (or nobody does).
        """
        ...

    def release_scheduler_lease(self, holder: str) -> None:
        """Give the lease up if ``holder`` holds it (another holder's is left alone)."""
        ...

    def scheduler_lease(self) -> SchedulerLease | None:
        """The lease as recorded (possibly lapsed), or None when nobody holds it."""
        ...


# -- checks every backend applies ------------------------------------------------------------


def _short(value: object) -> str:
    """The repr of ``value``, cut short for a message (a cursor may be large)."""
    shown = repr(value)
    return shown if len(shown) <= 60 else shown[:57] + "..."


def _quoted(text: object) -> str:
    """``text`` quoted for a message; a value that is not a str shown as its (short) repr."""
    return f"'{readable_text(text)}'" if isinstance(text, str) else _short(text)


def _text(value: str | None, where: str, name: str, *, required: bool = False) -> None:
    """Refuse ``value`` unless it is a str of valid Unicode (or None, unless ``required``)."""
    if (value is not None or required) and not isinstance(value, str):
        raise StoreError(
            f"{where} has a {name} that is not a str: {_quoted(value)}.",
            hint="The metadata store keeps text here: pass a str (json.dumps() a structure).",
        )
    if value is not None and readable_text(value) != value:
        raise StoreError(
            f"{where} has a {name} that is not valid Unicode text: {_short(value)}.",
            hint="The metadata store keeps UTF-8 text: pass valid text.",
        )


def _no_nul(value: str | None, where: str, what: str) -> None:
    """Refuse a NUL character in a text that SQLite matches through JSON (which cuts
    text at a NUL, so that "a\\x00b" would be stored or found as "a")."""
    if value is not None and "\x00" in value:
        raise StoreError(
            f"{where} has {what} with a NUL character.",
            hint="Schedule and sensor names and fingerprints are plain text; "
            "this is a bug in the code that built it.",
        )


def check_status(status: str, where: str) -> TickStatus:
    """``status`` as a TickStatus.

    Raises:
        StoreError: It is not one of TICK_STATUSES.
    """
    for known in TICK_STATUSES:
        if status == known:
            return known
    raise StoreError(
        f"{where} has status {status!r}, which is not a tick status.",
        hint=f"A tick's status is one of {', '.join(TICK_STATUSES)}.",
    )


def request_json(request: Mapping[str, Any] | None, where: str) -> str | None:
    """The request as stored (compact JSON), or None.

    Raises:
        StoreError: It cannot be written as JSON.
    """
    if request is None:
        return None
    try:
        return json.dumps(dict(request), ensure_ascii=False, separators=(",", ":"))
    except (TypeError, ValueError) as exc:
        raise StoreError(
            f"{where} has a request that cannot be stored as JSON: {exc}.",
            hint="Store RunRequest.to_json(): plain strings, numbers, lists and dicts.",
        ) from None


def tick_where(origin: str, scheduled_at: datetime) -> str:
    """How messages name a tick."""
    return f"tick {_quoted(origin)} at {scheduled_at.isoformat()}"


def normalise_tick(tick: TickRecord) -> tuple[TickRecord, str | None]:
    """Check ``tick`` the way every backend does.

    Returns:
        The tick with its times in UTC and its partition keys a tuple, and its
        request as stored (JSON text, or None).

    Raises:
        StoreError: A time is naive, a text is not a str or not valid Unicode, the
            origin holds a NUL character, the status is unknown, or the request is
            not JSON.
    """
    where = tick_where(tick.origin, tick.scheduled_at)
    texts = {
        "origin": tick.origin,
        "reason": tick.reason,
        "run_id": tick.run_id,
        "run_key": tick.run_key,
        "selection": tick.selection,
    }
    for name, text in texts.items():
        _text(text, where, name, required=name == "origin")
    _no_nul(tick.origin, where, "an origin")
    for key in tick.partition_keys:
        _text(key, where, "partition key", required=True)
    stored = request_json(tick.request, where)
    status = check_status(tick.status, where)
    normalised = replace(
        tick,
        scheduled_at=as_utc(tick.scheduled_at, f"{where} scheduled_at"),
        evaluated_at=as_utc(tick.evaluated_at, f"{where} evaluated_at"),
        status=status,
        partition_keys=tuple(tick.partition_keys),
        run_id=None if status in RUNLESS_STATUSES else tick.run_id,
    )
    return normalised, stored


def check_origins(origins: Mapping[str, str | None]) -> dict[str, str | None]:
    """``{origin: fingerprint}`` as a dict, its texts checked.

    Raises:
        StoreError: An origin or fingerprint is not a str, not valid Unicode text,
            or holds a NUL character.
    """
    for origin, fingerprint in origins.items():
        where = f"origin {_quoted(origin)}"
        _text(origin, where, "name", required=True)
        _text(fingerprint, where, "fingerprint")
        _no_nul(origin, where, "a name")
        _no_nul(fingerprint, where, "a fingerprint")
    return dict(origins)


def check_cursor(origin: str, cursor: str | None) -> None:
    """Check a sensor's name and cursor text.

    Raises:
        StoreError: One is not a str or not valid Unicode text, or the name holds
            a NUL character.
    """
    where = f"sensor {_quoted(origin)}"
    _text(origin, where, "name", required=True)
    _text(cursor, where, "cursor")
    _no_nul(origin, where, "a name")


def run_key_reason(run_key: str, holder: str) -> str:
    """Why a tick was skipped: ``holder`` ("tick sensor:x@2026-..." or "run 1a2b...")
    has its run key already."""
    return f"run key '{run_key}' was already requested ({holder})"


def tick_name(origin: str, scheduled_at: datetime) -> str:
    """``origin@instant``, as a skip reason names a tick."""
    return f"{origin}@{scheduled_at.isoformat()}"


def held_key_error(where: str, run_key: str, holder: str) -> StoreError:
    """The error for setting a tick claimed or started while another holds its run key."""
    return StoreError(
        f"cannot mark {where} claimed or started: its run key '{run_key}' is held by {holder}.",
        hint="A run key starts one run: record the tick as skipped instead.",
    )


def unknown_tick_error(where: str, location: str) -> StoreError:
    """The error for updating a tick that was never claimed."""
    return StoreError(
        f"cannot update {where}: there is no such tick in {location}.",
        hint="Claim the tick with claim_tick() before updating it.",
    )


def lease_times(holder: str, pid: int, host: str, now: datetime, ttl: timedelta) -> datetime:
    """Check a scheduler lease request; return ``now`` in UTC.

    Raises:
        StoreError: A text is invalid, the pid does not fit 64 bits, ``now`` is
            naive or ``ttl`` is not positive.
    """
    where = f"scheduler lease of {_quoted(holder)}"
    _text(holder, where, "holder", required=True)
    _text(host, where, "host", required=True)
    if not -MAX_INTEGER - 1 <= pid <= MAX_INTEGER:
        raise StoreError(
            f"{where} has pid {pid}, which does not fit a 64-bit integer column.",
            hint="This is a bug in the code that asked for the lease; please report it.",
        )
    return check_ttl(as_utc(now, f"the time of taking the {where}"), ttl, where)


def check_ttl(now: datetime, ttl: timedelta, where: str) -> datetime:
    """``now``, once ``ttl`` is known positive.

    Raises:
        StoreError: ``ttl`` is zero or negative.
    """
    if ttl <= timedelta(0):
        raise StoreError(
            f"{where} asks for a time to live of {ttl}, which is not positive.",
            hint="Pass a positive timedelta (the scheduler's lease timeout).",
        )
    return now
