"""Rendering pages and JSON: the templates (autoescaped), and the 404 page.

Every page handler returns `page(request, "name.html", **context)`; every name,
description, log line and cell value reaches HTML through Jinja2's autoescaping
(never `|safe` on anything that came from a project or the store).
"""

from __future__ import annotations

import functools
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import jinja2
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response

HERE = Path(__file__).parent
#: The version of the `/api/` JSON layouts (docs/ui.md).
API_VERSION = 1


@functools.cache
def environment() -> jinja2.Environment:
    """The templates of `assetflow/ui/templates`, HTML-escaped by default."""
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(HERE / "templates"),
        autoescape=jinja2.select_autoescape(default=True, default_for_string=True),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["when"] = when
    env.filters["short"] = lambda text: (text or "-")[:8]
    env.filters["duration"] = duration
    return env


def page(request: Request, template: str, status_code: int = 200, **context: Any) -> HTMLResponse:
    """A page rendered from `template` with the base layout's context."""
    state = request.app.state.ui
    html = (
        environment()
        .get_template(template)
        .render(
            request=request,
            project=state.project.root.name,
            csrf=request.scope.get("csrf_token", ""),
            path=request.url.path,
            **context,
        )
    )
    return HTMLResponse(html, status_code=status_code)


def api(document: dict[str, Any], status_code: int = 200) -> JSONResponse:
    """A JSON twin, with the API's layout version."""
    return JSONResponse({"version": API_VERSION, **document}, status_code=status_code)


def not_found(
    request: Request, what: str, name: str, suggestions: list[str] | tuple[str, ...] = ()
) -> Response:
    """A 404 page (or JSON under /api/) that says what was not found and what was meant."""
    message = f"no {what} is named '{name}'"
    if request.url.path.startswith("/api/"):
        return api({"error": message, "suggestions": list(suggestions)}, status_code=404)
    return page(
        request, "not_found.html", status_code=404, message=message, suggestions=suggestions
    )


def when(moment: datetime | None) -> str:
    """`2026-03-06 02:00:12` in UTC, or `-`."""
    if moment is None:
        return "-"
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")


def duration(seconds: float | None) -> str:
    """`12 ms`, `3.4 s` or `2m05s` (as the CLI writes them)."""
    from assetflow.views.text import duration as text_duration

    return text_duration(seconds)
