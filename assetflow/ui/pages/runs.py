"""The runs pages and their JSON twins under /api/.

`/runs` lists runs (the filters and pages of `assetflow runs`) with a form that
launches one; `/runs/{id}` shows one run (`assetflow runs show` and `assetflow
logs`) with a timeline of its steps, drawn on the server as SVG; while the run
goes on, `runs.js` reloads `/runs/{id}/timeline` every second. Launch and cancel
are POSTs (their CSRF token is checked by `security.Guard`).
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from assetflow.errors import AssetflowError, UsageError
from assetflow.ui.rendering import api, not_found, page

if TYPE_CHECKING:
    from assetflow.run_detail import RunDetail
    from assetflow.services.history import RunList, StepLogs
    from assetflow.ui.launching import Launcher, LaunchForm
    from assetflow.ui.state import UiState

#: How many runs a page lists by default, and at most.
PAGE_SIZE = 50
MAX_PAGE_SIZE = 500
#: The statuses a run may have, as the status filter takes them.
RUN_STATUSES = ("running", "success", "failed", "cancelled", "crashed")
#: The `redo` choices, as the launch form offers them.
REDO_CHOICES = ("missing", "stale", "failed", "all")
#: The geometry of the timeline (SVG user units).
LABEL_WIDTH = 260
CHART_WIDTH = 720
ROW_HEIGHT = 20
AXIS_HEIGHT = 22

_launcher_lock = threading.Lock()


def routes() -> list[BaseRoute]:
    return [
        Route("/runs", runs_page, methods=["GET"]),
        Route("/runs", launch_form, methods=["POST"]),
        Route("/api/runs", runs_json, methods=["GET"]),
        Route("/api/runs", launch_json, methods=["POST"]),
        Route("/runs/{run_id}", run_page, methods=["GET"]),
        Route("/runs/{run_id}/timeline", timeline_fragment, methods=["GET"]),
        Route("/runs/{run_id}/cancel", cancel_form, methods=["POST"]),
        Route("/api/runs/{run_id}", run_json, methods=["GET"]),
        Route("/api/runs/{run_id}/cancel", cancel_json, methods=["POST"]),
    ]


def _state(request: Request) -> UiState:
    state: UiState = request.app.state.ui
    return state


def launcher(request: Request) -> Launcher:
    """This server's launcher (made at its first use)."""
    from assetflow.ui.launching import Launcher

    app_state = request.app.state
    with _launcher_lock:
        found = getattr(app_state, "launcher", None)
        if found is None:
            ui = _state(request)
            found = Launcher(ui.project, clock=ui.clock)
            app_state.launcher = found
    assert isinstance(found, Launcher)
    return found


# ---- the list -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RunFilters:
    """The filters of the runs list, as the query string gives them."""

    statuses: tuple[str, ...] = ()
    triggers: tuple[str, ...] = ()
    asset: str | None = None
    partition: str | None = None
    since: str | None = None
    until: str | None = None
    before: str | None = None
    limit: int = PAGE_SIZE

    @classmethod
    def of(cls, query: Any) -> RunFilters:
        """The filters of a query string (`status` and `trigger` repeat; `from`/`to` are
        the dates, as `since`/`until` are too).

        Raises:
            UsageError: A status is unknown or the limit is not a number from 1 to 500.
        """
        from assetflow.errors import SelectionError, suggest

        statuses = tuple(value for value in query.getlist("status") if value)
        for status in statuses:
            if status not in RUN_STATUSES:
                raise SelectionError(
                    f"status '{status}' is not one of {', '.join(RUN_STATUSES)}.",
                    suggestions=suggest(status, RUN_STATUSES),
                )
        text = query.get("limit") or str(PAGE_SIZE)
        if not text.isdigit() or not 1 <= int(text) <= MAX_PAGE_SIZE:
            raise UsageError(
                f"limit '{text}' is not a number from 1 to {MAX_PAGE_SIZE}.",
                hint=f"limit is how many runs a page lists (default {PAGE_SIZE}).",
            )

        def one(*names: str) -> str | None:
            for name in names:
                value = (query.get(name) or "").strip()
                if value:
                    return value
            return None

        return cls(
            statuses=statuses,
            triggers=tuple(
                part.strip()
                for value in query.getlist("trigger")
                for part in value.split(",")
                if part.strip()
            ),
            asset=one("asset"),
            partition=one("partition"),
            since=one("from", "since"),
            until=one("to", "until"),
            before=one("before"),
            limit=int(text),
        )

    def query(self, **changes: Any) -> str:
        """The query string of these filters with some changed (None drops one)."""
        from urllib.parse import urlencode

        pairs: list[tuple[str, str]] = [("status", s) for s in self.statuses]
        pairs += [("trigger", t) for t in self.triggers]
        single = {
            "asset": self.asset,
            "partition": self.partition,
            "from": self.since,
            "to": self.until,
            "before": self.before,
            "limit": str(self.limit) if self.limit != PAGE_SIZE else None,
        }
        single.update(changes)
        pairs += [(name, value) for name, value in single.items() if value]
        return urlencode(pairs)


