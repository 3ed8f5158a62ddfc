"""The commands about what happened: runs, runs show, runs cancel, logs and history."""

from __future__ import annotations

import click

from assetflow.cli.base import Options, cli, pass_options
from assetflow.cli.complete import complete_asset, complete_partition


@cli.group(invoke_without_command=True)
@click.option("--limit", "-n", default=20, show_default=True, help="How many runs to show.")
@click.option(
    "--status",
    type=click.Choice(["running", "success", "failed", "cancelled", "crashed"]),
    help="Only runs that ended so.",
)
@pass_options
def runs(options: Options, limit: int, status: str | None) -> None:
    """List recent runs, newest first; `runs show RUN_ID` shows one, step by step.

    A run left `running` by a process that is gone (killed, machine restarted)
    is marked `crashed` first.
    """
    if click.get_current_context().invoked_subcommand is not None:
        return
    from assetflow.services import history
    from assetflow.store.records import RunStatus
    from assetflow.views.text import runs_table

    found = history.runs(options.load(), limit=limit, status=RunStatus(status) if status else None)
    click.echo(runs_table(found.runs, found.counts))


@runs.command("show")
@click.argument("run_id")
@pass_options
def show_run(options: Options, run_id: str) -> None:
    """Show one run: each step's state, attempt, duration and message, then its errors.

    RUN_ID is a run's id or any unique prefix of it (`assetflow runs` lists them).
    """
    from assetflow.clock import SystemClock
    from assetflow.services import history
    from assetflow.views.text import run_detail

    clock = SystemClock()
    now = clock.now()
    detail = history.run(options.load(), run_id, clock=clock)
    click.echo(run_detail(detail, now))


@runs.command("cancel")
@click.argument("run_id")
@click.option(
    "--wait",
    "wait_s",
    type=click.FloatRange(min=0),
    default=30.0,
    show_default=True,
    metavar="SECONDS",
    help="How long to wait for the run to end (0: only ask).",
)
@pass_options
def cancel_run(options: Options, run_id: str, wait_s: float) -> None:
    """Cancel a running run, from any terminal or machine that shares its store.

    The run's own process sees the request within about a second and cancels as
    Ctrl-C does: running steps stop, nothing half-written is kept, and the run
    is recorded as cancelled. RUN_ID is a run's id or any unique prefix of it.
    """
    from assetflow.services import running
    from assetflow.store.records import RunStatus

    record = running.cancel(options.load(), run_id, wait_s=wait_s)
    short = record.run_id[:8]
    if record.status is RunStatus.RUNNING:
        waited = f" after {wait_s:g} s" if wait_s else ""
        click.echo(
            f"Asked run {short} to cancel; it is still running{waited}. Its process stops "
            f"it at its next heartbeat (`assetflow runs show {short}` follows it)."
        )
    else:
        click.echo(f"Run {short} ended: {record.status.value}.")


@cli.command()
@click.argument("run_id")
@click.option(
    "--asset", metavar="ASSET", help="Only this asset's output.", shell_complete=complete_asset
)
@click.option(
    "--partition",
    metavar="KEY",
    help="Only this partition's output.",
    shell_complete=complete_partition,
)
@pass_options
def logs(options: Options, run_id: str, asset: str | None, partition: str | None) -> None:
    """Show what each step of a run wrote: stdout, stderr and `context.log` records.

    RUN_ID is a run's id or any unique prefix of it (`assetflow runs` lists them).
    """
    from assetflow.services import history
    from assetflow.views.text import step_logs_text

    found = history.logs(options.load(), run_id, asset=asset, partition=partition)
    click.echo(step_logs_text(found.logs))


@cli.command()
@click.argument("asset", shell_complete=complete_asset)
@click.option("--limit", "-n", default=20, show_default=True, help="How many to show.")
@click.option(
    "--partition",
    metavar="KEY",
    help="Only this partition's materializations.",
    shell_complete=complete_partition,
)
@pass_options
def history(options: Options, asset: str, limit: int, partition: str | None) -> None:
    """Show the materializations of ASSET, newest first."""
    from assetflow.services import history as histories
    from assetflow.views.text import history_table

    found = histories.history(options.load(), asset, partition=partition, limit=limit)
    click.echo(history_table(asset, found.materializations, found.checks))
