"""The lineage page (`/`) and its JSON twins: `/api/graph`, `/api/assets`, `/api/select`.

Each asset's state is what `assetflow status` says of it (fresh, stale, waiting,
failed, missing, damaged), `overdue` when a freshness or deadline rule of it is
late, and `running` while a run holds a lease on it. A partitioned asset shows
its worst partition's state, with the count of its partitions in each state.

The graph is drawn on the server (`assetflow.ui.layout`, cached per shape of the
graph) as inline SVG. Past `LARGE` assets the page asks for a selection first and
draws only what `?select=` picks, laid out as a graph of its own.

The handlers are plain functions: Starlette runs them in its thread pool, so a
read of the store never holds up the server's event loop.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from assetflow.ui.rendering import api, page

if TYPE_CHECKING:
    from assetflow.planner.status import AssetStatus
    from assetflow.project import Project
    from assetflow.store.records import Lease
    from assetflow.ui.layout import Layout
    from assetflow.ui.state import UiState

#: Past this many assets, `/` asks for a selection before drawing.
LARGE = 1_500
#: From worst to best: an asset shows the worst state of its partitions.
SEVERITY = ("failed", "damaged", "running", "overdue", "missing", "stale", "waiting", "fresh")
#: What the legend says of each state.
LEGEND = {
    "fresh": "fresh",
    "stale": "stale",
    "waiting": "waiting on upstream",
    "missing": "never materialized",
    "failed": "failed",
    "damaged": "damaged output",
    "running": "running",
    "overdue": "overdue",
    "source": "source (read, not built)",
}
_RANK = {state: rank for rank, state in enumerate(SEVERITY)}


@dataclass(frozen=True, slots=True)
class AssetState:
    """One asset's state on the lineage page."""

    name: str
    group: str
    state: str
    description: str = ""
    #: partitions by state (partitioned assets only, else None)
    partitions: dict[str, int] | None = field(default=None)

    def document(self) -> dict[str, Any]:
        found: dict[str, Any] = {"name": self.name, "group": self.group, "state": self.state}
        if self.partitions is not None:
            found["partitions"] = dict(self.partitions)
        return found


def worst(states: list[str]) -> str:
    """The worst of some states (`missing` for none: nothing was ever materialized)."""
    return min(states, key=_RANK.__getitem__, default="missing")


def row_state(row: AssetStatus, running: bool) -> str:
    """One asset-partition's state: its status, made worse by a live lease or a late rule."""
    found = [row.state.value]
    if running:
        found.append("running")
    if row.overdue:
        found.append("overdue")
    return worst(found)


def asset_states(
    project: Project,
    rows: list[AssetStatus],
    leases: list[Lease],
    now: Any,
    names: frozenset[str] | None = None,
) -> dict[str, AssetState]:
    """The state of every asset (of `names`, when given) from `history.status`'s rows
    and the store's leases held now."""
    live = {lease.key for lease in leases if lease.expires_at > now}
    running_assets = {asset for asset, _ in live}
    by_asset: dict[str, list[str]] = {}
    for row in rows:
        by_asset.setdefault(row.asset, []).append(
            row_state(row, (row.asset, row.partition) in live)
        )
    found = {}
    for spec in project.graph.specs():
        if names is not None and spec.name not in names:
            continue
        states = by_asset.get(spec.name, [])
        if spec.name in running_assets and "running" not in states:
            states.append("running")  # a partition not (yet) among the status rows
        partitioned = spec.settings.partitions is not None
        # A source is read, never built: `assetflow status` lists no state for it.
        shown = "source" if spec.is_source and not states else worst(states)
        found[spec.name] = AssetState(
            spec.name,
            spec.group,
            shown,
            spec.description,
            dict(Counter(states)) if partitioned else None,
        )
    return found


