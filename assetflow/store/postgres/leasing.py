"""The PostgreSQL store's leases, heartbeats and cancel requests.

A lease is taken under a transaction-scoped advisory lock on its asset-partition,
so that takers queue for each other rather than retry; heartbeats and cancels
are single statements on the run's row (a row lock orders them with finishing).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import replace
from datetime import datetime

from assetflow.errors import StoreError
from assetflow.store.base import AssetPartition, normalise_lease
from assetflow.store.normalise import (
    as_utc,
)
from assetflow.store.postgres.reading import ReadingMixin
from assetflow.store.postgres.rows import (
    LEASE_COLUMNS,
    UPSERT_LEASE,
    lease_key,
    lease_row,
    leases_from_rows,
)
from assetflow.store.postgres.schema import LEASE_LOCK_CLASS
from assetflow.store.records import (
    Lease,
    RunRecord,
    RunStatus,
)
from assetflow.store.run_errors import (
    RunFinishedError,
    UnknownRunError,
)

#: The lease on one asset-partition and whether its run is running (NULL: no such run).
_LEASE_HOLDER = (
    "SELECT "
    + ", ".join(f"l.{name.strip()}" for name in LEASE_COLUMNS.split(","))
    + f", r.status = '{RunStatus.RUNNING.value}' "
    "FROM leases AS l LEFT JOIN runs AS r ON r.run_id = l.run_id "
    "WHERE l.asset = %s AND l.partition_key = %s"
)
#: Drops every lease of a run (finishing it does too).
RELEASE_LEASES = "DELETE FROM leases WHERE run_id = %s"
#: Takes a lease nobody holds; takes nothing (rowcount 0) when it is held.
_INSERT_FREE_LEASE = (
    f"INSERT INTO leases ({LEASE_COLUMNS}) VALUES (%s, %s, %s, %s, %s, %s, %s) "
    "ON CONFLICT (asset, partition_key) DO NOTHING"
)
#: The queue of takers of one asset-partition (see ``acquire_lease``).
_LEASE_LOCK = "pg_advisory_xact_lock(%s, hashtext(%s || chr(31) || %s))"
#: ``_INSERT_FREE_LEASE`` in the queue: the lock, then the insert, in one statement.
_TAKE_FREE_LEASE = (
    f"WITH queued AS (SELECT {_LEASE_LOCK}) "
    f"INSERT INTO leases ({LEASE_COLUMNS}) SELECT %s, %s, %s, %s, %s, %s, %s FROM queued "
    "ON CONFLICT (asset, partition_key) DO NOTHING"
)


class LeasingMixin(ReadingMixin):
    """The leases, heartbeats and cancels of the PostgreSQL store (see ``PostgresCoreStore``)."""

    def acquire_lease(
        self,
        lease: Lease,
        *,
        now: datetime,
        takeover: Callable[[Lease], bool] | None = None,
    ) -> Lease | None:
        lease = normalise_lease(lease)
        now = as_utc(now, f"the time of taking the lease on '{lease.asset}'")
        key = (lease.asset, lease_key(lease.partition))
        row = lease_row(lease)
        # The common case, a free lease, is one statement that commits by itself:
        # it queues like the transaction below, so it never slips in between its
        # read and its write.
        with self._db.statement("take a lease") as connection:
            if connection.execute(_TAKE_FREE_LEASE, (LEASE_LOCK_CLASS, *key, *row)).rowcount:
                return None
        with self._db.transaction("take a lease") as connection:
            # Takers of one asset-partition queue on this lock until the transaction
            # ends, so the read and the write below are one step for each of them.
            connection.execute(f"SELECT {_LEASE_LOCK}", (LEASE_LOCK_CLASS, *key))
            if connection.execute(_INSERT_FREE_LEASE, row).rowcount:
                return None  # it was free
            found = connection.execute(_LEASE_HOLDER, key).fetchone()
            if found is None:  # released since
                connection.execute(UPSERT_LEASE, row)
                return None
            holder = self._records(leases_from_rows, [tuple(found[:-1])])[0]
            if holder.run_id == lease.run_id:
                connection.execute(
                    "UPDATE leases SET expires_at = %s WHERE asset = %s AND partition_key = %s",
                    (lease.expires_at, *key),
                )
                return None
            if holder.is_live(now, is_run_running=bool(found[-1]), takeover=takeover):
                return holder
            connection.execute(UPSERT_LEASE, row)
            return None

    def release_leases(self, run_id: str, keys: Iterable[AssetPartition] | None = None) -> None:
        if keys is None:
            with self._db.statement("release leases") as connection:
                connection.execute(RELEASE_LEASES, (run_id,))
            return
        # An empty partition key names no lease (they are refused), not the
        # unpartitioned asset's lease stored under ''.
        pairs = [(asset, lease_key(p)) for asset, p in keys if p != ""]
        if not pairs:
            return
        with self._db.statement("release leases") as connection:
            if len(pairs) == 1:  # a step's own lease: the plainer statement plans faster
                connection.execute(
                    "DELETE FROM leases WHERE run_id = %s AND asset = %s AND partition_key = %s",
                    (run_id, *pairs[0]),
                )
                return
            connection.execute(
                "DELETE FROM leases WHERE run_id = %s AND (asset, partition_key) IN "
                "(SELECT * FROM unnest(%s::text[], %s::text[]))",
                (run_id, [a for a, _ in pairs], [p for _, p in pairs]),
            )

    def renew_leases(self, run_id: str, expires_at: datetime) -> None:
        values = (as_utc(expires_at, f"leases of run '{run_id}' expires_at"), run_id)
        with self._db.statement("renew leases") as connection:
            connection.execute("UPDATE leases SET expires_at = %s WHERE run_id = %s", values)

    def leases(self) -> list[Lease]:
        rows = self._select(
            "list leases", f"SELECT {LEASE_COLUMNS} FROM leases ORDER BY asset, partition_key"
        )
        return self._records(leases_from_rows, rows)

    def heartbeat(self, run_id: str, at: datetime) -> bool:
        values = (as_utc(at, f"the heartbeat of run '{run_id}'"), run_id)
        with self._db.statement("record a heartbeat") as connection:
            found = connection.execute(
                "UPDATE runs SET heartbeat_at = %s WHERE run_id = %s "
                "RETURNING cancel_requested_at IS NOT NULL",
                values,
            ).fetchone()
        if found is None:
            raise StoreError(
                f"cannot record a heartbeat of run '{run_id}': there is no such run in "
                f"the metadata store {self.shown}.",
                hint="Create the run with create_run() before its heartbeats.",
            )
        return bool(found[0])

    def request_cancel(self, run_id: str, at: datetime) -> RunRecord:
        at = as_utc(at, f"the cancel request of run '{run_id}'")
        with self._db.transaction("request a cancel") as connection:
            # The rows read stay locked: a run that finishes meanwhile waits, or is
            # seen finished; never marked after it finished.
            run = self._find_run(connection, run_id, lock=True)
            if run is None:
                raise UnknownRunError(run_id)
            if run.status != RunStatus.RUNNING:
                raise RunFinishedError(run)
            if run.cancel_requested_at is not None:
                return run
            connection.execute(
                "UPDATE runs SET cancel_requested_at = %s WHERE run_id = %s", (at, run.run_id)
            )
            return replace(run, cancel_requested_at=at)
