"""The incidents page (`/incidents`) and its JSON twin: open and recent incidents (what,
since when, their alerts and whether they went out, resolved when) and the alert
destinations, never with a secret.

The rows are the ones `assetflow incidents` and `assetflow alerts` print
(`alerts.reports`). The page only reads: it opens no incident of its own (the
scheduler and every command look for overdue assets).
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from assetflow.ui.rendering import api, page

if TYPE_CHECKING:
    from assetflow.ui.state import UiState

#: How many of the newest incidents the page lists.
RECENT_INCIDENTS = 50


def routes() -> list[BaseRoute]:
    return [
        Route("/incidents", incidents_page, methods=["GET"]),
        Route("/api/incidents", incidents_api, methods=["GET"]),
    ]


def incidents_document(state: UiState) -> dict[str, Any]:
    """The incidents, open ones first then the newest, and the destinations, as JSON
    data (`/api/incidents`)."""
    from assetflow.alerts.reports import destination_rows, incident_rows
    from assetflow.alerts.setup import alerting

    project = state.project
    setup = alerting(project)
    with state.reading() as store:
        rows = incident_rows(store, project.graph, limit=RECENT_INCIDENTS)
        destinations = destination_rows(setup.destinations, store)
    ordered = sorted(rows, key=lambda r: (not r.is_open, -r.incident.opened_at.timestamp()))
    incidents = []
    for row in ordered:
        data = row.to_json()
        data["alert_counts"] = dict(sorted(row.alert_counts().items()))
        incidents.append(data)
    return {
        "open": sum(1 for row in rows if row.is_open),
        "incidents": incidents,
        # describe_target says where a destination sends, naming a secret's variable only
        "destinations": [row.to_json(os.environ) for row in destinations],
    }


def incidents_page(request: Request) -> Response:
    """`/incidents`: open and recent incidents, and the alert destinations."""
    return page(request, "incidents_page.html", **incidents_document(request.app.state.ui))


def incidents_api(request: Request) -> Response:
    """`/api/incidents`: its JSON twin."""
    return api(incidents_document(request.app.state.ui))