def find_runs(state: UiState, filters: RunFilters) -> RunList:
    """The runs these filters select (`assetflow runs`)."""
    from assetflow.services import history

    return history.runs(
        state.project,
        limit=filters.limit,
        status=filters.statuses,
        trigger=filters.triggers,
        asset=filters.asset,
        partition=filters.partition,
        since=filters.since,
        until=filters.until,
        before=filters.before,
        clock=state.clock,
    )


def runs_page(request: Request) -> Response:
    state = _state(request)
    error = None
    found = None
    try:
        filters = RunFilters.of(request.query_params)
        found = find_runs(state, filters)
    except AssetflowError as failed:
        filters = RunFilters()
        error = failed.format_message()
    return page(
        request,
        "runs_list.html",
        status_code=400 if error else 200,
        found=found,
        filters=filters,
        query=request.query_params,
        error=error,
        statuses=RUN_STATUSES,
        redo_choices=REDO_CHOICES,
        launch_error=None,
        form={},
    )


def runs_json(request: Request) -> Response:
    from assetflow.views.json import runs_document

    try:
        filters = RunFilters.of(request.query_params)
        found = find_runs(_state(request), filters)
    except AssetflowError as failed:
        return api({"error": failed.format_message()}, status_code=400)
    document = runs_document(found)
    return api({**document, "runs_version": document.pop("version")})


# ---- launching ------------------------------------------------------------------------


def _form_of(data: Mapping[str, Any], redo: list[str]) -> LaunchForm:
    """A launch form from the fields of a form or a JSON body."""
    from assetflow.ui.launching import LaunchForm

    def text(name: str) -> str | None:
        value = data.get(name)
        if value is None:
            return None
        if not isinstance(value, str):
            raise UsageError(f"'{name}' must be text, not {type(value).__name__}.")
        return value.strip() or None

    force = data.get("force", False)
    return LaunchForm(
        selection=text("selection") or "*",
        exclude=text("exclude"),
        partition=text("partition"),
        first=text("from"),
        last=text("to"),
        force=force in (True, "on", "true", "1", "yes"),
        redo=tuple(choice.strip() for choice in redo if choice and choice.strip()),
    )


def _launch(request: Request, form: LaunchForm) -> str:
    from assetflow.ui.launching import run_request

    state = _state(request)
    run_request_ = run_request(state.project, form)
    return launcher(request).launch(run_request_)


def _launch_status(error: AssetflowError) -> int:
    from assetflow.ui.launching import TooManyLaunchesError

    return 429 if isinstance(error, TooManyLaunchesError) else 400


