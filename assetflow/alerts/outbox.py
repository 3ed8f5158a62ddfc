"""Delivering the outbox: each due alert is claimed, composed, sent once, and its
attempt recorded.

Whoever opens the store delivers: the process that ran a run (when it ends), the
scheduler (every cycle), `assetflow incidents`, `alerts` and `health --alert`. A
claim in the store makes two of them never send one alert together; a process that
dies while sending leaves a claim that expires, and the alert is tried again (the
one case where a receiver can hear an alert twice: it was sent, but its sending was
never recorded). A failed attempt is retried with backoff (`retry_for`, 1 hour by
default); an answer that will not change (HTTP 4xx, a refused login) is final, and
`assetflow alerts` shows it. A delivery never changes a run's outcome.
"""

from __future__ import annotations

import os
import socket
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from assetflow.alerts.backoff import next_attempt_at
from assetflow.alerts.compose import compose
from assetflow.alerts.destinations import Delivery, send
from assetflow.store.alerts import AlertAttempt, AlertRecord

if TYPE_CHECKING:
    from assetflow.alerts.settings import Destination
    from assetflow.graph import AssetGraph
    from assetflow.store import MetadataStore

#: How long a claim outlives the destination's own timeout before another process
#: may take the alert over.
CLAIM_MARGIN = timedelta(seconds=60)


@dataclass
class DeliveryReport:
    """What one round of delivery did: counts by outcome, and one line per attempt."""

    sent: int = 0
    retrying: int = 0
    failed: int = 0
    undeliverable: int = 0
    lines: list[str] = field(default_factory=list)

    @property
    def attempted(self) -> int:
        return self.sent + self.retrying + self.failed + self.undeliverable


def claimer_id() -> str:
    """A unique name for this process's claims: host, pid and a random part."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def deliver_due(
    store: MetadataStore,
    destinations: Mapping[str, Destination],
    *,
    project: str,
    now: Callable[[], datetime],
    graph: AssetGraph | None = None,
    environ: Mapping[str, str] | None = None,
    budget_s: float = 10.0,
    limit: int = 100,
    claimer: str | None = None,
) -> DeliveryReport:
    """Send the due alerts of the outbox, oldest first, for at most `budget_s` seconds
    (an attempt that has begun finishes within its destination's timeout)."""
    environ = os.environ if environ is None else environ
    claimer = claimer or claimer_id()
    report = DeliveryReport()
    deadline = time.monotonic() + budget_s
    for alert in store.due_alerts(now(), limit=limit):
        if time.monotonic() >= deadline:
            break
        destination = destinations.get(alert.destination)
        timeout = destination.timeout if destination is not None else 0.0
        at = now()
        claimed = store.claim_alert(
            alert.alert_id, claimer, at, at + timedelta(seconds=timeout) + CLAIM_MARGIN
        )
        if claimed is None:
            continue  # another process is sending it
        if destination is None:
            delivery = Delivery(
                "failed",
                f"the destination '{alert.destination}' is no longer configured "
                "([tool.assetflow.alerts] has no such table)",
                0.0,
            )
        else:
            delivery = _send_one(store, claimed, destination, project, graph, environ, now)
        _finish(store, claimed, delivery, destination, claimer, now(), report)
    return report


def _send_one(
    store: MetadataStore,
    alert: AlertRecord,
    destination: Destination,
    project: str,
    graph: AssetGraph | None,
    environ: Mapping[str, str],
    now: Callable[[], datetime],
) -> Delivery:
    incident = store.get_incident(alert.incident_id)
    if incident is None:
        return Delivery("failed", f"incident {alert.incident_id[:8]} is not in the store", 0.0)
    members = store.incident_members([incident.incident_id]).get(incident.incident_id, [])
    message = compose(
        alert.event,
        incident,
        members,
        project=project,
        graph=graph,
        ui_url=destination.ui_url,
        now=now(),
    )
    if incident.kind == "run_failed" and incident.run_id is not None:
        message = replace(message, duration_s=_failed_for(store, incident.run_id, incident.subject))
    return send(destination, message, environ)


def _failed_for(store: MetadataStore, run_id: str, asset: str) -> float | None:
    """How long the asset's failed step ran in the run that opened the incident."""
    durations = [
        event.duration_s
        for event in store.run_events(run_id)
        if event.asset == asset and event.kind == "failed" and event.duration_s is not None
    ]
    return max(durations, default=None)


def _finish(
    store: MetadataStore,
    alert: AlertRecord,
    delivery: Delivery,
    destination: Destination | None,
    claimer: str,
    at: datetime,
    report: DeliveryReport,
) -> None:
    attempt = AlertAttempt(
        alert_id=alert.alert_id,
        at=at,
        outcome=delivery.outcome,
        detail=delivery.detail,
        duration_s=delivery.duration_s,
    )
    name = f"{alert.destination} ({alert.event}, incident {alert.incident_id[:8]})"
    if delivery.outcome == "retry":
        retry_for = destination.retry_period if destination is not None else timedelta(0)
        following = next_attempt_at(alert.attempts + 1, alert.created_at, at, retry_for)
        if following is None:
            store.finish_alert_attempt(attempt, claimer, status="failed")
            report.failed += 1
            report.lines.append(
                f"{name}: gave up after {alert.attempts + 1} attempts: {delivery.detail}"
            )
            return
        store.finish_alert_attempt(attempt, claimer, status="pending", next_attempt_at=following)
        report.retrying += 1
        report.lines.append(f"{name}: {delivery.detail}; retrying at {following:%H:%M:%S} UTC")
        return
    store.finish_alert_attempt(attempt, claimer, status=delivery.outcome)
    if delivery.outcome == "sent":
        report.sent += 1
    elif delivery.outcome == "failed":
        report.failed += 1
    else:
        report.undeliverable += 1
    report.lines.append(f"{name}: {delivery.outcome}: {delivery.detail}")
