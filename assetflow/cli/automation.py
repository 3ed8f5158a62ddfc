"""The commands of unattended runs: schedules, scheduler and ticks."""

from __future__ import annotations

import json
import signal
import sys
import threading
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import click

from assetflow.cli.base import Options, cli, pass_options
from assetflow.errors import UsageError

if TYPE_CHECKING:
    from assetflow.automation.loading import Automation
    from assetflow.clock import Clock

json_option = click.option(
    "--json", "as_json", is_flag=True, help="Print JSON (a versioned layout: docs/cli.md)."
)
now_option = click.option(
    "--now",
    metavar="INSTANT",
    help="Act as if it were this instant, an ISO time with its offset "
    "(2026-03-02T03:00:30+01:00): replay a missed night, test a calendar.",
)


def parse_now(text: str | None) -> datetime | None:
    """`--now`'s instant (UTC), or None.

    Raises:
        UsageError: Not an ISO time, or without an offset.
    """
    if text is None:
        return None
    try:
        moment = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise UsageError(
            f"--now {text!r} is not an ISO instant.",
            hint="Write a date and time with its UTC offset, e.g. --now "
            "2026-03-02T03:00:30+01:00 or --now 2026-03-02T02:00:30Z.",
        ) from None
    if moment.utcoffset() is None:
        raise UsageError(
            f"--now {text!r} has no UTC offset, so it names no single instant (on a "
            "daylight-saving day a wall-clock time can happen twice, or not at all).",
            hint=f"Add the offset, e.g. --now {text}+01:00 or --now {text}Z.",
        )
    return moment.astimezone(UTC)


def _load(options: Options) -> tuple[Any, Automation]:
    from assetflow.automation.loading import load_automation

    project = options.load()
    return project, load_automation(project)


def _clock(now: datetime | None) -> Clock:
    from assetflow.clock import ShiftedClock, SystemClock

    return SystemClock() if now is None else ShiftedClock(now)


def _store(project: Any, *, reading: bool = False) -> Any:
    from assetflow.services.stores import project_store

    return project_store(project, reading=reading)


@cli.group(invoke_without_command=True)
@json_option
@now_option
@pass_options
def schedules(options: Options, as_json: bool, now: str | None) -> None:
    """List the schedules: selection, next tick (local and UTC), last tick and its run.

    `schedules pause NAME` and `schedules resume NAME` stop and restart one
    schedule without editing the configuration; the ticks that fall while it is
    paused are recorded as skipped, so resuming it starts no flood of old runs.
    """
    if click.get_current_context().invoked_subcommand is not None:
        return
    from assetflow.automation.reports import document, schedule_rows
    from assetflow.views.text import table

    moment = parse_now(now) or datetime.now(UTC)
    project, automation = _load(options)
    with _store(project, reading=True) as store:
        rows = schedule_rows(automation, store, moment)
    if as_json:
        click.echo(json.dumps(document("schedules", [r.to_json() for r in rows]), indent=2))
        return
    if not rows:
        click.echo(
            "The project has no schedules. docs/automation.md shows how to declare one "
            "([tool.assetflow.schedules.NAME] in pyproject.toml, or assetflow.schedule(...))."
        )
        return
    lines = []
    for row in rows:
        data = row.to_json()
        last = data["last_tick"]
        state = (
            "paused" if row.paused else ("disabled" if not row.target.schedule.enabled else "on")
        )
        lines.append(
            (
                row.target.name,
                state,
                data["timing"],
                data["selection"],
                _short_local(data["next_local"]),
                _short_utc(data["next_utc"]),
                "-" if last is None else _last_text(last),
            )
        )
    click.echo(
        table(
            ("SCHEDULE", "STATE", "WHEN", "SELECTION", "NEXT (LOCAL)", "NEXT (UTC)", "LAST TICK"),
            lines,
        )
    )


def _short_local(text: str | None) -> str:
    if text is None:
        return "-"
    moment = datetime.fromisoformat(text)
    return f"{moment:%Y-%m-%d %H:%M} {moment.isoformat()[-6:]}"


def _short_utc(text: str | None) -> str:
    if text is None:
        return "-"
    return datetime.fromisoformat(text.replace("Z", "+00:00")).strftime("%Y-%m-%d %H:%M")


def _last_text(tick: dict[str, Any]) -> str:
    when = _short_utc(tick["scheduled_utc"])
    status = tick["status"]
    if tick["run_id"] and status == "started":
        run = tick["run_status"] or "not recorded"
        return f"{when} run {tick['run_id'][:8]} {run}"
    return f"{when} {status}" + (f": {tick['reason']}" if tick["reason"] else "")


