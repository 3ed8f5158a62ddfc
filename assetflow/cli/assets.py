"""The commands about assets: list, lineage, materialize, plan, status, why and check."""

from __future__ import annotations

import os
import sys
from typing import TYPE_CHECKING, Any

import click

from assetflow.cli.alerts import deliver_after, no_alerts_option, run_listeners
from assetflow.cli.base import (
    Options,
    cli,
    echo_line,
    partition_options,
    pass_options,
    redo_option,
    run_request,
    selection_options,
)
from assetflow.cli.complete import complete_asset, complete_partition
from assetflow.cli.openlineage import lineage_listeners, warn_unsent
from assetflow.errors import EXIT_FAILED
from assetflow.execution.executor import executor_names

if TYPE_CHECKING:
    from assetflow.project import Project


@cli.command("list")
@selection_options
@click.option("--json", "as_json", is_flag=True, help="Print the assets as JSON.")
@pass_options
def list_assets(options: Options, selection: str, exclude: str | None, as_json: bool) -> None:
    """List assets with their group, storage kind, tags and description."""
    from assetflow.services.planning import select
    from assetflow.views.json import assets_document, dumps
    from assetflow.views.text import asset_table

    project = options.load()
    names = select(project, selection, exclude)
    if as_json:
        click.echo(dumps(assets_document(project.graph, names)))
    else:
        click.echo(asset_table(project.graph, names))


@cli.command()
@selection_options
@click.option(
    "--format",
    "output_format",
    type=click.Choice(["text", "mermaid", "dot", "json"]),
    default="text",
    show_default=True,
    help="text: an indented tree; mermaid/dot: for diagrams; json: for tools.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the graph as JSON (--format json).")
@pass_options
def lineage(
    options: Options, selection: str, exclude: str | None, output_format: str, as_json: bool
) -> None:
    """Show the lineage graph of the selected assets."""
    from assetflow.services.planning import select
    from assetflow.views.text import render_lineage

    if as_json and output_format not in ("text", "json"):
        raise click.UsageError(f"give either --json or --format {output_format}, not both.")
    project = options.load()
    names = select(project, selection, exclude)
    click.echo(render_lineage(project.graph, names, "json" if as_json else output_format))