def read_states(state: UiState, names: frozenset[str] | None = None) -> dict[str, AssetState]:
    """Every asset's state now (or those of `names`), read through the services
    (`history.status`) and the leases of runs still running (a crashed run's are not).

    The states are always judged over the whole graph, as `assetflow status` does:
    judged over a selection only, an asset whose stale upstream is left out would
    show fresh rather than waiting, and its colour would change with the filter."""
    from assetflow.clock import SystemClock
    from assetflow.execution.liveness import running_leases
    from assetflow.request import RunRequest
    from assetflow.services import history

    clock = state.clock or SystemClock()
    with state.reading() as store:
        rows = history.status(state.project, RunRequest(trigger="ui"), store=store, clock=clock)
        now = clock.now()
        leases = running_leases(store, now)
    return asset_states(state.project, rows, leases, now, names)


def selected(project: Project, query: str | None) -> frozenset[str] | None:
    """The names a selection picks (None for no selection). Raises SelectionError."""
    from assetflow.services.planning import select

    if query is None or not query.strip():
        return None
    return select(project, query.strip())


def graph_document(layout: Layout, states: dict[str, AssetState]) -> dict[str, Any]:
    """`/api/graph`: the boxes, edges and group boxes of a layout, with each asset's state."""
    return {
        "width": layout.width,
        "height": layout.height,
        "nodes": [
            {
                "name": box.name,
                "group": box.group,
                "state": states[box.name].state,
                "x": box.x,
                "y": box.y,
                "w": box.w,
                "h": box.h,
            }
            for box in layout.nodes
        ],
        "edges": [
            {"source": edge.source, "target": edge.target, "points": [list(p) for p in edge.points]}
            for edge in layout.edges
        ],
        "groups": [
            {"name": box.name, "x": box.x, "y": box.y, "w": box.w, "h": box.h}
            for box in layout.groups
        ],
    }


def _ui(request: Request) -> UiState:
    state: UiState = request.app.state.ui
    return state


def lineage_page(request: Request) -> Response:
    """`/`: the graph coloured by state, or (past LARGE assets) a request for a selection."""
    from assetflow.errors import SelectionError
    from assetflow.ui.layout import layout

    state = _ui(request)
    project = state.project
    query = request.query_params.get("select")
    error = None
    try:
        names = selected(project, query)
    except SelectionError as problem:
        names, error = None, problem.format_message()
    groups = Counter(spec.group for spec in project.graph.specs())
    context: dict[str, Any] = {
        "selection": (query or "").strip(),
        "error": error,
        "total": len(project.graph),
        "groups": sorted(groups.items()),
        "legend": LEGEND,
        "large": LARGE,
        "drawing": None,
        "states": {},
    }
    if names is not None or len(project.graph) <= LARGE:
        context["drawing"] = layout(project.graph, names)
        context["states"] = read_states(state, names)
    return page(request, "lineage.html", status_code=400 if error else 200, **context)


def graph_api(request: Request) -> Response:
    """`/api/graph[?select=...]`: the drawing of the graph (or of a selection) with states."""
    from assetflow.errors import SelectionError
    from assetflow.ui.layout import layout

    state = _ui(request)
    query = request.query_params.get("select")
    try:
        names = selected(state.project, query)
    except SelectionError as problem:
        return api({"error": problem.format_message()}, status_code=400)
    drawing = layout(state.project.graph, names)
    return api(graph_document(drawing, read_states(state, names)))


def assets_api(request: Request) -> Response:
    """`/api/assets`: every asset with its group and state (and partition counts)."""
    states = read_states(_ui(request))
    return api({"assets": [states[name].document() for name in sorted(states)]})


def select_api(request: Request) -> Response:
    """`/api/select?q=...`: the names `assetflow list` selects, or 400 with the CLI's message."""
    from assetflow.errors import SelectionError

    state = _ui(request)
    query = request.query_params.get("q", "")
    try:
        names = selected(state.project, query)
    except SelectionError as problem:
        return api({"error": problem.format_message()}, status_code=400)
    chosen = state.project.graph.names if names is None else names
    return api({"selection": query.strip() or "*", "names": sorted(chosen)})


def routes() -> list[BaseRoute]:
    return [
        Route("/", lineage_page, name="lineage"),
        Route("/api/graph", graph_api, name="api_graph"),
        Route("/api/assets", assets_api, name="api_assets"),
        Route("/api/select", select_api, name="api_select"),
    ]
