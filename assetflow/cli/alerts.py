"""`assetflow alerts`, `alerts test NAME` and `assetflow incidents`; and what every run
command does with alerts: record its incidents, then deliver the outbox."""

from __future__ import annotations

import contextlib
import json
import os
import sys
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import click

from assetflow.cli.base import Options, cli, pass_options
from assetflow.errors import EXIT_FAILED, UsageError

if TYPE_CHECKING:
    from assetflow.alerts.setup import Alerting
    from assetflow.project import Project

#: How long a command spends delivering alerts after its own work; what is left is
#: delivered by the next assetflow process or the scheduler.
DELIVERY_BUDGET_S = 10.0

no_alerts_option = click.option(
    "--no-alerts",
    is_flag=True,
    help="Open no incident and send no alert for this run's failures (what it fixes "
    "is still resolved, and `recovered` still goes out).",
)


def run_listeners(project: Project, *, no_alerts: bool) -> tuple[Alerting, list[Any]]:
    """The alerting of `project` (its destinations checked now, before the run), and the
    listener that records the run's incidents."""
    from assetflow.alerts.setup import alerting

    setup = alerting(project)
    if setup.destinations and not no_alerts:
        _tell_of_crashes(project, setup)
    return setup, [setup.recorder(opens=not no_alerts)]


def _tell_of_crashes(project: Project, setup: Alerting) -> None:
    """Sweep runs left running by a process that died, and open their steps' incidents,
    before this run: if it rebuilds one of those steps, it resolves that incident."""
    from assetflow.alerts.watch import sync_crashed
    from assetflow.errors import StoreError
    from assetflow.services.stores import project_store, sweep_crashed

    try:
        with project_store(project) as store:
            sweep_crashed(store, project, None)
            sync_crashed(store, setup.routes, datetime.now(UTC))
    except StoreError:
        pass  # the run itself says what is wrong with the store


#: Whether this process delivered the outbox already (a command that runs a run
#: delivers as it ends; the end of every command then has nothing more to do).
_delivered = False


def deliver_after(project: Project, setup: Alerting, *, quiet: bool = False) -> None:
    """Deliver what is due in the outbox, briefly; say on stderr what was sent. A
    delivery problem never changes the command's exit code; with `quiet`, a store that
    cannot be written (a read-only copy) is passed over without a word."""
    global _delivered
    if not setup.destinations:
        return
    _delivered = True
    from assetflow.alerts.watch import sync_crashed
    from assetflow.services.stores import project_store

    try:
        with project_store(project) as store:
            # A run killed outright is marked crashed by a later process's sweep: its
            # steps' incidents open here, then their alerts go out with the rest.
            sync_crashed(store, setup.routes, datetime.now(UTC))
            report = setup.deliver(store, budget_s=DELIVERY_BUDGET_S)
    except Exception as error:  # alerts must not change a run's outcome
        if not quiet:
            click.echo(f"Alerts were not delivered: {error}", err=True)
        return
    if report.attempted:
        parts = [f"{report.sent} sent"]
        if report.retrying:
            parts.append(f"{report.retrying} to retry")
        if report.failed:
            parts.append(f"{report.failed} failed")
        if report.undeliverable:
            parts.append(f"{report.undeliverable} undeliverable")
        click.echo(
            f"Alerts: {', '.join(parts)} (`assetflow alerts` shows the deliveries).", err=True
        )


def deliver_pending(project: Project) -> None:
    """At the end of any command that loaded a project with alert destinations: send what
    is due, so that an alert a run's process could not deliver goes out with the next
    assetflow command on the project. Nothing when there is no store yet."""
    if _delivered or not project.location.config.alerts:
        return
    from assetflow.errors import AssetflowError
    from assetflow.services.stores import METADATA_FILE

    url = project.location.config.store_url(os.environ)
    if url is None and not (project.state_dir / METADATA_FILE).exists():
        return
    from assetflow.alerts.setup import alerting

    try:
        setup = alerting(project)
    except AssetflowError:
        return  # the commands that use the destinations say what is wrong with them
    deliver_after(project, setup, quiet=True)


@cli.group(invoke_without_command=True)
@click.option("--json", "as_json", is_flag=True, help="Print JSON (a versioned layout).")
@pass_options
def alerts(options: Options, as_json: bool) -> None:
    """List the alert destinations: what each is told, where it sends, its last alert.

    Secrets are never shown: a destination reading its URL or password from an
    environment variable shows the variable's name and whether it is set.
    `alerts test NAME` sends one a test message now.
    """
    if click.get_current_context().invoked_subcommand is not None:
        return
    from assetflow.alerts.reports import (
        destination_rows,
        destinations_document,
        destinations_text,
    )
    from assetflow.alerts.setup import alerting
    from assetflow.services.stores import project_store

    project = options.load()
    setup = alerting(project)
    with project_store(project, reading=True) as store:
        rows = destination_rows(setup.destinations, store)
    if as_json:
        click.echo(json.dumps(destinations_document(rows, os.environ), indent=2))
    else:
        click.echo(destinations_text(rows, os.environ))


