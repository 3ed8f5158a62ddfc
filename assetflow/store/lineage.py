"""The lineage outbox: OpenLineage events kept in the store until a sender delivers them.

A run's lineage events are queued in the transaction that records what caused
them (``queue`` joins an open ``unit_of_work()``), and sent after the commit by
whoever holds the outbox: the run's own sender thread, the next run, or
``assetflow openlineage send``. An event leaves the outbox only once its receiver
took it (``sent``); a failed attempt keeps it and postpones every pending event
to one retry time (``retry``), so that events go out in the order they were
queued (a run's START before its COMPLETE) whatever fails in between.

A sender ``claim``s a batch of due events for a while: two processes never send
one event together, and a sender that dies leaves a claim that expires.

Each backend's part is here (``MemoryOutbox``, ``SqliteOutbox``, ``PostgresOutbox``),
and each store gives its own from ``lineage_outbox()``. Semantics they share are
pinned by ``tests/store/test_lineage_outbox.py``:

- times are timezone-aware, kept and returned in UTC (a naive one is a StoreError);
- events come out oldest queued first (by ``event_id``, which grows);
- due: no unexpired claim, and ``next_attempt_at`` None or at or before ``now``
  (``force`` passes over the latter); a claim takes due events oldest first and stops
  at the first one that is not due, so that no event overtakes an older one.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol, cast

from assetflow.errors import StoreError
from assetflow.store.normalise import as_utc, optional_utc, readable_text

if TYPE_CHECKING:
    from assetflow.store.base import MetadataStore


@dataclass(frozen=True, slots=True)
class LineageEvent:
    """One OpenLineage event waiting in the outbox, as JSON text."""

    event_id: int
    #: the assetflow run it is about
    run_id: str
    payload: str
    created_at: datetime
    attempts: int = 0
    next_attempt_at: datetime | None = None
    last_error: str | None = None
    claimed_by: str | None = None
    claimed_until: datetime | None = None


class LineageOutbox(Protocol):
    """One store's lineage outbox (see the module doc)."""

    def queue(self, run_id: str, payloads: Sequence[str], at: datetime) -> None:
        """Append events in this order, in one transaction (or the open unit of work)."""
        ...

    def claim(
        self, claimer: str, now: datetime, until: datetime, limit: int = 100, *, force: bool = False
    ) -> list[LineageEvent]:
        """Take up to ``limit`` due events, oldest first and up to the first one that is not
        due, for ``claimer`` until ``until``; ``force`` disregards ``next_attempt_at``."""
        ...

    def sent(self, claimer: str, event_ids: Sequence[int]) -> None:
        """Remove delivered events that ``claimer`` holds."""
        ...

    def retry(
        self, claimer: str, event_id: int, error: str, at: datetime, next_attempt_at: datetime
    ) -> None:
        """Count a failed attempt at ``event_id``, release ``claimer``'s claims, and make
        every pending event due at ``next_attempt_at`` at the earliest."""
        ...

    def pending(self, limit: int = 100) -> list[LineageEvent]:
        """The events still in the outbox, oldest first."""
        ...

    def count(self) -> int:
        """How many events are still in the outbox."""
        ...


def lineage_outbox(store: MetadataStore) -> LineageOutbox:
    """The outbox of ``store``'s backend (``store.lineage_outbox()``)."""
    return store.lineage_outbox()


def _check_claim(claimer: str, now: datetime, until: datetime) -> tuple[datetime, datetime]:
    now = as_utc(now, "the time of claiming lineage events")
    until = as_utc(until, "the end of a lineage claim")
    if not claimer:
        raise StoreError("a lineage claim needs a claimer's name; it was empty.")
    if until <= now:
        raise StoreError("a lineage claim must end after it begins.")
    return now, until


def _check_payloads(run_id: str, payloads: Sequence[str]) -> list[str]:
    if not run_id:
        raise StoreError("a lineage event needs the id of its run; it was empty.")
    checked = [readable_text(payload) for payload in payloads]
    if any("\x00" in payload for payload in checked):
        raise StoreError("a lineage event holds a NUL character; none was queued.")
    return checked


def is_due(event: LineageEvent, now: datetime, *, force: bool = False) -> bool:
    """Whether a sender may claim ``event`` at ``now``."""
    if event.claimed_until is not None and event.claimed_until > now:
        return False
    return force or event.next_attempt_at is None or event.next_attempt_at <= now


