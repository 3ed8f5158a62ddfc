"""The commands about what happened: runs, runs show, runs cancel, logs and history."""

from __future__ import annotations

import click

from assetflow.cli.base import Options, cli, pass_options
from assetflow.cli.complete import complete_asset, complete_partition

#: The statuses a run may end with, as `--status` takes them.
RUN_STATUSES = ("running", "success", "failed", "cancelled", "crashed")

json_option = click.option(
    "--json", "as_json", is_flag=True, help="Print JSON (a versioned layout: docs/cli.md)."
)


@cli.group(invoke_without_command=True)
@click.option(
    "--limit", "-n", default=20, show_default=True, help="How many runs to show (1 or more)."
)
@click.option(
    "--status",
    "statuses",
    multiple=True,
    type=click.Choice(RUN_STATUSES),
    help="Only runs that ended so (repeatable).",
)
@click.option(
    "--trigger",
    "triggers",
    multiple=True,
    metavar="TRIGGER",
    help="Only runs started so: cli, api, check, schedule (repeatable).",
)
@click.option(
    "--asset",
    metavar="ASSET",
    help="Only runs that built or checked this asset.",
    shell_complete=complete_asset,
)
@click.option(
    "--partition",
    metavar="KEY",
    help="Only runs that built or checked this partition.",
    shell_complete=complete_partition,
)
@click.option(
    "--since",
    metavar="WHEN",
    help="Only runs started at or after WHEN: 2026-03-03 or 2026-03-03T09:30 (UTC unless "
    "it ends with an offset such as +01:00).",
)
@click.option(
    "--until",
    metavar="WHEN",
    help="Only runs started at or before WHEN (a date: until the end of that day).",
)
@click.option(
    "--before",
    metavar="RUN_ID",
    help="The next page: only runs listed after this one (the last run id shown).",
)
@json_option
@pass_options
def runs(
    options: Options,
    limit: int,
    statuses: tuple[str, ...],
    triggers: tuple[str, ...],
    asset: str | None,
    partition: str | None,
    since: str | None,
    until: str | None,
    before: str | None,
    as_json: bool,
) -> None:
    """List recent runs, newest first; `runs show RUN_ID` shows one, step by step.

    Filters combine: `assetflow runs --asset loaded_records --partition 2026-03-03
    --status failed --since 2026-03-01`. Dates and times are UTC. A run left
    `running` by a process that is gone (killed, machine restarted) is marked
    `crashed` first.
    """
    if click.get_current_context().invoked_subcommand is not None:
        return
    from assetflow.services import history
    from assetflow.views.json import dumps, runs_document
    from assetflow.views.text import runs_table

    found = history.runs(
        options.load(),
        limit=limit,
        status=statuses,
        trigger=triggers,
        asset=asset,
        partition=partition,
        since=since,
        until=until,
        before=before,
    )
    if as_json:
        click.echo(dumps(runs_document(found)))
        return
    filtered = any((statuses, triggers, asset, partition, since, until, before))
    if not found.runs and filtered:
        click.echo("No runs match these filters.")
        return
    click.echo(runs_table(found.runs, found.counts))
    if found.next_before is not None:
        click.echo(
            f"\nMore runs follow: add --before {found.next_before[:8]} for the next {limit}."
        )


@runs.command("show")
@click.argument("run_id")
@json_option
@pass_options
def show_run(options: Options, run_id: str, as_json: bool) -> None:
    """Show one run: each step's state, attempt, duration and message, then its errors.

    RUN_ID is a run's id or any unique prefix of it (`assetflow runs` lists them).
    """
    from assetflow.clock import SystemClock
    from assetflow.services import history
    from assetflow.views.json import dumps, run_document
    from assetflow.views.text import run_detail

    clock = SystemClock()
    now = clock.now()
    detail = history.run(options.load(), run_id, clock=clock)
    click.echo(dumps(run_document(detail)) if as_json else run_detail(detail, now))


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
@json_option
@pass_options
def logs(
    options: Options, run_id: str, asset: str | None, partition: str | None, as_json: bool
) -> None:
    """Show what each step of a run wrote: stdout, stderr and `context.log` records.

    RUN_ID is a run's id or any unique prefix of it (`assetflow runs` lists them).
    """
    from assetflow.services import history
    from assetflow.views.json import dumps, logs_document
    from assetflow.views.text import step_logs_text

    found = history.logs(options.load(), run_id, asset=asset, partition=partition)
    click.echo(dumps(logs_document(found)) if as_json else step_logs_text(found.logs))


@cli.command()
@click.argument("asset", shell_complete=complete_asset)
@click.option("--limit", "-n", default=20, show_default=True, help="How many to show (1 or more).")
@click.option(
    "--partition",
    metavar="KEY",
    help="Only this partition's history.",
    shell_complete=complete_partition,
)
@click.option(
    "--all",
    "every",
    is_flag=True,
    help="Every attempt, not only materializations: failed, skipped, cancelled, retried.",
)
@json_option
@pass_options
def history(
    options: Options,
    asset: str,
    limit: int,
    partition: str | None,
    every: bool,
    as_json: bool,
) -> None:
    """Show the materializations of ASSET, newest first (`--all`: every attempt)."""
    from assetflow.services import history as histories
    from assetflow.views.json import dumps, history_document
    from assetflow.views.text import attempts_table, history_table

    found = histories.history(options.load(), asset, partition=partition, limit=limit, all=every)
    if as_json:
        click.echo(dumps(history_document(found)))
    elif found.attempts is not None:
        click.echo(attempts_table(asset, found.attempts))
    else:
        click.echo(history_table(asset, found.materializations, found.checks))
