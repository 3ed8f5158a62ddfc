"""`assetflow openlineage` and `openlineage send`; and what a run command does with lineage: emit
the run's OpenLineage events, then say if some were not sent."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import click

from assetflow.cli.base import Options, cli, pass_options
from assetflow.errors import EXIT_FAILED

if TYPE_CHECKING:
    from assetflow.project import Project


def lineage_listeners(project: Project) -> list[Any]:
    """The listener that emits the run's lineage (none without [tool.assetflow.openlineage]);
    its settings are checked now, before the run."""
    if not project.location.config.openlineage:
        return []  # the settings' module is a sizeable import: only for a project with lineage
    from assetflow.openlineage.setup import lineage_recorder
    from assetflow.services.stores import project_store

    recorder = lineage_recorder(project, open_store=lambda: project_store(project), warn=False)
    return [] if recorder is None else [recorder]


def warn_unsent(listeners: list[Any]) -> None:
    """One line on stderr when some of the run's lineage events were not sent."""
    for listener in listeners:
        report = getattr(listener, "report", None)
        if report is None or not report.pending:
            continue
        reason = f" ({report.error})" if report.error else ""
        when = f"from {report.retry_at:%H:%M:%S} UTC " if report.retry_at is not None else ""
        click.echo(
            f"Lineage was not sent: {report.pending} OpenLineage events to "
            f"{listener.settings.target}{reason}. They are kept in the metadata store and "
            f"retried {when}by the next run, or now with `assetflow openlineage send`.",
            err=True,
        )


@cli.group("openlineage", invoke_without_command=True)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_options
def openlineage(options: Options, as_json: bool) -> None:
    """Show where OpenLineage events go and how many wait in the outbox to be sent.

    `openlineage send` sends them now.
    """
    if click.get_current_context().invoked_subcommand is not None:
        return
    from assetflow.openlineage.setup import lineage_settings
    from assetflow.services.stores import project_store
    from assetflow.store.lineage import lineage_outbox

    project = options.load()
    settings = lineage_settings(project)
    with project_store(project, reading=True) as store:
        waiting = lineage_outbox(store).pending(limit=1)
        count = lineage_outbox(store).count()
    first = waiting[0] if waiting else None
    document = {
        "target": None if settings is None else settings.target,
        "namespace": None if settings is None else settings.namespace,
        "pending": count,
        "last_error": None if first is None else first.last_error,
        "next_attempt_at": (
            None
            if first is None or first.next_attempt_at is None
            else first.next_attempt_at.isoformat()
        ),
    }
    if as_json:
        click.echo(json.dumps(document, indent=2))
        return
    target = document["target"] or "nowhere ([tool.assetflow.openlineage] is not set)"
    click.echo(f"OpenLineage events go to {target}.")
    line = f"{count} events wait in the outbox"
    if first is not None and first.last_error:
        line += f" (last attempt: {first.last_error}"
        if first.next_attempt_at is not None:
            line += f"; next at {first.next_attempt_at:%Y-%m-%d %H:%M:%S} UTC"
        line += ")"
    click.echo(line + ".")


@openlineage.command("send")
@click.option(
    "--budget",
    type=click.FloatRange(min=0.1),
    default=30.0,
    show_default=True,
    help="Seconds to spend sending at most.",
)
@pass_options
def lineage_send(options: Options, budget: float) -> None:
    """Send the OpenLineage events waiting in the outbox now, oldest first.

    Exits 1 when some are left (the receiver failed; they stay for a later try).
    """
    from assetflow.errors import UsageError
    from assetflow.openlineage.setup import lineage_settings, send_pending
    from assetflow.services.stores import project_store

    project = options.load()
    settings = lineage_settings(project)
    if settings is None:
        raise UsageError(
            "the project has no [tool.assetflow.openlineage] table, so lineage events "
            "have nowhere to go.",
            hint="Add one to the project configuration, e.g.\n\n    [tool.assetflow.openlineage]"
            '\n    transport = "http"\n    url = "http://localhost:5000"\n\n'
            "(docs/openlineage.md).",
        )
    with project_store(project) as store:
        report = send_pending(store, settings, budget_s=budget)
    click.echo(f"Sent {report.sent} OpenLineage events to {settings.target}.")
    if report.pending:
        reason = f": {report.error}" if report.error else ""
        click.echo(
            f"{report.pending} events were not sent{reason}; they stay in the outbox.", err=True
        )
        raise SystemExit(EXIT_FAILED)
