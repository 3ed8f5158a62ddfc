"""A project's alerting, read once: its destinations, who hears what, and the two
things every caller does with them: record a run's incidents, deliver the outbox."""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from assetflow.alerts.incidents import IncidentRecorder
from assetflow.alerts.routing import Routes, routes_for

if TYPE_CHECKING:
    from assetflow.alerts.outbox import DeliveryReport
    from assetflow.alerts.settings import Destination
    from assetflow.project import Project
    from assetflow.store import MetadataStore


@dataclass(frozen=True)
class Alerting:
    """The destinations of one project and their routes."""

    project: Project
    destinations: Mapping[str, Destination]
    routes: Routes

    @property
    def name(self) -> str:
        """The project's name in messages: its directory's name."""
        return self.project.root.name

    def recorder(self, *, opens: bool = True) -> IncidentRecorder:
        """A run listener that records the run's incidents and queues their alerts."""
        return IncidentRecorder(self.routes, opens=opens)

    def deliver(
        self,
        store: MetadataStore,
        *,
        now: Callable[[], datetime] | None = None,
        budget_s: float = 10.0,
        environ: Mapping[str, str] | None = None,
    ) -> DeliveryReport:
        """Send what is due in the outbox (see `assetflow.alerts.outbox`)."""
        from assetflow.alerts.outbox import deliver_due

        return deliver_due(
            store,
            self.destinations,
            project=self.name,
            graph=self.project.graph,
            now=now or (lambda: datetime.now(UTC)),
            environ=os.environ if environ is None else environ,
            budget_s=budget_s,
        )


def alerting(project: Project) -> Alerting:
    """Read `[tool.assetflow.alerts.NAME]` of `project`.

    Raises:
        ProjectError: A destination's settings are wrong (the message names it).
    """
    tables = project.location.config.alerts
    destinations: Mapping[str, Destination] = {}
    if tables:  # the settings' models are a sizeable import: only for a project with alerts
        from assetflow.alerts.settings import parse_destinations

        destinations = parse_destinations(tables, project.location.config_file.name)
    return Alerting(project, destinations, routes_for(project, destinations))