async def launch_json(request: Request) -> Response:
    try:
        data = await request.json()
    except ValueError:
        return api({"error": "the body is not JSON: send a JSON object."}, status_code=400)
    if not isinstance(data, dict):
        return api({"error": "the body must be a JSON object."}, status_code=400)
    redo = data.get("redo") or []
    if isinstance(redo, str):
        redo = [redo]
    try:
        if not isinstance(redo, list) or not all(isinstance(r, str) for r in redo):
            raise UsageError("'redo' must be a list of: " + ", ".join(REDO_CHOICES) + ".")
        run_id = await run_in_threadpool(_launch, request, _form_of(data, redo))
    except AssetflowError as failed:
        return api({"error": failed.format_message()}, status_code=_launch_status(failed))
    return api({"run_id": run_id, "url": f"/runs/{run_id}"}, status_code=202)


async def launch_form(request: Request) -> Response:
    fields = await request.form()
    data = {name: value for name, value in fields.items() if isinstance(value, str)}
    redo = [value for value in fields.getlist("redo") if isinstance(value, str)]
    try:
        run_id = await run_in_threadpool(_launch, request, _form_of(data, redo))
    except AssetflowError as failed:
        state = _state(request)
        found = await run_in_threadpool(find_runs, state, RunFilters())
        return page(
            request,
            "runs_list.html",
            status_code=_launch_status(failed),
            found=found,
            filters=RunFilters(),
            query={},
            error=None,
            statuses=RUN_STATUSES,
            redo_choices=REDO_CHOICES,
            launch_error=failed.format_message(),
            form={**data, "redo": redo},
        )
    return RedirectResponse(f"/runs/{run_id}", status_code=303)


# ---- one run --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class OneRun:
    """One run as its page shows it: the detail, the step logs and the timeline; or,
    for a run this server launched that has not recorded itself yet, the launch."""

    detail: RunDetail | None
    logs: StepLogs | None
    timeline: Timeline | None
    launch_state: str | None = None
    launch_error: str | None = None


def read_one(request: Request, run_id: str) -> OneRun | Response:
    """The run `run_id` names (a unique prefix works), or the 404 answer for it."""
    from assetflow.clock import SystemClock
    from assetflow.services import history
    from assetflow.store.run_errors import AmbiguousRunIdError, UnknownRunError

    state = _state(request)
    launched = launcher(request).get(run_id) if len(run_id) == 32 else None
    clock = state.clock or SystemClock()
    try:
        detail = history.run(state.project, run_id, clock=state.clock)
        logs = history.logs(state.project, detail.run.run_id)
    except UnknownRunError:
        if launched is not None:
            return OneRun(None, None, None, launched.state, launched.error)
        return not_found(request, "run", run_id, _similar_ids(state, run_id))
    except AmbiguousRunIdError as ambiguous:
        return not_found(
            request, "single run", run_id, [c[: len(run_id) + 4] for c in ambiguous.candidates]
        )
    launch = launcher(request).get(detail.run.run_id)
    return OneRun(
        detail,
        logs,
        timeline(detail, clock.now()),
        # recorded: no longer starting
        (launch.state if launch.state == "ended" else "running") if launch else None,
        launch.error if launch else None,
    )


def _similar_ids(state: UiState, run_id: str) -> list[str]:
    """Short ids of recent runs that look like `run_id` (did you mean)."""
    from assetflow.errors import suggest

    with state.reading() as store:
        recent = [run.run_id for run in store.list_runs(limit=200)]
    width = max(8, len(run_id))
    return suggest(run_id.lower(), [known[:width] for known in recent])


def _read(request: Request) -> OneRun | Response:
    return read_one(request, request.path_params["run_id"].strip())


def run_page(request: Request) -> Response:
    found = _read(request)
    if isinstance(found, Response):
        return found
    return page(request, "runs_show.html", one=found, run_id=request.path_params["run_id"])