# -- memory ------------------------------------------------------------------------------


class MemoryOutbox:
    """The outbox of a MemoryStore: a dict of its own, saved with the store's tables."""

    def __init__(self, store: Any) -> None:
        self._store = store

    @property
    def _events(self) -> dict[int, LineageEvent]:
        return cast("dict[int, LineageEvent]", self._store._lineage_events)

    def _write(self, events: dict[int, LineageEvent]) -> None:
        # A new dict on each write: a unit of work's copy of the old one restores it.
        self._store._lineage_events = events

    def queue(self, run_id: str, payloads: Sequence[str], at: datetime) -> None:
        checked = _check_payloads(run_id, payloads)
        at = as_utc(at, "the time of queuing lineage events")
        with self._store._lock:
            self._store._check_open()
            events = dict(self._events)
            next_id = max(events, default=0) + 1
            for offset, payload in enumerate(checked):
                events[next_id + offset] = LineageEvent(next_id + offset, run_id, payload, at)
            self._write(events)

    def claim(
        self, claimer: str, now: datetime, until: datetime, limit: int = 100, *, force: bool = False
    ) -> list[LineageEvent]:
        now, until = _check_claim(claimer, now, until)
        with self._store._lock:
            self._store._check_open()
            events = dict(self._events)
            due: list[LineageEvent] = []
            for _, event in sorted(events.items()):
                if len(due) >= limit or not is_due(event, now, force=force):
                    break
                due.append(event)
            claimed = [replace(event, claimed_by=claimer, claimed_until=until) for event in due]
            for event in claimed:
                events[event.event_id] = event
            self._write(events)
            return claimed if limit > 0 else []

    def sent(self, claimer: str, event_ids: Sequence[int]) -> None:
        with self._store._lock:
            self._store._check_open()
            events = dict(self._events)
            for event_id in event_ids:
                event = events.get(event_id)
                if event is not None and event.claimed_by == claimer:
                    del events[event_id]
            self._write(events)

    def retry(
        self, claimer: str, event_id: int, error: str, at: datetime, next_attempt_at: datetime
    ) -> None:
        as_utc(at, "the time of a lineage attempt")
        following = as_utc(next_attempt_at, "the next lineage attempt")
        with self._store._lock:
            self._store._check_open()
            events = {}
            for key, event in self._events.items():
                if event.event_id == event_id:
                    event = replace(
                        event, attempts=event.attempts + 1, last_error=readable_text(error)
                    )
                if event.claimed_by == claimer:
                    event = replace(event, claimed_by=None, claimed_until=None)
                if event.next_attempt_at is None or event.next_attempt_at < following:
                    event = replace(event, next_attempt_at=following)
                events[key] = event
            self._write(events)

    def pending(self, limit: int = 100) -> list[LineageEvent]:
        with self._store._lock:
            self._store._check_open()
            return [event for _, event in sorted(self._events.items())][: max(limit, 0)]

    def count(self) -> int:
        with self._store._lock:
            self._store._check_open()
            return len(self._events)


# -- SQLite ------------------------------------------------------------------------------

#: The lineage outbox's table on SQLite (schema version 16).
SQLITE_DDL = (
    """CREATE TABLE lineage_outbox (
        event_id INTEGER PRIMARY KEY AUTOINCREMENT,
        run_id TEXT NOT NULL,
        payload TEXT NOT NULL,
        created_at TEXT NOT NULL,
        attempts INTEGER NOT NULL DEFAULT 0,
        next_attempt_at TEXT,
        last_error TEXT,
        claimed_by TEXT,
        claimed_until TEXT
    )""",
)

_COLUMNS = (
    "event_id, run_id, payload, created_at, attempts, next_attempt_at, last_error, "
    "claimed_by, claimed_until"
)


def _sqlite_time(moment: datetime) -> str:
    from assetflow.store.sqlite.rows import time_text

    return time_text(moment)


def _from_text(text: object) -> datetime | None:
    return None if text is None else datetime.fromisoformat(str(text))


def _sqlite_event(row: Sequence[object]) -> LineageEvent:
    created = _from_text(row[3])
    assert created is not None
    return LineageEvent(
        event_id=int(cast(int, row[0])),
        run_id=str(row[1]),
        payload=str(row[2]),
        created_at=created,
        attempts=int(cast(int, row[4])),
        next_attempt_at=_from_text(row[5]),
        last_error=None if row[6] is None else str(row[6]),
        claimed_by=None if row[7] is None else str(row[7]),
        claimed_until=_from_text(row[8]),
    )