@cli.command()
@selection_options
@click.option("--force", is_flag=True, help="Rebuild every selected asset, stale or not.")
@partition_options
@redo_option
@click.option(
    "--workers",
    "-w",
    type=click.IntRange(min=1),
    default=None,
    metavar="N",
    help="How many steps may run at once [default: `workers` in the configuration, "
    "else the number of cores].",
)
@click.option(
    "--executor",
    type=click.Choice(executor_names()),
    default=None,
    help="multiprocess: steps run in worker processes; inprocess: one at a time in this "
    "process, for debugging with pdb; dask: steps run on a Dask cluster (--dask-address) "
    "[default: `executor` in the configuration, else multiprocess].",
)
@click.option(
    "--dask-address",
    default=None,
    metavar="URL",
    help="With --executor dask: the Dask scheduler to run steps on (tcp://host:8786) "
    "[default: `address` in [tool.assetflow.dask], else a local cluster for the run, "
    "sized by --workers].",
)
@click.option("--max-parallel", type=click.IntRange(min=1), default=None, hidden=True)
@click.option("--newest-first", is_flag=True, help="Start the newest partitions first.")
@click.option("--fail-fast", is_flag=True, help="After the first failure, start no new step.")
@click.option("--quiet", "-q", is_flag=True, help="Print only failures and the final line.")
@click.option(
    "--json", "as_json", is_flag=True, help="Print one JSON object per event, for scripts."
)
@no_alerts_option
@pass_options
def materialize(
    options: Options,
    selection: str,
    exclude: str | None,
    force: bool,
    partition: str | None,
    first: str | None,
    last: str | None,
    redo: tuple[str, ...],
    workers: int | None,
    executor: str | None,
    dask_address: str | None,
    max_parallel: int | None,
    newest_first: bool,
    fail_fast: bool,
    quiet: bool,
    as_json: bool,
    no_alerts: bool,
) -> None:
    """Materialize the stale assets of SELECTION (default: all), in dependency order.

    \b
    Partitioned assets: every complete partition by default, or
      --partition 2026-03-01 | --partition latest | --from 2026-03-01 --to 2026-03-31
    Only missing or stale partitions run; `assetflow plan` with the same
    options is the dry run.

    \b
    Ctrl-C cancels the run: running steps stop, nothing half-written is kept,
    and the run is recorded as cancelled (exit code 130). Press it twice to
    exit at once.
    """
    from assetflow.execution.executor import choose_executor
    from assetflow.execution.results import RunCancelled
    from assetflow.services import running

    project = options.load()
    if quiet and as_json:
        raise click.UsageError("give either --quiet or --json, not both.")
    if dask_address is not None:
        project = _on_dask_cluster(project, executor, dask_address)
        executor = "dask"
    request = run_request(
        selection,
        exclude,
        partition,
        first,
        last,
        force=force,
        redo=redo or None,
        executor=executor or project.location.config.executor,
        workers=workers if workers is not None else max_parallel,
        newest_first=newest_first,
        fail_fast=fail_fast,
    )
    # The executor and worker count are resolved here too: the live display shows them.
    # Without --executor the name is the configuration's: an unknown one says so.
    setting = f"{project.location.config_file.name}: `executor = {request.executor!r}`"
    executor, workers_used = choose_executor(
        project, request.executor, request.workers, given_in="" if executor else setting
    )
    request = request.with_changes(executor=executor, workers=workers_used)
    setup, alerting = run_listeners(project, no_alerts=no_alerts)
    lineage = lineage_listeners(project)
    reporter = _reporter(project, quiet=quiet, as_json=as_json, workers=workers_used)
    try:
        result = running.materialize(project, request, listeners=[reporter, *alerting, *lineage])
    except RunCancelled as cancelled:
        sys.exit(cancelled.exit_code)
    finally:
        stop = getattr(reporter, "stop", None)
        if stop is not None:
            stop()  # a live status line must not stay on screen after an error
        deliver_after(project, setup)
        warn_unsent(lineage)
    if not result.success:
        sys.exit(EXIT_FAILED)


def _on_dask_cluster(project: Project, executor: str | None, address: str) -> Project:
    """The project, its Dask scheduler's address set to `address` (--dask-address)."""
    import dataclasses

    if executor not in (None, "dask"):
        raise click.UsageError(
            f"--dask-address applies to --executor dask, not --executor {executor}."
        )
    location = project.location
    config = dataclasses.replace(
        location.config, dask=dataclasses.replace(location.config.dask, address=address)
    )
    return dataclasses.replace(project, location=dataclasses.replace(location, config=config))


def _reporter(project: Project, *, quiet: bool, as_json: bool, workers: int) -> Any:
    """JSON lines for --json; a live display on a terminal; plain lines otherwise."""
    from assetflow.views.listeners import ConsoleReporter, JsonReporter

    if as_json:
        return JsonReporter(echo_line)
    if not quiet and _is_terminal():
        from assetflow.views.progress import LiveReporter

        return LiveReporter(sys.stdout, project.graph, workers=workers)
    return ConsoleReporter(echo_line, project.graph, quiet=quiet)


def _is_terminal() -> bool:
    """Whether stdout is an interactive terminal that understands cursor movement."""
    stream = sys.stdout
    return (
        hasattr(stream, "isatty")
        and stream.isatty()
        and os.environ.get("TERM", "") != "dumb"
        and "CI" not in os.environ
    )