def _pause(options: Options, name: str, paused: bool) -> None:
    project, automation = _load(options)
    target = automation.schedule(name)
    with _store(project) as store:
        store.set_paused(target.origin, paused, datetime.now(UTC))
    if paused:
        click.echo(
            f"Paused schedule '{name}': its ticks are recorded as skipped until "
            f"`assetflow schedules resume {name}`."
        )
    else:
        click.echo(
            f"Resumed schedule '{name}': the ticks that fell while it was paused stay "
            "skipped; the next one runs."
        )


@schedules.command("pause")
@click.argument("name")
@pass_options
def pause(options: Options, name: str) -> None:
    """Pause the schedule NAME: its ticks are recorded as skipped (paused)."""
    _pause(options, name, True)


@schedules.command("resume")
@click.argument("name")
@pass_options
def resume(options: Options, name: str) -> None:
    """Resume the schedule NAME; the ticks it missed while paused are not run."""
    _pause(options, name, False)


@cli.command()
@click.argument("name", required=False)
@click.option("--limit", "-n", default=50, show_default=True, help="How many ticks to show.")
@json_option
@pass_options
def ticks(options: Options, name: str | None, limit: int, as_json: bool) -> None:
    """Every tick of the schedule or sensor NAME (all when left out), newest first:
    scheduled time, when it was evaluated, what became of it, its run and why."""
    from assetflow.automation.reports import document, tick_document, tick_rows
    from assetflow.views.text import table

    if limit < 1:
        raise UsageError(f"--limit must be 1 or more, not {limit}.")
    project, automation = _load(options)
    origin = None
    targets = {t.origin: t for t in automation.schedules}
    if name is not None:
        origin = _origin(automation, name)
    with _store(project, reading=True) as store:
        found = tick_rows(store, origin, limit)
    items = [tick_document(tick, targets.get(tick.origin), status) for tick, status in found]
    if as_json:
        click.echo(json.dumps(document("ticks", items), indent=2))
        return
    if not items:
        click.echo("No ticks recorded yet: `assetflow scheduler --once` evaluates the schedules.")
        return
    click.echo(
        table(
            (
                "ORIGIN",
                "SCHEDULED (LOCAL)",
                "EVALUATED (UTC)",
                "STATUS",
                "RUN",
                "PARTITIONS",
                "REASON",
            ),
            [
                (
                    item["origin"],
                    _short_local(item["scheduled_local"]),
                    _short_utc(item["evaluated_utc"]),
                    item["status"] + (f" ({item['run_status']})" if item["run_status"] else ""),
                    (item["run_id"] or "-")[:8],
                    ",".join(item["partition_keys"]) or "-",
                    item["reason"] or "",
                )
                for item in items
            ],
        )
    )


def _origin(automation: Automation, name: str) -> str:
    if ":" in name:
        return name
    for target in automation.schedules:
        if target.name == name:
            return target.origin
    for spec in automation.sensors:
        if spec.name == name:
            return spec.origin
    for source in automation.source_sensors:
        if source.name == name:
            return f"sensor:{source.name}"
    automation.schedule(name)  # raises the did-you-mean error
    raise AssertionError("unreachable")


@cli.command()
@click.option(
    "--once",
    is_flag=True,
    help="Evaluate what is due now, start its runs, wait "
    "for them and exit (for cron, systemd timers and tests).",
)
@click.option(
    "--dry-run",
    is_flag=True,
    help="Print the next ticks of every schedule; start and record nothing.",
)
@click.option(
    "--ticks",
    "count",
    default=5,
    show_default=True,
    help="With --dry-run: how many ticks of each schedule.",
)
@now_option
@json_option
@pass_options
def scheduler(
    options: Options, once: bool, dry_run: bool, count: int, now: str | None, as_json: bool
) -> None:
    """Run schedules and sensors: a foreground daemon (Ctrl-C or SIGTERM stops it).

    One scheduler leads per store; a second one waits as a standby and takes over
    when the leader's heartbeat stops. Every tick is recorded, started or skipped
    with its reason: `assetflow ticks` lists them.
    """
    moment = parse_now(now)
    if count < 1:
        raise UsageError(f"--ticks must be 1 or more, not {count}.")
    if once and dry_run:
        raise UsageError("--once and --dry-run do not go together: --dry-run starts nothing.")
    project, automation = _load(options)
    if dry_run:
        _dry_run(project, automation, moment or datetime.now(UTC), count, as_json)
        return
    from assetflow.alerts.setup import alerting
    from assetflow.automation.scheduler import Scheduler

    setup = alerting(project)  # checked before the scheduler starts
    clock = _clock(moment)
    log = _Log(as_json)
    with _store(project) as store:
        daemon = Scheduler(
            project, automation, store, clock, log=log, replay=moment is not None, alerting=setup
        )
        with _stop_on_signals(daemon):
            if once:
                report = daemon.run_once()
                started = sum(
                    1 for record, ok in report.recorded if ok and record.status == "claimed"
                )
                skipped = sum(
                    1 for record, ok in report.recorded if ok and record.status == "skipped"
                )
                if not as_json:
                    click.echo(
                        f"Evaluated {_evaluated(automation)} at "
                        f"{report.now:%Y-%m-%d %H:%M:%S} UTC: {started} run(s) started, "
                        f"{skipped} tick(s) skipped."
                    )
            else:
                daemon.serve()


