"""The schedules page (`/schedules`) and its JSON twin: every schedule with its next and
last tick, the sensors with their last evaluation, the recent ticks; pause and resume.

The rows are the ones `assetflow schedules` and `assetflow ticks` print
(`automation.reports`); pausing writes what `assetflow schedules pause NAME` writes,
through the same store call.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from assetflow.ui.rendering import api, not_found, page

if TYPE_CHECKING:
    from assetflow.automation.loading import Automation
    from assetflow.ui.state import UiState

#: How many of the newest ticks the page lists.
RECENT_TICKS = 50


def routes() -> list[BaseRoute]:
    return [
        Route("/schedules", schedules_page, methods=["GET"]),
        Route("/api/schedules", schedules_api, methods=["GET"]),
        Route("/schedules/{name}/pause", pause, methods=["POST"]),
        Route("/schedules/{name}/resume", resume, methods=["POST"]),
    ]


def _now(state: UiState) -> datetime:
    return (state.clock.now() if state.clock is not None else datetime.now(UTC)).astimezone(UTC)


def _automation(state: UiState) -> Automation:
    from assetflow.automation.loading import load_automation

    return load_automation(state.project)


def schedules_document(state: UiState) -> dict[str, Any]:
    """The schedules, sensors and recent ticks, as JSON data (`/api/schedules`)."""
    from assetflow.automation.reports import schedule_rows, tick_document, tick_rows

    automation = _automation(state)
    now = _now(state)
    targets = {target.origin: target for target in automation.schedules}
    sensors = [(spec.name, spec.origin, "sensor") for spec in automation.sensors] + [
        (spec.name, f"sensor:{spec.name}", "source") for spec in automation.source_sensors
    ]
    with state.reading() as store:
        rows = schedule_rows(automation, store, now)
        paused = {origin for origin, kept in store.origin_states().items() if kept.paused}
        latest = store.latest_ticks([origin for _, origin, _ in sensors])
        recent = tick_rows(store, None, RECENT_TICKS)
    schedules = []
    for row in rows:
        data = row.to_json()
        data["state"] = (
            "paused" if row.paused else ("disabled" if not row.target.schedule.enabled else "on")
        )
        schedules.append(data)
    return {
        "now_utc": now.isoformat(),
        "schedules": schedules,
        "sensors": [
            {
                "sensor": name,
                "origin": origin,
                "kind": kind,
                "paused": origin in paused,
                "last_tick": None
                if origin not in latest
                else tick_document(latest[origin], None, None),
            }
            for name, origin, kind in sensors
        ],
        "ticks": [tick_document(tick, targets.get(tick.origin), status) for tick, status in recent],
    }


def schedules_page(request: Request) -> Response:
    """`/schedules`: the schedules, their pause and resume buttons, sensors and ticks."""
    return page(request, "schedules_page.html", **schedules_document(request.app.state.ui))


def schedules_api(request: Request) -> Response:
    """`/api/schedules`: its JSON twin."""
    return api(schedules_document(request.app.state.ui))


def set_paused(state: UiState, name: str, paused: bool) -> bool:
    """Pause or resume the schedule `name` as `assetflow schedules pause|resume NAME`
    does; False when the project has no schedule of that name."""
    automation = _automation(state)
    target = next((t for t in automation.schedules if t.name == name), None)
    if target is None:
        return False
    with state.writing() as store:
        store.set_paused(target.origin, paused, _now(state))
    return True


async def _change(request: Request, paused: bool) -> Response:
    state: UiState = request.app.state.ui
    name = request.path_params["name"]
    done = await run_in_threadpool(set_paused, state, name, paused)
    if not done:  # the project changed since the page was shown
        return not_found(request, "schedule", name)
    return RedirectResponse("/schedules", status_code=303)


async def pause(request: Request) -> Response:
    """POST `/schedules/{name}/pause`: its ticks are recorded as skipped until resumed."""
    return await _change(request, paused=True)


async def resume(request: Request) -> Response:
    """POST `/schedules/{name}/resume`: the ticks missed meanwhile stay skipped."""
    return await _change(request, paused=False)