@cli.command()
@selection_options
@click.option("--force", is_flag=True, help="Plan as if every selected asset were stale.")
@partition_options
@redo_option
@click.option("--json", "as_json", is_flag=True, help="Print the plan as JSON.")
@pass_options
def plan(
    options: Options,
    selection: str,
    exclude: str | None,
    force: bool,
    partition: str | None,
    first: str | None,
    last: str | None,
    redo: tuple[str, ...],
    as_json: bool,
) -> None:
    """Show what `materialize` would run, in order, and why, without running it.

    Takes the same options as materialize: this is the dry run of a backfill.
    """
    from assetflow.api import plan as make
    from assetflow.planner.explain import plan_text
    from assetflow.services.freshness import late
    from assetflow.views.json import dumps, plan_document
    from assetflow.views.text import late_lines

    project = options.load()
    request = run_request(
        selection, exclude, partition, first, last, force=force, redo=redo or None
    )
    result = make(project=project, request=request)
    names = {step.asset for step in result.steps} | {v.asset for v in result.fresh}
    overdue = late(project, names, now=result.created_at)
    if as_json:
        click.echo(dumps(plan_document(result, overdue)))
        return
    click.echo(
        "\n".join([plan_text(result, project.graph), *late_lines(overdue, result.created_at)])
    )


@cli.command()
@selection_options
@partition_options
@click.option("--json", "as_json", is_flag=True, help="Print the states as JSON.")
@pass_options
def status(
    options: Options,
    selection: str,
    exclude: str | None,
    partition: str | None,
    first: str | None,
    last: str | None,
    as_json: bool,
) -> None:
    """Show every selected asset's state (fresh, stale, waiting, missing, damaged or failed),
    why, and how its last attempt ended.

    Partitioned assets show their partitions as ranges, e.g.
    2026-01-01..2026-03-14 fresh (73) | 2026-03-15 failed.
    """
    from assetflow.services import history
    from assetflow.views.json import dumps, status_document
    from assetflow.views.text import status_table

    project = options.load()
    request = run_request(selection, exclude, partition, first, last)
    states = history.status(project, request)
    click.echo(dumps(status_document(states)) if as_json else status_table(states, project.graph))


@cli.command()
@click.argument("asset", shell_complete=complete_asset)
@click.option(
    "--partition",
    metavar="KEY",
    help="The partition to explain.",
    shell_complete=complete_partition,
)
@click.option("--json", "as_json", is_flag=True, help="Print the explanation as JSON.")
@pass_options
def why(options: Options, asset: str, partition: str | None, as_json: bool) -> None:
    """Explain why ASSET is fresh, stale or waiting, down to the root cause."""
    from assetflow.services import history
    from assetflow.views.json import dumps, why_document
    from assetflow.views.why import why_text

    explanation = history.why(options.load(), asset, partition=partition)
    click.echo(dumps(why_document(explanation)) if as_json else why_text(explanation))


@cli.command("check")
@selection_options
@partition_options
@click.option("--json", "as_json", is_flag=True, help="Print the check run as JSON.")
@no_alerts_option
@pass_options
def check_assets(
    options: Options,
    selection: str,
    exclude: str | None,
    partition: str | None,
    first: str | None,
    last: str | None,
    as_json: bool,
    no_alerts: bool,
) -> None:
    """Run the checks of SELECTION against what is stored, without rebuilding anything.

    Exits 1 when a blocking check fails.
    """
    from assetflow.services import running
    from assetflow.views.json import checks_document, dumps
    from assetflow.views.text import checks_table

    project = options.load()
    request = run_request(selection, exclude, partition, first, last, trigger="check")
    setup, alerting = run_listeners(project, no_alerts=no_alerts)
    lineage = lineage_listeners(project)
    try:
        done = running.check(project, request, listeners=[*alerting, *lineage])
    finally:
        deliver_after(project, setup)
        warn_unsent(lineage)
    click.echo(
        dumps(checks_document(done)) if as_json else checks_table(done.results, project.graph)
    )
    if done.has_blocking_failure:
        sys.exit(EXIT_FAILED)
