"""The `assetflow` command: parse arguments, call the Python API, print the result.

Everything beyond click is imported inside the commands, so `assetflow --help`
answers without loading pandas, pyarrow, duckdb or networkx.
"""

from __future__ import annotations

import atexit
import contextlib
import gc
import os
import sys
import traceback
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, NoReturn

import click

from assetflow.errors import EXIT_FAILED, EXIT_INTERRUPTED, EXIT_OK, AssetflowError
from assetflow.execution.executor import executor_names

if TYPE_CHECKING:
    from assetflow.project import Project


@dataclass
class _Options:
    """The global options, passed to every command through click's context."""

    project_dir: str | None
    debug: bool

    def load(self) -> Project:
        from assetflow.api import load

        project = load(self.project_dir)
        _resume_gc()
        return project


#: Whether `main` paused the cyclic garbage collector for the process's start-up.
_gc_paused_for_start_up = False


def _pause_gc() -> None:
    """Pause the cyclic garbage collector while the process starts up.

    Start-up (importing networkx, pydantic and the project's modules, building the
    graph) makes hundreds of thousands of objects that live as long as the process
    and almost no cyclic garbage, yet the collector ran about 140 times over them:
    some 30 ms of a 0.35 s no-op `materialize` of 1,000 assets. `_resume_gc` ends the
    pause once the project is loaded.
    """
    global _gc_paused_for_start_up
    if gc.isenabled():
        gc.disable()
        _gc_paused_for_start_up = True


def _resume_gc() -> None:
    """End `_pause_gc`'s pause: what start-up made is frozen (later collections skip
    it, and forked workers share its memory pages rather than copying them when a
    collection touches them), then the collector runs again as usual."""
    global _gc_paused_for_start_up
    if _gc_paused_for_start_up:
        _gc_paused_for_start_up = False
        gc.freeze()
        gc.enable()


class _Group(click.Group):
    """Turns assetflow errors into a clear message and an exit code, not a traceback."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except AssetflowError as error:
            _fail(ctx, error, error.exit_code)
        except KeyboardInterrupt:
            click.echo("\nInterrupted.", err=True)
            sys.exit(EXIT_INTERRUPTED)
        except BrokenPipeError:
            # The reader of our output went away (`| head`): nothing more to say.
            _silence_stdout()
            sys.exit(EXIT_OK)
        except (click.exceptions.Exit, click.ClickException, click.Abort, SystemExit):
            raise
        except Exception as error:
            _fail(ctx, error, EXIT_FAILED, internal=True)


def _silence_stdout() -> None:
    """Send further output to nowhere, so a closed pipe cannot fail the exit either."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())


def _echo(text: str) -> None:
    """click.echo for progress lines: if the reader closes the pipe (`| head`), the run
    goes on, silently, rather than stopping half-way."""
    try:
        click.echo(text)
    except BrokenPipeError:
        _silence_stdout()


def _fail(ctx: click.Context, error: BaseException, code: int, internal: bool = False) -> NoReturn:
    options = ctx.find_object(_Options)
    if options is not None and options.debug:
        traceback.print_exception(error)
    if internal:
        message = (
            f"internal error: {type(error).__name__}: {error}\n\n"
            "This is a bug in assetflow. Run again with --debug for the traceback, "
            "and report it with that output."
        )
    else:
        message = error.format_message()  # type: ignore[attr-defined]
    click.secho(f"Error: {message}", fg="red", err=True)
    sys.exit(code)


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="assetflow", prog_name="assetflow")
@click.option(
    "--project",
    "-p",
    "project_dir",
    metavar="DIR",
    help="The project directory (default: $ASSETFLOW_PROJECT, else the current "
    "directory or its nearest parent with a [tool.assetflow] config).",
)
@click.option("--debug", is_flag=True, help="Show full tracebacks on errors.")
@click.pass_context
def cli(ctx: click.Context, project_dir: str | None, debug: bool) -> None:
    """assetflow: build data assets from typed Python functions, rebuilding only what is stale.

    \b
    Selections use dbt's grammar:
      clean_records+     clean_records and everything downstream of it
      +daily_totals      daily_totals and everything upstream of it
      tag:nightly,group:ingest   intersection;  'a b' is a union
    See docs/selection.md for the whole grammar.
    """
    ctx.obj = _Options(project_dir, debug)
    if debug:
        import logging

        logging.basicConfig(level=logging.DEBUG, format="%(levelname)s %(name)s: %(message)s")


