"""The PostgreSQL metadata store: the store of a team or a cluster, shared by many machines.

``connection`` holds the URL, the pool and transactions; ``schema`` the tables,
migrations and the use lock; ``rows`` the mapping between records and rows;
``core`` opening and writing runs, events and materializations, ``reading`` the
reads, ``leasing`` leases, heartbeats and cancels; ``automation``, ``alerts``
and ``copying`` the scheduler's records, alerting's and `store copy`.
"""

from __future__ import annotations

from assetflow.store.postgres.store import PostgresStore as PostgresStore