class SqliteOutbox:
    """The outbox of a SqliteStore, written through its units of work."""

    def __init__(self, store: Any) -> None:
        self._store = store

    def _execute(self, action: str, sql: str, parameters: Sequence[object] = ()) -> list[Any]:
        with self._store.unit_of_work() as unit:
            return cast("list[Any]", unit.execute(action, sql, parameters))

    def queue(self, run_id: str, payloads: Sequence[str], at: datetime) -> None:
        checked = _check_payloads(run_id, payloads)
        moment = _sqlite_time(as_utc(at, "the time of queuing lineage events"))
        if not checked:
            return
        with self._store.unit_of_work() as unit:
            unit.executemany(
                "queue lineage events",
                "INSERT INTO lineage_outbox (run_id, payload, created_at) VALUES (?, ?, ?)",
                [(run_id, payload, moment) for payload in checked],
            )

    def claim(
        self, claimer: str, now: datetime, until: datetime, limit: int = 100, *, force: bool = False
    ) -> list[LineageEvent]:
        now, until = _check_claim(claimer, now, until)
        if limit <= 0:
            return []
        moment = _sqlite_time(now)
        # The first event not due (claimed by another sender, or postponed) stops the claim.
        not_due = "claimed_until > :now" + ("" if force else " OR next_attempt_at > :now")
        with self._store.unit_of_work() as unit:
            rows = unit.execute(
                "claim lineage events",
                f"UPDATE lineage_outbox SET claimed_by = :claimer, claimed_until = :until "
                f"WHERE event_id IN (SELECT event_id FROM lineage_outbox "
                f"WHERE event_id < coalesce((SELECT min(event_id) FROM lineage_outbox "
                f"WHERE {not_due}), 9223372036854775807) "
                f"ORDER BY event_id LIMIT :limit) RETURNING {_COLUMNS}",
                {"claimer": claimer, "until": _sqlite_time(until), "now": moment, "limit": limit},
            )
        return sorted((_sqlite_event(row) for row in rows), key=lambda event: event.event_id)

    def sent(self, claimer: str, event_ids: Sequence[int]) -> None:
        if not event_ids:
            return
        with self._store.unit_of_work() as unit:
            unit.executemany(
                "remove sent lineage events",
                "DELETE FROM lineage_outbox WHERE event_id = ? AND claimed_by = ?",
                [(event_id, claimer) for event_id in event_ids],
            )

    def retry(
        self, claimer: str, event_id: int, error: str, at: datetime, next_attempt_at: datetime
    ) -> None:
        as_utc(at, "the time of a lineage attempt")
        following = _sqlite_time(as_utc(next_attempt_at, "the next lineage attempt"))
        with self._store.unit_of_work() as unit:
            unit.execute(
                "count a failed lineage attempt",
                "UPDATE lineage_outbox SET attempts = attempts + 1, last_error = ? "
                "WHERE event_id = ?",
                (readable_text(error), event_id),
            )
            unit.execute(
                "release lineage claims",
                "UPDATE lineage_outbox SET claimed_by = NULL, claimed_until = NULL "
                "WHERE claimed_by = ?",
                (claimer,),
            )
            unit.execute(
                "postpone lineage events",
                "UPDATE lineage_outbox SET next_attempt_at = ? "
                "WHERE next_attempt_at IS NULL OR next_attempt_at < ?",
                (following, following),
            )

    def pending(self, limit: int = 100) -> list[LineageEvent]:
        rows = self._store._db.select(
            "list lineage events",
            f"SELECT {_COLUMNS} FROM lineage_outbox ORDER BY event_id LIMIT ?",
            (max(limit, 0),),
        )
        return [_sqlite_event(row) for row in rows]

    def count(self) -> int:
        rows = self._store._db.select("count lineage events", "SELECT count(*) FROM lineage_outbox")
        return int(rows[0][0])


# -- PostgreSQL --------------------------------------------------------------------------

#: The lineage outbox's table on PostgreSQL (its schema version 2).
POSTGRES_DDL = (
    """CREATE TABLE lineage_outbox (
        event_id bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
        run_id text COLLATE "C" NOT NULL,
        payload text NOT NULL,
        created_at timestamptz NOT NULL,
        attempts integer NOT NULL DEFAULT 0,
        next_attempt_at timestamptz,
        last_error text,
        claimed_by text COLLATE "C",
        claimed_until timestamptz
    )""",
)


