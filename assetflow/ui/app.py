"""The UI's ASGI app: its routes, one module per page family, and its middleware.

Each module of `assetflow.ui.pages` has `routes() -> list[BaseRoute]` with its
pages and their JSON twins under `/api/`. `security` checks the token (when the
server is bound beyond 127.0.0.1) and the CSRF token of every POST.
"""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

from assetflow.ui.rendering import HERE, page
from assetflow.ui.state import UiState


def create_app(state: UiState) -> Starlette:
    """The app serving `state.project`."""
    from assetflow.ui import security
    from assetflow.ui.pages import assets, incidents, lineage, runs, schedules

    routes: list[BaseRoute] = [
        *lineage.routes(),
        *assets.routes(),
        *runs.routes(),
        *schedules.routes(),
        *incidents.routes(),
        *security.routes(),
        Route("/api/", api_index, methods=["GET"]),
        Mount("/static", app=StaticFiles(directory=HERE / "static"), name="static"),
    ]
    app = Starlette(
        routes=routes,
        middleware=[Middleware(security.Guard, state=state)],
        exception_handlers={404: _not_found, 500: _server_error},
    )
    app.state.ui = state
    return app


async def api_index(request: Request) -> Response:
    """GET /api/: the API's endpoints (every route under /api/ but this one), with the
    layout version, so that a script can see what this server answers."""
    from assetflow.ui.rendering import api

    endpoints = []
    for route in request.app.routes:
        path = getattr(route, "path", "")
        if not path.startswith("/api/") or path == "/api/":
            continue
        methods = sorted((getattr(route, "methods", None) or {"GET"}) - {"HEAD"})
        endpoints.append({"path": path, "methods": methods})
    endpoints.sort(key=lambda endpoint: (endpoint["path"], endpoint["methods"]))
    return api({"project": request.app.state.ui.project.root.name, "endpoints": endpoints})


async def _not_found(request: Request, exc: Exception) -> Response:
    from assetflow.ui.rendering import api

    if request.url.path.startswith("/api/"):
        return api({"error": f"no such page: {request.url.path}"}, status_code=404)
    return page(request, "not_found.html", status_code=404, message="no such page", suggestions=())


async def _server_error(request: Request, exc: Exception) -> Response:
    from assetflow.errors import AssetflowError
    from assetflow.ui.rendering import api

    # An error a user can cause (a newer store, a broken project) is said as the CLI
    # says it; anything else is a bug, said without its details.
    message = exc.format_message() if isinstance(exc, AssetflowError) else "internal error"
    if request.url.path.startswith("/api/"):
        return api({"error": message}, status_code=500)
    return page(request, "error.html", status_code=500, message=message)
