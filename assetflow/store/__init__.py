"""The metadata store: where runs, events, materializations and code are recorded.

``open_store(url)`` builds a backend from a URL (``sqlite:///abs/path``,
``sqlite:relative/path``, ``memory://``); everything else depends on the
``MetadataStore`` protocol only.

Each name below is imported on first use: a module that needs only the records
(the planner, the executors) does not load every backend.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from assetflow.lazy import lazy_names

if TYPE_CHECKING:
    from assetflow.store.alerts import ALERT_EVENTS as ALERT_EVENTS
    from assetflow.store.alerts import INCIDENT_KINDS as INCIDENT_KINDS
    from assetflow.store.alerts import AlertAttempt as AlertAttempt
    from assetflow.store.alerts import AlertEvent as AlertEvent
    from assetflow.store.alerts import AlertRecord as AlertRecord
    from assetflow.store.alerts import AlertStatus as AlertStatus
    from assetflow.store.alerts import AlertStore as AlertStore
    from assetflow.store.alerts import IncidentAlreadyOpen as IncidentAlreadyOpen
    from assetflow.store.alerts import IncidentKind as IncidentKind
    from assetflow.store.alerts import IncidentMember as IncidentMember
    from assetflow.store.alerts import IncidentRecord as IncidentRecord
    from assetflow.store.automation import AutomationStore as AutomationStore
    from assetflow.store.automation import OriginState as OriginState
    from assetflow.store.automation import SchedulerLease as SchedulerLease
    from assetflow.store.automation import TickRecord as TickRecord
    from assetflow.store.automation import TickStatus as TickStatus
    from assetflow.store.base import AssetPartition as AssetPartition
    from assetflow.store.base import MetadataStore as MetadataStore
    from assetflow.store.memory import MemoryStore as MemoryStore
    from assetflow.store.opening import OPENERS as OPENERS
    from assetflow.store.opening import open_store as open_store
    from assetflow.store.opening import redact_url as redact_url
    from assetflow.store.opening import sqlite_url as sqlite_url
    from assetflow.store.records import CheckRecord as CheckRecord
    from assetflow.store.records import Column as Column
    from assetflow.store.records import EventKind as EventKind
    from assetflow.store.records import EventRecord as EventRecord
    from assetflow.store.records import Lease as Lease
    from assetflow.store.records import LogRecord as LogRecord
    from assetflow.store.records import MaterializationRecord as MaterializationRecord
    from assetflow.store.records import RunRecord as RunRecord
    from assetflow.store.records import RunStatus as RunStatus
    from assetflow.store.run_errors import AmbiguousRunIdError as AmbiguousRunIdError
    from assetflow.store.run_errors import RunFinishedError as RunFinishedError
    from assetflow.store.run_errors import UnknownRunError as UnknownRunError
    from assetflow.store.sqlite.store import SqliteStore as SqliteStore

#: Where each public name lives.
_HOMES = {
    "ALERT_EVENTS": "assetflow.store.alerts",
    "INCIDENT_KINDS": "assetflow.store.alerts",
    "AlertAttempt": "assetflow.store.alerts",
    "AlertEvent": "assetflow.store.alerts",
    "AlertRecord": "assetflow.store.alerts",
    "AlertStatus": "assetflow.store.alerts",
    "AlertStore": "assetflow.store.alerts",
    "IncidentAlreadyOpen": "assetflow.store.alerts",
    "IncidentKind": "assetflow.store.alerts",
    "IncidentMember": "assetflow.store.alerts",
    "IncidentRecord": "assetflow.store.alerts",
    "AutomationStore": "assetflow.store.automation",
    "OriginState": "assetflow.store.automation",
    "SchedulerLease": "assetflow.store.automation",
    "TickRecord": "assetflow.store.automation",
    "TickStatus": "assetflow.store.automation",
    "AssetPartition": "assetflow.store.base",
    "MetadataStore": "assetflow.store.base",
    "MemoryStore": "assetflow.store.memory",
    "OPENERS": "assetflow.store.opening",
    "open_store": "assetflow.store.opening",
    "redact_url": "assetflow.store.opening",
    "sqlite_url": "assetflow.store.opening",
    "CheckRecord": "assetflow.store.records",
    "Column": "assetflow.store.records",
    "EventKind": "assetflow.store.records",
    "EventRecord": "assetflow.store.records",
    "Lease": "assetflow.store.records",
    "LogRecord": "assetflow.store.records",
    "MaterializationRecord": "assetflow.store.records",
    "RunRecord": "assetflow.store.records",
    "RunStatus": "assetflow.store.records",
    "AmbiguousRunIdError": "assetflow.store.run_errors",
    "RunFinishedError": "assetflow.store.run_errors",
    "UnknownRunError": "assetflow.store.run_errors",
    "SqliteStore": "assetflow.store.sqlite.store",
}

__all__ = sorted(_HOMES)


__getattr__, __dir__ = lazy_names(__name__, _HOMES, globals())