def _pg_event(row: Sequence[Any]) -> LineageEvent:
    return LineageEvent(
        event_id=int(row[0]),
        run_id=str(row[1]),
        payload=str(row[2]),
        created_at=as_utc(row[3], "created_at"),
        attempts=int(row[4]),
        next_attempt_at=optional_utc(row[5], "next_attempt_at"),
        last_error=row[6],
        claimed_by=row[7],
        claimed_until=optional_utc(row[8], "claimed_until"),
    )


class PostgresOutbox:
    """The outbox of a PostgresStore, written in its transactions (joining a unit of work)."""

    def __init__(self, store: Any) -> None:
        self._db = store._db

    def queue(self, run_id: str, payloads: Sequence[str], at: datetime) -> None:
        checked = _check_payloads(run_id, payloads)
        at = as_utc(at, "the time of queuing lineage events")
        if not checked:
            return
        with (
            self._db.transaction("queue lineage events") as connection,
            connection.cursor() as cursor,
        ):
            cursor.executemany(
                "INSERT INTO lineage_outbox (run_id, payload, created_at) VALUES (%s, %s, %s)",
                [(run_id, payload, at) for payload in checked],
            )

    def claim(
        self, claimer: str, now: datetime, until: datetime, limit: int = 100, *, force: bool = False
    ) -> list[LineageEvent]:
        now, until = _check_claim(claimer, now, until)
        if limit <= 0:
            return []
        not_due = "claimed_until > %(now)s" + ("" if force else " OR next_attempt_at > %(now)s")
        with self._db.transaction("claim lineage events") as connection:
            # One claimer at a time: the prefix of due events is decided under the lock.
            connection.execute("LOCK TABLE lineage_outbox IN SHARE ROW EXCLUSIVE MODE")
            rows = connection.execute(
                f"UPDATE lineage_outbox SET claimed_by = %(claimer)s, claimed_until = %(until)s "
                f"WHERE event_id IN (SELECT event_id FROM lineage_outbox "
                f"WHERE event_id < coalesce((SELECT min(event_id) FROM lineage_outbox "
                f"WHERE {not_due}), 9223372036854775807) "
                f"ORDER BY event_id LIMIT %(limit)s) RETURNING {_COLUMNS}",
                {"claimer": claimer, "until": until, "now": now, "limit": limit},
            ).fetchall()
        return sorted((_pg_event(row) for row in rows), key=lambda event: event.event_id)

    def sent(self, claimer: str, event_ids: Sequence[int]) -> None:
        if not event_ids:
            return
        with self._db.transaction("remove sent lineage events") as connection:
            connection.execute(
                "DELETE FROM lineage_outbox WHERE event_id = ANY(%s) AND claimed_by = %s",
                (list(event_ids), claimer),
            )

    def retry(
        self, claimer: str, event_id: int, error: str, at: datetime, next_attempt_at: datetime
    ) -> None:
        as_utc(at, "the time of a lineage attempt")
        following = as_utc(next_attempt_at, "the next lineage attempt")
        with self._db.transaction("count a failed lineage attempt") as connection:
            connection.execute(
                "UPDATE lineage_outbox SET attempts = attempts + 1, last_error = %s "
                "WHERE event_id = %s",
                (readable_text(error), event_id),
            )
            connection.execute(
                "UPDATE lineage_outbox SET claimed_by = NULL, claimed_until = NULL "
                "WHERE claimed_by = %s",
                (claimer,),
            )
            connection.execute(
                "UPDATE lineage_outbox SET next_attempt_at = %(at)s "
                "WHERE next_attempt_at IS NULL OR next_attempt_at < %(at)s",
                {"at": following},
            )

    def pending(self, limit: int = 100) -> list[LineageEvent]:
        with self._db.reading("list lineage events") as connection:
            rows = connection.execute(
                f"SELECT {_COLUMNS} FROM lineage_outbox ORDER BY event_id LIMIT %s",
                (max(limit, 0),),
            ).fetchall()
        return [_pg_event(row) for row in rows]

    def count(self) -> int:
        with self._db.reading("count lineage events") as connection:
            row = connection.execute("SELECT count(*) FROM lineage_outbox").fetchone()
        return int(row[0])