@alerts.command("test")
@click.argument("name")
@pass_options
def alerts_test(options: Options, name: str) -> None:
    """Send the destination NAME a test message now and say what it answered.

    Nothing is queued or recorded: the message says it is a test. Exits 1 when
    the destination did not take it.
    """
    from assetflow.alerts.destinations import send
    from assetflow.alerts.message import AlertMessage, AssetPartitions
    from assetflow.alerts.setup import alerting
    from assetflow.errors import suggest

    project = options.load()
    setup = alerting(project)
    destination = setup.destinations.get(name)
    if destination is None:
        known = sorted(setup.destinations)
        close = suggest(name, known)
        raise UsageError(
            f"no alert destination is named '{name}'"
            + (f"; the project has {', '.join(known)}." if known else "; the project has none."),
            hint=(f"Did you mean '{close[0]}'? " if close else "")
            + "`assetflow alerts` lists them; docs/alerts.md shows how to add one.",
        )
    now = datetime.now(UTC)
    message = AlertMessage(
        event="run_failed",
        incident_id="test",
        incident_kind="run_failed",
        project=setup.name,
        title="test alert from assetflow: nothing is wrong",
        assets=(AssetPartitions("example_asset", ("2026-01-01..2026-01-03",)),),
        run_id=None,
        error="This is a test message sent by `assetflow alerts test`.",
        opened_at=now,
        test=True,
        ui_url=destination.ui_url,
    )
    delivery = send(destination, message, os.environ)
    took = f"{delivery.duration_s:.2f} s"
    if delivery.outcome == "sent":
        click.echo(
            f"Sent a test alert to {name} ({destination.kind}): {delivery.detail} in {took}."
        )
        return
    click.echo(
        f"The test alert to {name} ({destination.kind}) was not delivered: {delivery.detail} "
        f"(after {took}; a real alert would be {_fate(delivery.outcome)}).",
        err=True,
    )
    sys.exit(EXIT_FAILED)


def _fate(outcome: str) -> str:
    return {
        "retry": "retried with backoff",
        "failed": "given up on: the answer will not change without a fix",
        "undeliverable": "marked undeliverable until the setting is fixed",
    }.get(outcome, outcome)


@cli.command()
@click.option("--json", "as_json", is_flag=True, help="Print JSON (a versioned layout).")
@click.option("--open", "open_only", is_flag=True, help="Only the incidents still open.")
@click.option(
    "--limit",
    type=click.IntRange(min=1),
    default=20,
    show_default=True,
    help="At most this many incidents, newest first.",
)
@pass_options
def incidents(options: Options, as_json: bool, open_only: bool, limit: int) -> None:
    """Open and recent incidents: what, since when, alerts sent, resolved when.

    An incident opens when a step fails after its retries, a check fails, an
    asset is overdue or the scheduler stops; it resolves when the asset next
    materializes (or is fresh, or the scheduler beats again). Freshness is
    looked at now, so a project without a scheduler still sees what is late.
    """
    from assetflow.alerts.reports import incident_rows, incidents_document, incidents_text
    from assetflow.alerts.setup import alerting
    from assetflow.errors import StoreError
    from assetflow.services.stores import project_store

    project = options.load()
    setup = alerting(project)
    with project_store(project, reading=True) as store:
        # On a read-only store nothing is written: what is late shows in `status`.
        with contextlib.suppress(StoreError):
            _look_for_overdue(project, setup, store)
        rows = incident_rows(store, project.graph, open_only=open_only, limit=limit)
    if as_json:
        click.echo(json.dumps(incidents_document(rows), indent=2))
    else:
        click.echo(incidents_text(rows))
    deliver_after(project, setup)


def _look_for_overdue(project: Project, setup: Alerting, store: Any) -> None:
    """Open (or resolve) the overdue incidents of `project` as of now, and those of the
    steps of crashed runs not told of yet."""
    from assetflow.alerts.watch import sync_crashed, sync_overdue
    from assetflow.services.freshness import overdue

    now = datetime.now(UTC)
    sync_crashed(store, setup.routes, now)
    sync_overdue(store, setup.routes, overdue(project, store, now), now)