def timeline_fragment(request: Request) -> Response:
    """The live part of a run's page: its status, timeline and step table."""
    from starlette.responses import HTMLResponse

    from assetflow.ui.rendering import environment

    found = _read(request)
    if isinstance(found, Response):
        return found
    html = (
        environment()
        .get_template("runs_live.html")
        .render(one=found, csrf=request.scope.get("csrf_token", ""))
    )
    return HTMLResponse(html)


def run_json(request: Request) -> Response:
    from assetflow.views.json import logs_document, run_document

    found = _read(request)
    if isinstance(found, Response):
        return found
    launch = {"state": found.launch_state, "error": found.launch_error}
    if found.detail is None or found.logs is None or found.timeline is None:
        return api({"run": None, "steps": [], "logs": [], "timeline": None, "launch": launch})
    document = run_document(found.detail)
    return api(
        {
            "run_version": document.pop("version"),
            **document,
            "logs": logs_document(found.logs)["logs"],
            "timeline": found.timeline.json(),
            "launch": launch if found.launch_state else None,
        }
    )


def _cancel(request: Request) -> str:
    """Ask the run to cancel (`assetflow runs cancel --wait 0`); its full id."""
    from assetflow.services import running

    state = _state(request)
    record = running.cancel(state.project, request.path_params["run_id"].strip(), clock=state.clock)
    return record.run_id


def _unknown_to_cancel(request: Request) -> Response:
    """The answer to cancelling a run not recorded: 404 with did-you-mean, or 409 for a
    run this server launched that is still planning."""
    found = _read(request)
    if isinstance(found, Response):
        return found
    message = (
        "this run has not started yet (it is being planned): cancel it once it runs."
        if found.launch_error is None
        else "this run's launch failed before it started: there is nothing to cancel."
    )
    if request.url.path.startswith("/api/"):
        return api({"error": message}, status_code=409)
    return page(request, "error.html", status_code=409, message=message)


async def cancel_json(request: Request) -> Response:
    from assetflow.store.run_errors import UnknownRunError

    try:
        run_id = await run_in_threadpool(_cancel, request)
    except UnknownRunError:
        return await run_in_threadpool(_unknown_to_cancel, request)
    except AssetflowError as failed:
        return api({"error": failed.format_message()}, status_code=409)
    return api({"run_id": run_id, "cancel_requested": True}, status_code=202)


async def cancel_form(request: Request) -> Response:
    from assetflow.store.run_errors import UnknownRunError

    try:
        run_id = await run_in_threadpool(_cancel, request)
    except UnknownRunError:
        return await run_in_threadpool(_unknown_to_cancel, request)
    except AssetflowError as failed:
        return page(request, "error.html", status_code=409, message=failed.format_message())
    return RedirectResponse(f"/runs/{run_id}", status_code=303)


# ---- the timeline ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Bar:
    """One attempt of a step on the timeline: where it starts and how long it is drawn
    (SVG units), how it ended, and the times it stands for."""

    x: float
    width: float
    state: str
    attempt: int
    start: datetime
    end: datetime | None
    duration_s: float | None
    #: a mark (a step with no duration: skipped, not started) rather than a bar
    is_mark: bool = False
    #: the process it ran in (`pid 4242`, or `host:4242` on another machine), if recorded
    worker: str = ""
    host: str | None = None
    pid: int | None = None


@dataclass(frozen=True, slots=True)
class TimelineRow:
    """One step (asset[partition]) of the run, with its attempts in time order."""

    label: str
    asset: str
    partition: str | None
    y: float
    bars: tuple[Bar, ...]

    @property
    def state(self) -> str:
        return self.bars[-1].state


