"""What alerting keeps in the metadata store: incidents with their member
asset-partitions, and the alert outbox with each delivery attempt; the AlertStore
protocol over them, and the checks and rules every backend applies to them.

An *incident* is one problem (a failing asset, an overdue one, a silent scheduler)
about one *subject* (the asset's name, or ``scheduler``), open until its failed
members have all recovered. At most one incident of a kind about a subject is open
at a time, however many processes race to open it (``IncidentAlreadyOpen``). Its
*members* are the asset-partitions that failed (``role="failed"``) and the
downstream steps skipped because of them (``role="skipped"``, which never keep an
incident open).

The *outbox* holds one alert per (destination, incident, event): queuing the same
key again is a no-op, so that a restart or a second process can never send an alert
twice. A deliverer claims a due alert (``claim_alert``), tries it, and records the
attempt (``finish_alert_attempt``); a claim that expires without an answer makes
the alert due again.

Semantics every backend shares (``tests/store/test_incidents.py`` and
``test_alert_outbox.py`` pin them):

- Times are timezone-aware; they are kept and returned in UTC, a naive one is a
  StoreError.
- Each call is one short write (or read) transaction, race-free across processes,
  and joins an open ``unit_of_work()``, so that an alert commits with the event
  that caused it.
- Text is stored as given: keeping secrets out of summaries and error details is
  the caller's job.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Final, Literal, Protocol, TypeVar, get_args, runtime_checkable

from assetflow.errors import StoreError
from assetflow.store.normalise import MAX_INTEGER, as_utc, optional_utc, readable_text

IncidentKind = Literal["run_failed", "check_failed", "overdue", "scheduler_down"]
#: Every kind of incident.
INCIDENT_KINDS: Final[tuple[IncidentKind, ...]] = get_args(IncidentKind)
AlertEvent = Literal["run_failed", "check_failed", "overdue", "scheduler_down", "recovered"]
#: Every event an alert can be about: an incident's kind when it opens, or ``recovered``.
ALERT_EVENTS: Final[tuple[AlertEvent, ...]] = get_args(AlertEvent)
AlertStatus = Literal["pending", "sending", "sent", "failed", "undeliverable"]
#: Every status of an alert, in the order an alert's life goes.
ALERT_STATUSES: Final[tuple[AlertStatus, ...]] = get_args(AlertStatus)
#: The statuses an attempt may leave an alert in (``sending`` is the claim's own).
FINISHED_STATUSES: Final[frozenset[AlertStatus]] = frozenset(
    {"pending", "sent", "failed", "undeliverable"}
)
MemberRole = Literal["failed", "skipped"]
#: The roles of an incident's members.
MEMBER_ROLES: Final[tuple[MemberRole, ...]] = get_args(MemberRole)
AttemptOutcome = Literal["sent", "retry", "failed", "undeliverable"]
#: What a delivery attempt can come to.
ATTEMPT_OUTCOMES: Final[tuple[AttemptOutcome, ...]] = get_args(AttemptOutcome)

_T = TypeVar("_T", bound=str)

#: A member's identity within its incident: (role, asset, partition), also its order.
MemberKey = tuple[str, str, str]


@dataclass(frozen=True, slots=True)
class IncidentMember:
    """One asset-partition of an incident: one that failed, or one skipped because of it."""

    #: "" for an unpartitioned asset or a scheduler incident
    partition: str
    opened_at: datetime
    resolved_at: datetime | None = None
    #: how many times it failed (or was found overdue) while open
    failures: int = 1
    last_run_id: str | None = None
    #: skipped: a downstream step skipped because of it (never keeps the incident open)
    role: MemberRole = "failed"
    #: for role="skipped": the downstream asset; "" means the incident's subject
    asset: str = ""


@dataclass(frozen=True, slots=True)
class IncidentRecord:
    """One problem about one subject, open until its failed members have recovered."""

    #: uuid4 hex, chosen by the caller
    incident_id: str
    kind: IncidentKind
    #: the asset's name; "scheduler" for scheduler_down
    subject: str
    opened_at: datetime
    last_seen_at: datetime
    #: first lines of the error, or what is late (the caller keeps secrets out)
    summary: str = ""
    #: the run that opened it, if any
    run_id: str | None = None
    resolved_at: datetime | None = None
    #: failures or findings that joined it, the first included
    occurrences: int = 1


@dataclass(frozen=True, slots=True)
class AlertRecord:
    """One message to one destination about one incident, from queued to delivered."""

    #: assigned by the store (ignored when queuing)
    alert_id: int
    #: the destination's name from the configuration
    destination: str
    incident_id: str
    event: AlertEvent
    created_at: datetime
    status: AlertStatus = "pending"
    attempts: int = 0
    #: a pending alert is not due before this (None: at once)
    next_attempt_at: datetime | None = None
    #: not due while this run is still running (a run's failures are grouped until it ends)
    hold_run_id: str | None = None
    last_error: str | None = None
    sent_at: datetime | None = None
    claimed_by: str | None = None
    claimed_until: datetime | None = None


@dataclass(frozen=True, slots=True)
class AlertAttempt:
    """One try at delivering an alert, and what came of it."""

    alert_id: int
    at: datetime
    outcome: AttemptOutcome
    #: what the endpoint answered (status line, SMTP reply), without secrets
    detail: str = ""
    duration_s: float | None = None


class IncidentAlreadyOpen(StoreError):
    """An incident of this kind about this subject is open already: join it instead."""

    def __init__(self, kind: str, subject: str, existing_id: str | None, location: str) -> None:
        self.kind = kind
        self.subject = subject
        #: the open incident's id (None if it could not be read)
        self.existing_id = existing_id
        which = f" ('{existing_id}')" if existing_id else ""
        super().__init__(
            f"cannot open a {kind} incident about '{readable_text(subject)}' in {location}: "
            f"one is open already{which}.",
            hint="Add members to the open incident (open_incident_for() finds it), "
            "or resolve it before opening another.",
        )


@runtime_checkable
class AlertStore(Protocol):
    """Incidents and the alert outbox in the metadata store (every MetadataStore offers them)."""

    # -- incidents -------------------------------------------------------------------------

    def open_incident(self, incident: IncidentRecord, members: Sequence[IncidentMember]) -> None:
        """Record a new incident with its first members, in one transaction.

        Raises:
            IncidentAlreadyOpen: An unresolved incident of this kind about this
                subject exists (of processes racing to open one, one succeeds).
            StoreError: The id is taken, a time is naive, the kind or a role is
                unknown, the subject is empty, a text holds a NUL character, or
                the store cannot be written.
        """
        ...

    def open_incident_for(self, kind: IncidentKind, subject: str) -> IncidentRecord | None:
        """The open (unresolved) incident of this kind about this subject, if any (at most one)."""
        ...

    def add_incident_members(
        self, incident_id: str, members: Sequence[IncidentMember], at: datetime
    ) -> None:
        """Join failures (or skips) to an open incident.

        New (partition, asset, role) members are added as given; an existing
        unresolved one gets failures+1 and the given last_run_id (when not None);
        a resolved one is reopened (resolved_at cleared, failures+1). The
        incident's last_seen_at becomes ``at`` and its occurrences grow by the
        number of role=failed members given.

        Raises:
            StoreError: No such incident, or it is resolved (open a new one); a
                time is naive or a member invalid.
        """
        ...

    def resolve_incident_members(
        self,
        kind: IncidentKind | None,
        subject: str,
        partitions: Collection[str],
        at: datetime,
    ) -> list[IncidentRecord]:
        """Mark asset-partitions of ``subject`` recovered.

        Resolves the unresolved role=failed members with these partitions of the
        open incidents about ``subject`` (of ``kind``, or of every kind when None).
        An incident of which this call resolved a member and whose failed members
        are then all resolved is resolved (``resolved_at=at``, its skipped members
        too).

        Returns:
            The incidents resolved by this call, as now stored (oldest opened first).
        """
        ...

    def resolve_incident(self, incident_id: str, at: datetime) -> IncidentRecord | None:
        """Resolve an open incident and all its members (``resolved_at=at``).

        Returns:
            The incident as now stored; None if no incident has this id or it is
            resolved already.
        """
        ...

    def get_incident(self, incident_id: str) -> IncidentRecord | None:
        """Find an incident by its id or a unique prefix of it (an exact id wins).

        Raises:
            StoreError: The prefix matches several incidents (the message lists them).
        """
        ...

    def incidents(
        self, *, open_only: bool = False, since: datetime | None = None, limit: int = 50
    ) -> list[IncidentRecord]:
        """Incidents, newest opened first (ties: last written first).

        Args:
            open_only: Only unresolved ones.
            since: Only those opened or resolved at or after it, or still open.
            limit: At most this many (none when ``limit <= 0``).
        """
        ...

    def open_incidents(self, kinds: Collection[IncidentKind] | None = None) -> list[IncidentRecord]:
        """Every unresolved incident (of these kinds, when given), newest opened first."""
        ...

    def incident_members(self, incident_ids: Iterable[str]) -> dict[str, list[IncidentMember]]:
        """The members of each incident, in one query: each id given maps to its
        members (an empty list for none), ordered by (role, asset, partition)."""
        ...

    # -- the outbox ------------------------------------------------------------------------

    def queue_alerts(self, alerts: Sequence[AlertRecord]) -> list[bool]:
        """Insert each alert as given (``alert_id`` is ignored; the store assigns one),
        in one transaction.

        (destination, incident_id, event) is unique: a repeat, stored before or
        earlier in ``alerts``, is ignored.

        Returns:
            For each alert, whether it was queued now.

        Raises:
            StoreError: A time is naive, the event or status is unknown, the
                destination is empty, or a text holds a NUL character (then none
                is queued).
        """
        ...

    def due_alerts(self, now: datetime, limit: int = 100) -> list[AlertRecord]:
        """The alerts to deliver now, oldest queued first.

        Due: pending with ``next_attempt_at`` None or at or before ``now``, or
        sending with a claim expired (``claimed_until <= now``); and with no
        ``hold_run_id``, or one naming a run that is not running (or unknown).
        """
        ...

    def claim_alert(
        self, alert_id: int, claimer: str, now: datetime, until: datetime
    ) -> AlertRecord | None:
        """Atomically take a due alert for delivery: its status becomes ``sending``,
        held by ``claimer`` until ``until``.

        Of processes racing for one alert, exactly one gets it. A claimer may claim
        again what it holds (extending the claim).

        Returns:
            The alert as now stored; None if it is unknown, not due (another
            claimer holds an unexpired claim, it is no longer pending, its next
            attempt or its run is not yet over).

        Raises:
            StoreError: A time is naive, ``until`` is not after ``now``, or the
                claimer is empty.
        """
        ...

    def finish_alert_attempt(
        self,
        attempt: AlertAttempt,
        claimer: str,
        *,
        status: AlertStatus,
        next_attempt_at: datetime | None = None,
    ) -> bool:
        """Record a delivery attempt and what it leaves the alert in, in one transaction.

        ``status``: ``sent`` (``sent_at = attempt.at``), ``pending`` (to be tried
        again at ``next_attempt_at``; None means at once), or the final ``failed``
        or ``undeliverable``. ``attempts`` grows by one, ``last_error`` becomes the
        attempt's detail unless sent, and the claim is cleared.

        Returns:
            True; False (writing nothing) unless ``claimer`` holds the alert's
            claim (it is sending, claimed by ``claimer``).

        Raises:
            StoreError: ``status`` is ``sending`` or unknown, the outcome is
                unknown, or a time is naive.
        """
        ...

    def alerts(
        self,
        *,
        destination: str | None = None,
        incident_id: str | None = None,
        limit: int = 100,
    ) -> list[AlertRecord]:
        """Queued alerts (of this destination, about this incident), newest first."""
        ...

    def alert_attempts(self, alert_id: int) -> list[AlertAttempt]:
        """The delivery attempts of an alert, in the order they were made."""
        ...

    def last_alerts(self, destinations: Iterable[str]) -> dict[str, AlertRecord]:
        """Per destination, its alert with the latest attempt (or, if none was tried
        yet, its newest); destinations without alerts are absent. One query."""
        ...


# -- checks every backend applies ------------------------------------------------------------


def _quoted(text: str) -> str:
    return f"'{readable_text(text)}'" if isinstance(text, str) else repr(text)


def _text(value: object, where: str, name: str, *, required: bool = False) -> None:
    """Refuse ``value`` unless it is a str of valid Unicode without NUL (or None,
    unless ``required``); a required one must not be empty."""
    if value is None and not required:
        return
    if not isinstance(value, str):
        raise StoreError(
            f"{where} has a {name} that is not a str: {value!r}.",
            hint="The metadata store keeps text here: pass a str.",
        )
    if required and not value:
        raise StoreError(
            f"{where} has an empty {name}.",
            hint=f"Every alert record names its {name}; this is a bug in the code that built it.",
        )
    if readable_text(value) != value:
        raise StoreError(
            f"{where} has a {name} that is not valid Unicode text: {value!r}.",
            hint="The metadata store keeps UTF-8 text: pass valid text.",
        )
    if "\x00" in value:
        raise StoreError(
            f"{where} has a {name} with a NUL character.",
            hint="Alert and incident texts are plain text; strip NUL characters first.",
        )


def _count(value: int, where: str, name: str, *, least: int = 0) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or not least <= value <= MAX_INTEGER:
        raise StoreError(
            f"{where} has {name} {value!r}, which is not a whole number from {least} up.",
            hint="This is a bug in the code that built the record; please report it.",
        )


def _choice(value: str, known: tuple[_T, ...], where: str, what: str) -> _T:
    for option in known:
        if value == option:
            return option
    raise StoreError(
        f"{where} has {what} {value!r}, which is not one of {', '.join(known)}.",
        hint=f"Pass one of {', '.join(known)}.",
    )


def check_kind(kind: str, where: str) -> IncidentKind:
    """``kind`` as an IncidentKind.

    Raises:
        StoreError: It is not one of INCIDENT_KINDS.
    """
    return _choice(kind, INCIDENT_KINDS, where, "incident kind")


def check_kinds(kinds: Collection[str] | None) -> list[IncidentKind] | None:
    """The kinds asked for, checked (None: every kind)."""
    if kinds is None:
        return None
    return sorted({check_kind(kind, "the incidents asked for") for kind in kinds})


def check_event(event: str, where: str) -> AlertEvent:
    """``event`` as an AlertEvent.

    Raises:
        StoreError: It is not one of ALERT_EVENTS.
    """
    return _choice(event, ALERT_EVENTS, where, "event")


def check_alert_status(status: str, where: str) -> AlertStatus:
    """``status`` as an AlertStatus.

    Raises:
        StoreError: It is not one of ALERT_STATUSES.
    """
    return _choice(status, ALERT_STATUSES, where, "status")


def check_role(role: str, where: str) -> MemberRole:
    """``role`` as a MemberRole."""
    return _choice(role, MEMBER_ROLES, where, "role")


def check_outcome(outcome: str, where: str) -> AttemptOutcome:
    """``outcome`` as an AttemptOutcome."""
    return _choice(outcome, ATTEMPT_OUTCOMES, where, "outcome")


def incident_where(incident_id: str) -> str:
    """How messages name an incident."""
    return f"incident {_quoted(incident_id)}"


def normalise_incident(incident: IncidentRecord) -> IncidentRecord:
    """Check ``incident`` the way every backend does; return it with its times in UTC.

    Raises:
        StoreError: A time is naive, the kind is unknown, the id or subject is
            empty, a text is invalid or holds a NUL, or occurrences is below 1.
    """
    where = incident_where(incident.incident_id)
    _text(incident.incident_id, where, "incident_id", required=True)
    _text(incident.subject, where, "subject", required=True)
    _text(incident.summary, where, "summary")
    _text(incident.run_id, where, "run_id")
    _count(incident.occurrences, where, "occurrences", least=1)
    return replace(
        incident,
        kind=check_kind(incident.kind, where),
        opened_at=as_utc(incident.opened_at, f"{where} opened_at"),
        last_seen_at=as_utc(incident.last_seen_at, f"{where} last_seen_at"),
        resolved_at=optional_utc(incident.resolved_at, f"{where} resolved_at"),
    )


def normalise_members(incident_id: str, members: Sequence[IncidentMember]) -> list[IncidentMember]:
    """Check each member the way every backend does; return them with times in UTC.

    Raises:
        StoreError: A time is naive, the role is unknown, a text is invalid or
            holds a NUL, or failures is below 1.
    """
    checked = []
    for member in members:
        where = f"member {_quoted(member.partition)} of {incident_where(incident_id)}"
        _text(member.partition, where, "partition")
        _text(member.asset, where, "asset")
        _text(member.last_run_id, where, "last_run_id")
        _count(member.failures, where, "failures", least=1)
        checked.append(
            replace(
                member,
                role=check_role(member.role, where),
                opened_at=as_utc(member.opened_at, f"{where} opened_at"),
                resolved_at=optional_utc(member.resolved_at, f"{where} resolved_at"),
            )
        )
    return checked


def alert_where(alert: AlertRecord) -> str:
    """How messages name an alert being queued."""
    return (
        f"alert {alert.event!r} to {_quoted(alert.destination)} "
        f"about {incident_where(alert.incident_id)}"
    )


def normalise_alert(alert: AlertRecord) -> AlertRecord:
    """Check ``alert`` the way every backend does; return it with its times in UTC.

    Raises:
        StoreError: A time is naive, the event or status is unknown, the
            destination or incident id is empty, a text is invalid or holds a NUL,
            or attempts is negative.
    """
    where = alert_where(alert)
    _text(alert.destination, where, "destination", required=True)
    _text(alert.incident_id, where, "incident_id", required=True)
    for name in ("hold_run_id", "last_error", "claimed_by"):
        _text(getattr(alert, name), where, name)
    _count(alert.attempts, where, "attempts")
    return replace(
        alert,
        event=check_event(alert.event, where),
        status=check_alert_status(alert.status, where),
        created_at=as_utc(alert.created_at, f"{where} created_at"),
        next_attempt_at=optional_utc(alert.next_attempt_at, f"{where} next_attempt_at"),
        sent_at=optional_utc(alert.sent_at, f"{where} sent_at"),
        claimed_until=optional_utc(alert.claimed_until, f"{where} claimed_until"),
    )


def alert_key(alert: AlertRecord) -> tuple[str, str, str]:
    """What makes an alert unique: (destination, incident_id, event)."""
    return (alert.destination, alert.incident_id, alert.event)


def claim_times(
    alert_id: int, claimer: str, now: datetime, until: datetime
) -> tuple[datetime, datetime]:
    """Check a claim on an alert; return ``now`` and ``until`` in UTC.

    Raises:
        StoreError: A time is naive, ``until`` is not after ``now``, or the
            claimer is empty or invalid.
    """
    where = f"claim on alert {alert_id}"
    _text(claimer, where, "claimer", required=True)
    now = as_utc(now, f"{where} now")
    until = as_utc(until, f"{where} until")
    if until <= now:
        raise StoreError(
            f"{where} by {_quoted(claimer)} ends at {until.isoformat()}, "
            f"not after now ({now.isoformat()}).",
            hint="A claim lasts until the delivery times out: pass now + that timeout.",
        )
    return now, until


def normalise_attempt(
    attempt: AlertAttempt,
    claimer: str,
    status: AlertStatus,
    next_attempt_at: datetime | None,
) -> tuple[AlertAttempt, AlertStatus, datetime | None]:
    """Check an attempt and the status it leaves its alert in.

    Returns:
        The attempt with its time in UTC, the status, and the next attempt's time
        in UTC (None unless the status is pending).

    Raises:
        StoreError: A time is naive, the outcome or status is unknown, the status
            is ``sending``, the claimer is empty, the detail is invalid text, or
            the duration is NaN.
    """
    where = f"attempt at alert {attempt.alert_id}"
    _text(claimer, where, "claimer", required=True)
    _text(attempt.detail, where, "detail")
    if attempt.duration_s is not None and math.isnan(attempt.duration_s):
        raise StoreError(
            f"{where} has a duration that is NaN.",
            hint="Durations are seconds; this is a bug in the code that built the attempt.",
        )
    checked = check_alert_status(status, where)
    if checked not in FINISHED_STATUSES:
        raise StoreError(
            f"{where} would leave the alert {checked!r}, which only a claim does.",
            hint=f"Finish an attempt with one of {', '.join(sorted(FINISHED_STATUSES))}.",
        )
    attempt = replace(
        attempt,
        outcome=check_outcome(attempt.outcome, where),
        at=as_utc(attempt.at, f"{where} at"),
    )
    next_at = optional_utc(next_attempt_at, f"{where} next_attempt_at")
    return attempt, checked, next_at if checked == "pending" else None


def finished_alert(
    alert: AlertRecord, attempt: AlertAttempt, status: AlertStatus, next_at: datetime | None
) -> AlertRecord:
    """``alert`` after a checked ``attempt`` that leaves it ``status``."""
    return replace(
        alert,
        status=status,
        attempts=alert.attempts + 1,
        next_attempt_at=next_at,
        last_error=alert.last_error if status == "sent" else attempt.detail,
        sent_at=attempt.at if status == "sent" else alert.sent_at,
        claimed_by=None,
        claimed_until=None,
    )


def is_due(alert: AlertRecord, now: datetime, *, held: bool, claimer: str | None = None) -> bool:
    """Whether ``alert`` may be delivered at ``now`` (see ``AlertStore.due_alerts``).

    Args:
        held: Its hold run is still running.
        claimer: Who asks: its own unexpired claim does not stop it.
    """
    if held:
        return False
    if alert.status == "pending":
        return alert.next_attempt_at is None or alert.next_attempt_at <= now
    if alert.status == "sending":
        expired = alert.claimed_until is None or alert.claimed_until <= now
        return expired or (claimer is not None and alert.claimed_by == claimer)
    return False


# -- incident rules every backend applies ------------------------------------------------------


def member_key(member: IncidentMember) -> MemberKey:
    """A member's identity in its incident, which is also the order members are listed in."""
    return (member.role, member.asset, member.partition)


