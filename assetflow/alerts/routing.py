"""Which destinations hear which incidents: each destination's `on` events and the
assets its `select` picks, resolved once against the project's graph."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from assetflow.alerts.settings import Destination
    from assetflow.project import Project


@dataclass(frozen=True, slots=True)
class Route:
    """One destination: the events it asked for and the assets it selects."""

    destination: str
    events: frozenset[str]
    #: None: every asset (`select = "*"`, the default)
    assets: frozenset[str] | None = None

    def hears(self, event: str, subject: str | None) -> bool:
        """Whether this destination is told of `event` about `subject` (an asset name,
        or None for an incident about no asset: the scheduler's)."""
        if event not in self.events:
            return False
        return subject is None or self.assets is None or subject in self.assets


@dataclass(frozen=True, slots=True)
class Routes:
    """Every destination of a project, and who hears what."""

    routes: tuple[Route, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.routes)

    def destinations(self, event: str, subject: str | None) -> list[str]:
        """The names of the destinations told of `event` about `subject`."""
        return [route.destination for route in self.routes if route.hears(event, subject)]

    def selects(self, subject: str) -> bool:
        """Whether any destination hears anything about the asset `subject`."""
        return any(route.assets is None or subject in route.assets for route in self.routes)


def routes_for(project: Project, destinations: Mapping[str, Destination]) -> Routes:
    """Resolve each destination's `select` against the project's assets.

    Raises:
        ProjectError: A destination's `select` is not a valid selection of this
            project (the message names the destination).
    """
    from assetflow.errors import ProjectError, SelectionError

    routes = []
    for name, destination in destinations.items():
        assets: frozenset[str] | None = None
        if destination.select.strip() not in ("", "*"):
            from assetflow.selection import select  # the grammar: only for a `select`

            try:
                assets = select(project.graph, destination.select)
            except SelectionError as error:
                raise ProjectError(
                    f"the alert destination '{name}' has select = \"{destination.select}\", "
                    f"which is not a selection of this project: {error.message}",
                    hint="Fix `select` in [tool.assetflow.alerts."
                    f"{name}]: it takes the selection grammar of `assetflow list`, "
                    'e.g. "tag:nightly" or "clean_records+".',
                ) from error
        routes.append(Route(name, frozenset(destination.on), assets))
    return Routes(tuple(routes))
