"""The PostgreSQL metadata store: the core store with the scheduler's, alerting's and
copying's methods mixed in."""

from __future__ import annotations

from assetflow.store.postgres.alerts import AlertsMixin
from assetflow.store.postgres.automation import AutomationMixin
from assetflow.store.postgres.copying import CopyingMixin
from assetflow.store.postgres.core import PostgresCoreStore


class PostgresStore(AlertsMixin, AutomationMixin, CopyingMixin, PostgresCoreStore):
    """A MetadataStore in a PostgreSQL database, shared by processes on many machines.

    Opening one connects at once (a server that is down or a wrong password fails
    here), holds the schema's use lock while open, and refuses a database whose
    schema is missing or not this assetflow's (``assetflow store migrate`` makes it).
    """