def merged_members(
    stored: Mapping[MemberKey, IncidentMember], given: Sequence[IncidentMember]
) -> list[IncidentMember]:
    """The members to write when ``given`` join an incident whose members are ``stored``.

    A new member is kept as given; a known one (stored, or given earlier) counts
    one more failure, takes the given run id when there is one, and is reopened.
    """
    changed: dict[MemberKey, IncidentMember] = {}
    for member in given:
        key = member_key(member)
        known = changed.get(key) or stored.get(key)
        if known is None:
            changed[key] = member
        else:
            changed[key] = replace(
                known,
                failures=known.failures + 1,
                last_run_id=known.last_run_id if member.last_run_id is None else member.last_run_id,
                resolved_at=None,
            )
    return list(changed.values())


def resolved_members(
    members: Iterable[IncidentMember], partitions: Collection[str], at: datetime
) -> tuple[list[IncidentMember], bool]:
    """Resolve an open incident's unresolved failed members with these partitions.

    Returns:
        The members this changes, and whether the incident is now resolved (this
        resolved one of its failed members, and none is left unresolved); then
        its unresolved skipped members are among those changed too.
    """
    members = list(members)
    changed = [
        replace(m, resolved_at=at)
        for m in members
        if m.role == "failed" and m.resolved_at is None and m.partition in partitions
    ]
    if not changed:
        return [], False
    resolving = {member_key(m) for m in changed}
    still_open = any(
        m.role == "failed" and m.resolved_at is None and member_key(m) not in resolving
        for m in members
    )
    if still_open:
        return changed, False
    changed += [
        replace(m, resolved_at=at) for m in members if m.role == "skipped" and m.resolved_at is None
    ]
    return changed, True