_pass_options = click.make_pass_decorator(_Options)


def _partition_options(fn: Any) -> Any:
    """--partition, --from and --to: which partitions of partitioned assets."""
    fn = click.option(
        "--to",
        "last",
        metavar="KEY",
        help="The last partition of a range (included; default with --from: the latest).",
    )(fn)
    fn = click.option(
        "--from", "first", metavar="KEY", help="The first partition of a range (included)."
    )(fn)
    return click.option(
        "--partition",
        metavar="KEY",
        help="One partition, e.g. 2026-03-01, or 'latest' for the last complete one. "
        "Default: every complete partition.",
    )(fn)


def _redo_option(fn: Any) -> Any:
    """--redo: which not-fresh partitions of a range run."""
    return click.option(
        "--redo",
        multiple=True,
        type=click.Choice(["missing", "stale", "failed", "all"]),
        help="Which not-fresh partitions to run (repeatable; default: missing, failed "
        "and stale). 'all' reruns every partition in the range.",
    )(fn)


def _run_request(
    selection: str,
    exclude: str | None,
    partition: str | None,
    first: str | None,
    last: str | None,
    **options: Any,
) -> Any:
    """The RunRequest a command's options ask for (the trigger is "cli" unless given)."""
    from assetflow.request import RunRequest

    options.setdefault("trigger", "cli")
    partitions = _partitions(partition, first, last)
    return RunRequest.of(selection, exclude=exclude, partitions=partitions, **options)


def _partitions(partition: str | None, first: str | None, last: str | None) -> Any:
    """The PartitionRequest the options ask for, or None."""
    from assetflow.request import PartitionRequest

    if partition is not None and (first is not None or last is not None):
        raise click.UsageError("give either --partition or --from/--to, not both.")
    if partition is not None:
        return PartitionRequest.one(partition)
    return PartitionRequest.between(first, last)


@cli.command("list")
@click.argument("selection", default="*")
@click.option("--exclude", metavar="SELECTION", help="Leave these assets out.")
@_pass_options
def list_assets(options: _Options, selection: str, exclude: str | None) -> None:
    """List assets with their group, storage kind, tags and description."""
    from assetflow.services.planning import select
    from assetflow.views.text import asset_table

    project = options.load()
    names = select(project, selection, exclude)
    click.echo(asset_table(project.graph, names))


@cli.command()
@click.argument("selection", default="*")
@click.option("--exclude", metavar="SELECTION", help="Leave these assets out.")
@click.option(
    "--format",
    "output_format",
    type=click.Choice(["text", "mermaid", "dot", "json"]),
    default="text",
    show_default=True,
    help="text: an indented tree; mermaid/dot: for diagrams; json: for tools.",
)
@_pass_options
def lineage(options: _Options, selection: str, exclude: str | None, output_format: str) -> None:
    """Show the lineage graph of the selected assets."""
    from assetflow.services.planning import select
    from assetflow.views.text import render_lineage

    project = options.load()
    names = select(project, selection, exclude)
    click.echo(render_lineage(project.graph, names, output_format))