def _evaluated(automation: Automation) -> str:
    """`1 schedule, 1 sensor and 1 automated asset`: what `--once` evaluated."""
    counts = [
        (len(automation.schedules), "schedule"),
        (len(automation.sensors) + len(automation.source_sensors), "sensor"),
        (len(automation.policies), "automated asset"),
    ]
    parts = [f"{n} {word}{'' if n == 1 else 's'}" for n, word in counts if n]
    if not parts:
        return "nothing (no schedule, sensor or automated asset)"
    return parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " and " + parts[-1]


class _Log:
    """The scheduler's structured log lines: `TIME EVENT key=value ...`, or JSON lines."""

    def __init__(self, as_json: bool) -> None:
        self._json = as_json
        self._lock = threading.Lock()

    def __call__(self, event: str, **fields: Any) -> None:
        at = datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
        shown = {k: _plain(v) for k, v in fields.items() if v is not None}
        if self._json:
            line = json.dumps({"at": at, "event": event, **shown})
        else:
            parts = " ".join(f"{k}={_quote(v)}" for k, v in shown.items())
            line = f"{at} {event} {parts}".rstrip()
        with self._lock:
            click.echo(line)
            sys.stdout.flush()


def _plain(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat().replace("+00:00", "Z")
    if isinstance(value, str) and len(value) == 32 and value.isalnum():
        return value[:8]  # a run id
    return value


def _quote(value: Any) -> str:
    text = str(value)
    return json.dumps(text) if (" " in text or "=" in text or not text) else text


class _stop_on_signals:
    """Ctrl-C and SIGTERM stop the scheduler cleanly (recording state) rather than kill it."""

    def __init__(self, daemon: Any) -> None:
        self._daemon = daemon
        self._previous: dict[int, Any] = {}

    def __enter__(self) -> None:
        if threading.current_thread() is not threading.main_thread():
            return
        for number in (signal.SIGINT, signal.SIGTERM):
            self._previous[number] = signal.signal(number, self._handle)

    def _handle(self, signum: int, frame: object) -> None:
        if self._daemon.stopping.is_set():
            raise SystemExit(128 + signum)
        click.echo("Stopping the scheduler (press Ctrl-C again to exit at once).", err=True)
        self._daemon.stop()

    def __exit__(self, *exc: object) -> None:
        for number, handler in self._previous.items():
            signal.signal(number, handler)


def _dry_run(
    project: Any, automation: Automation, now: datetime, count: int, as_json: bool
) -> None:
    from assetflow.automation.reports import decision_document, document, dry_run
    from assetflow.views.text import table

    with _store(project, reading=True) as store:
        paused = {o for o, s in store.origin_states().items() if s.paused}
        found = dry_run(automation, store, now, count)
    items = [decision_document(t, d, t.origin in paused) for t, d in found]
    if as_json:
        click.echo(json.dumps(document("ticks", items), indent=2))
        return
    if not items:
        click.echo("The project has no schedules: nothing would start.")
        return
    click.echo(
        table(
            ("SCHEDULE", "TICK (LOCAL)", "UTC", "WOULD", "PARTITIONS", "REASON"),
            [
                (
                    item["schedule"],
                    _short_local(item["scheduled_local"]),
                    _short_utc(item["scheduled_utc"]),
                    item["status"],
                    ",".join(item["partition_keys"]) or "-",
                    item["reason"] or "",
                )
                for item in items
            ],
        )
    )