def unknown_incident_error(incident_id: str, location: str) -> StoreError:
    """The error for adding members to an incident that was never opened."""
    return StoreError(
        f"cannot add members to {incident_where(incident_id)}: there is no such incident "
        f"in {location}.",
        hint="Open it with open_incident() first.",
    )


def resolved_incident_error(incident_id: str, location: str) -> StoreError:
    """The error for adding members to an incident that is resolved."""
    return StoreError(
        f"cannot add members to {incident_where(incident_id)} in {location}: it is resolved.",
        hint="A new failure after recovery opens a new incident (open_incident()).",
    )


def taken_incident_id_error(incident_id: str, location: str) -> StoreError:
    """The error for opening an incident under an id that is taken."""
    return StoreError(
        f"cannot open {incident_where(incident_id)} in {location}: the id is taken.",
        hint="Incident ids are uuid4().hex, new for each incident.",
    )


def ambiguous_incident_error(prefix: str, candidates: Sequence[str], location: str) -> StoreError:
    """The error for an incident id prefix that matches several incidents."""
    shown = ", ".join(candidates[:10])
    more = " and more" if len(candidates) > 10 else ""
    return StoreError(
        f"incident id prefix {_quoted(prefix)} is ambiguous in {location}: "
        f"it matches {shown}{more}.",
        hint="Give more characters of the incident id (`assetflow incidents` lists them).",
    )