@cli.command()
@click.argument("selection", default="*")
@click.option("--exclude", metavar="SELECTION", help="Leave these assets out.")
@click.option("--force", is_flag=True, help="Rebuild every selected asset, stale or not.")
@_partition_options
@_redo_option
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
    "process, for debugging with pdb [default: `executor` in the configuration, else "
    "multiprocess].",
)
@click.option("--max-parallel", type=click.IntRange(min=1), default=None, hidden=True)
@click.option("--newest-first", is_flag=True, help="Start the newest partitions first.")
@click.option("--fail-fast", is_flag=True, help="After the first failure, start no new step.")
@click.option("--quiet", "-q", is_flag=True, help="Print only failures and the final line.")
@click.option(
    "--json", "as_json", is_flag=True, help="Print one JSON object per event, for scripts."
)
@_pass_options
def materialize(
    options: _Options,
    selection: str,
    exclude: str | None,
    force: bool,
    partition: str | None,
    first: str | None,
    last: str | None,
    redo: tuple[str, ...],
    workers: int | None,
    executor: str | None,
    max_parallel: int | None,
    newest_first: bool,
    fail_fast: bool,
    quiet: bool,
    as_json: bool,
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
    request = _run_request(
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
    reporter = _reporter(project, quiet=quiet, as_json=as_json, workers=workers_used)
    try:
        result = running.materialize(project, request, listeners=[reporter])
    except RunCancelled as cancelled:
        sys.exit(cancelled.exit_code)
    finally:
        stop = getattr(reporter, "stop", None)
        if stop is not None:
            stop()  # a live status line must not stay on screen after an error
    if not result.success:
        sys.exit(EXIT_FAILED)


def _reporter(project: Project, *, quiet: bool, as_json: bool, workers: int) -> Any:
    """JSON lines for --json; a live display on a terminal; plain lines otherwise."""
    from assetflow.views.listeners import ConsoleReporter, JsonReporter

    if as_json:
        return JsonReporter(_echo)
    if not quiet and _is_terminal():
        from assetflow.views.progress import LiveReporter

        return LiveReporter(sys.stdout, project.graph, workers=workers)
    return ConsoleReporter(_echo, project.graph, quiet=quiet)


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
@click.argument("selection", default="*")
@click.option("--exclude", metavar="SELECTION", help="Leave these assets out.")
@click.option("--force", is_flag=True, help="Plan as if every selected asset were stale.")
@_partition_options
@_redo_option
@click.option("--json", "as_json", is_flag=True, help="Print the plan as JSON.")
@_pass_options
def plan(
    options: _Options,
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
    from assetflow.views.json import dumps, plan_document

    project = options.load()
    request = _run_request(
        selection, exclude, partition, first, last, force=force, redo=redo or None
    )
    result = make(project=project, request=request)
    click.echo(dumps(plan_document(result)) if as_json else plan_text(result, project.graph))


@cli.command()
@click.argument("selection", default="*")
@click.option("--exclude", metavar="SELECTION", help="Leave these assets out.")
@_partition_options
@click.option("--json", "as_json", is_flag=True, help="Print the states as JSON.")
@_pass_options
def status(
    options: _Options,
    selection: str,
    exclude: str | None,
    partition: str | None,
    first: str | None,
    last: str | None,
    as_json: bool,
) -> None:
    """Show every selected asset's state: fresh, stale, waiting, missing or failed, and why.

    Partitioned assets show their partitions as ranges, e.g.
    2026-01-01..2026-03-14 fresh (73) | 2026-03-15 failed.
    """
    from assetflow.services import history
    from assetflow.views.json import dumps, status_document
    from assetflow.views.text import status_table

    project = options.load()
    request = _run_request(selection, exclude, partition, first, last)
    states = history.status(project, request)
    click.echo(dumps(status_document(states)) if as_json else status_table(states, project.graph))


@cli.command()
@click.argument("asset")
@click.option("--partition", metavar="KEY", help="The partition to explain.")
@_pass_options
def why(options: _Options, asset: str, partition: str | None) -> None:
    """Explain why ASSET is fresh, stale or waiting, down to the root cause."""
    from assetflow.services import history
    from assetflow.views.why import why_text

    click.echo(why_text(history.why(options.load(), asset, partition=partition)))


@cli.command("check")
@click.argument("selection", default="*")
@click.option("--exclude", metavar="SELECTION", help="Leave these assets out.")
@_partition_options
@_pass_options
def check_assets(
    options: _Options,
    selection: str,
    exclude: str | None,
    partition: str | None,
    first: str | None,
    last: str | None,
) -> None:
    """Run the checks of SELECTION against what is stored, without rebuilding anything.

    Exits 1 when a blocking check fails.
    """
    from assetflow.services import running
    from assetflow.views.text import checks_table

    project = options.load()
    request = _run_request(selection, exclude, partition, first, last, trigger="check")
    done = running.check(project, request)
    click.echo(checks_table(done.results, project.graph))
    if done.has_blocking_failure:
        sys.exit(EXIT_FAILED)


@cli.group(invoke_without_command=True)
@click.option("--limit", "-n", default=20, show_default=True, help="How many runs to show.")
@click.option(
    "--status",
    type=click.Choice(["running", "success", "failed", "cancelled", "crashed"]),
    help="Only runs that ended so.",
)
@_pass_options
def runs(options: _Options, limit: int, status: str | None) -> None:
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
@_pass_options
def show_run(options: _Options, run_id: str) -> None:
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
@_pass_options
def cancel_run(options: _Options, run_id: str, wait_s: float) -> None:
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
@click.option("--asset", metavar="ASSET", help="Only this asset's output.")
@click.option("--partition", metavar="KEY", help="Only this partition's output.")
@_pass_options
def logs(options: _Options, run_id: str, asset: str | None, partition: str | None) -> None:
    """Show what each step of a run wrote: stdout, stderr and `context.log` records.

    RUN_ID is a run's id or any unique prefix of it (`assetflow runs` lists them).
    """
    from assetflow.services import history
    from assetflow.views.text import step_logs_text

    found = history.logs(options.load(), run_id, asset=asset, partition=partition)
    click.echo(step_logs_text(found.logs))


@cli.command()
@click.argument("asset")
@click.option("--limit", "-n", default=20, show_default=True, help="How many to show.")
@click.option("--partition", metavar="KEY", help="Only this partition's materializations.")
@_pass_options
def history(options: _Options, asset: str, limit: int, partition: str | None) -> None:
    """Show the materializations of ASSET, newest first."""
    from assetflow.services import history as histories
    from assetflow.views.text import history_table

    found = histories.history(options.load(), asset, partition=partition, limit=limit)
    click.echo(history_table(asset, found.materializations, found.checks))


def invoke() -> int:
    """Run the command line in ``sys.argv`` and return its exit code; the process goes on
    (for a program that runs several commands, as tests do)."""
    try:
        cli(prog_name="assetflow")
    except click.exceptions.Exit as done:  # pragma: no cover - click handles this itself
        return done.exit_code
    except SystemExit as done:
        if done.code is None or isinstance(done.code, int):
            return done.code or 0
        click.echo(done.code, err=True)
        return EXIT_FAILED
    return EXIT_OK


def main() -> NoReturn:
    """The console script's entry point: run the command, then end the process at once.

    Tearing down every module of a process that loaded pandas and networkx takes
    longer than many commands themselves (about 75 ms). The output is flushed and
    the atexit handlers run (logging's, multiprocessing's, the user's) first; by
    then every store and file is closed. The cyclic garbage collector is paused
    until the project is loaded (see `_pause_gc`).
    """
    _pause_gc()
    code = invoke()
    for stream in (sys.stdout, sys.stderr):
        # A reader that went away (`| head`), or a closed stream: nothing more to say.
        with contextlib.suppress(OSError, ValueError):
            stream.flush()
    atexit._run_exitfuncs()
    os._exit(code)


if __name__ == "__main__":  # pragma: no cover
    main()
