"""`assetflow health`: is the scheduler alive, is a run stuck, is an asset late? For cron
lines and monitoring probes: exit 0 when healthy, 1 when not, 2 on a usage error."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

import click

from assetflow.cli.automation import json_option, now_option, parse_now
from assetflow.cli.base import Options, cli, pass_options
from assetflow.errors import EXIT_FAILED

if TYPE_CHECKING:
    from assetflow.project import Project


@cli.command()
@click.option(
    "--down-after",
    metavar="DURATION",
    default="5m",
    show_default=True,
    help="The scheduler is down when its heartbeat is older than this (30s, 5m, 1h).",
)
@now_option
@json_option
@pass_options
def health(options: Options, down_after: str, now: str | None, as_json: bool) -> None:
    """Check assetflow itself: the scheduler's heartbeat, stuck runs, overdue assets.

    Prints one line per check and exits 0 when the scheduler is alive (or the project
    needs none), no run is stuck and no asset is overdue; else 1, with what is wrong.
    It only reads the store, so it runs on a read-only copy and on a project never run:

        */5 * * * *  cd /srv/pipeline && assetflow health || notify-oncall
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
    # Alerting on the report (a `scheduler_down` alert from `health --alert`) goes here,
    # after the report and before the output, so that its outcome can be printed too.
    if as_json:
        from assetflow.views.json import dumps, health_document

        click.echo(dumps(health_document(report)))
    else:
        for line in report.lines():
            click.echo(line)
    if not report.healthy:
        sys.exit(EXIT_FAILED)


def _needs_scheduler(project: Project) -> bool:
    """Whether the project has schedules, sensors or automated assets (its automation,
    loaded and checked as the scheduler loads it)."""
    from assetflow.automation.loading import load_automation

    automation = load_automation(project)
    return bool(automation.origins or automation.policies)
