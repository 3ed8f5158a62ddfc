"""`assetflow health`: is the scheduler alive, is a run stuck, is an asset late? For cron
lines and monitoring probes: exit 0 when healthy, 1 when not, 2 on a usage error."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

import click

from assetflow.cli.automation import json_option, now_option, parse_now
from assetflow.cli.base import Options, cli, pass_options
from assetflow.errors import EXIT_FAILED, UsageError

if TYPE_CHECKING:
    from datetime import timedelta

    from assetflow.project import Project
    from assetflow.services.health import HealthReport


@cli.command()
@click.option(
    "--down-after",
    metavar="DURATION",
    default="5m",
    show_default=True,
    help="The scheduler is down when its heartbeat is older than this (30s, 5m, 1h).",
)
@click.option(
    "--alert",
    "send_alerts",
    is_flag=True,
    help="Also open (or resolve) the incidents of what is wrong, `scheduler_down` and "
    "`overdue`, and deliver their alerts to the destinations that ask for them.",
)
@now_option
@json_option
@pass_options
def health(
    options: Options, down_after: str, send_alerts: bool, now: str | None, as_json: bool
) -> None:
    """Check assetflow itself: the scheduler's heartbeat, stuck runs, overdue assets.

    Prints one line per check and exits 0 when the scheduler is alive (or the project
    needs none), no run is stuck and no asset is overdue; else 1, with what is wrong.
    It only reads the store, so it runs on a read-only copy and on a project never run:

        */5 * * * *  cd /srv/pipeline && assetflow health || notify-oncall

    With --alert it also tells the alert destinations (docs/alerts.md): a scheduler
    whose heartbeat is older than 5 minutes opens a `scheduler_down` incident, once,
    and late assets their `overdue` ones; that needs a writable store.
    """
    from datetime import UTC, datetime

    from assetflow.services.health import health as check_health
    from assetflow.timetext import parse_duration

    moment = parse_now(now) or datetime.now(UTC)
    threshold = parse_duration(down_after, "--down-after")
    project = options.load()
    report = check_health(
        project, now=moment, down_after=threshold, needs_scheduler=_needs_scheduler(project)
    )
    if send_alerts:
        if parse_now(now) is not None:
            raise UsageError(
                "--alert and --now do not go together: an alert says what is wrong now.",
                hint="Drop --now to alert, or --alert to look at another instant.",
            )
        _alert(project, report, threshold)
    if as_json:
        from assetflow.views.json import dumps, health_document

        click.echo(dumps(health_document(report)))
    else:
        for line in report.lines():
            click.echo(line)
    if not report.healthy:
        sys.exit(EXIT_FAILED)


def _alert(project: Project, report: HealthReport, down_after: timedelta) -> None:
    """Open or resolve `scheduler_down` and `overdue` incidents from `report`, and deliver
    what is due. Says on stderr what went out; a delivery problem does not change the
    exit code, which is the health's."""
    from assetflow.alerts.setup import alerting
    from assetflow.alerts.watch import sync_overdue, watch_scheduler
    from assetflow.cli.alerts import deliver_after
    from assetflow.services.stores import project_store

    setup = alerting(project)
    now = report.checked_at
    with project_store(project) as store:
        sync_overdue(store, setup.routes, report.overdue, now)
        watch_scheduler(
            store,
            setup.routes,
            store.scheduler_lease(),
            now,
            needed=report.scheduler.needed,
            down_after=down_after,
        )
    deliver_after(project, setup)


def _needs_scheduler(project: Project) -> bool:
    """Whether the project has schedules, sensors or automated assets (its automation,
    loaded and checked as the scheduler loads it)."""
    from assetflow.automation.loading import load_automation

    automation = load_automation(project)
    return bool(automation.origins or automation.policies)