@dataclass(frozen=True, slots=True)
class Timeline:
    """A run's steps as a Gantt chart: a row per step, a bar per attempt."""

    start: datetime
    end: datetime
    rows: tuple[TimelineRow, ...]
    ticks: tuple[tuple[float, str], ...]
    #: the machine the run ran on, when recorded (each attempt records its own worker)
    host: str | None

    @property
    def workers(self) -> tuple[str, ...]:
        """The workers the attempts ran in, in order of first use."""
        seen = dict.fromkeys(bar.worker for row in self.rows for bar in row.bars if bar.worker)
        return tuple(seen)

    @property
    def width(self) -> int:
        return LABEL_WIDTH + CHART_WIDTH + 10

    @property
    def height(self) -> int:
        return AXIS_HEIGHT + ROW_HEIGHT * len(self.rows) + 4

    def json(self) -> dict[str, Any]:
        return {
            "start": self.start.isoformat(),
            "end": self.end.isoformat(),
            "host": self.host,
            "rows": [
                {
                    "asset": row.asset,
                    "partition": row.partition,
                    "state": row.state,
                    "attempts": [
                        {
                            "attempt": bar.attempt,
                            "state": bar.state,
                            "start": bar.start.isoformat(),
                            "end": bar.end.isoformat() if bar.end else None,
                            "duration_s": bar.duration_s,
                            "worker": (
                                {"host": bar.host, "pid": bar.pid} if bar.pid is not None else None
                            ),
                        }
                        for bar in row.bars
                    ],
                }
                for row in self.rows
            ],
        }


def timeline(detail: RunDetail, now: datetime) -> Timeline:
    """The timeline of a run: each step's attempts from their start to their end (a
    step still running ends now), scaled to the run's span."""
    from assetflow.run_detail import RowState

    run = detail.run
    spans: dict[tuple[str, str | None], list[tuple[datetime, datetime | None, Any]]] = {}
    for row in detail.rows:
        if row.asset is None:
            continue
        if row.state is RowState.STARTED:
            start, end = row.started_at or row.at, None  # still going (or never told its end)
        elif row.started_at is not None:
            start, end = min(row.started_at, row.at), row.at
        elif row.duration_s is not None:
            from datetime import timedelta

            start, end = row.at - timedelta(seconds=row.duration_s), row.at
        else:
            start, end = row.at, row.at
        spans.setdefault((row.asset, row.partition), []).append((start, end, row))
    ends = [end for items in spans.values() for _, end, _ in items if end is not None]
    last = run.finished_at or now
    if ends:
        last = max(last, *ends)
    first = min([run.started_at, *(start for items in spans.values() for start, _, _ in items)])
    total = max((last - first).total_seconds(), 1e-3)

    def x_of(moment: datetime) -> float:
        return LABEL_WIDTH + CHART_WIDTH * (moment - first).total_seconds() / total

    ordered = sorted(spans.items(), key=lambda item: (min(s for s, _, _ in item[1]), item[0][0]))
    rows = []
    for index, ((asset, partition), items) in enumerate(ordered):
        bars = []
        for start, end, row in items:
            drawn_end = end or last
            is_mark = (
                row.duration_s is None
                and row.started_at is None
                and row.state is not RowState.STARTED
            )
            bars.append(
                Bar(
                    x=round(x_of(start), 2),
                    width=round(max(x_of(drawn_end) - x_of(start), 2.0), 2),
                    state=row.state.value.replace(" ", "_"),
                    attempt=row.attempt,
                    start=start,
                    end=end,
                    duration_s=row.duration_s,
                    is_mark=is_mark,
                    worker=row.worker(run.host),
                    host=row.host,
                    pid=row.pid,
                )
            )
        label = asset if partition is None else f"{asset}[{partition}]"
        rows.append(
            TimelineRow(label, asset, partition, AXIS_HEIGHT + index * ROW_HEIGHT, tuple(bars))
        )
    ticks = tuple(
        (round(LABEL_WIDTH + CHART_WIDTH * i / 4, 2), _offset(total * i / 4)) for i in range(5)
    )
    return Timeline(first, last, tuple(rows), ticks, run.host)


def _offset(seconds: float) -> str:
    """`+0 s`, `+1.5 s`, `+2m05s`: a tick's time since the run began."""
    from assetflow.views.text import duration

    return "+0 s" if seconds == 0 else f"+{duration(seconds)}"
