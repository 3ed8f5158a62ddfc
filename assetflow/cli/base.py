"""The `assetflow` command's root: the group, its global options, and how errors end a command.

Everything beyond click is imported inside the commands, so `assetflow --help`
answers without loading pandas, pyarrow, duckdb or networkx.
"""

from __future__ import annotations

import contextlib
import gc
import os
import sys
import traceback
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, NoReturn

import click

from assetflow.cli.complete import complete_partition
from assetflow.errors import EXIT_FAILED, EXIT_INTERRUPTED, EXIT_OK, AssetflowError

if TYPE_CHECKING:
    from assetflow.project import Project


@dataclass
class Options:
    """The global options, passed to every command through click's context."""

    project_dir: str | None
    debug: bool

    def load(self) -> Project:
        from assetflow.api import load
        from assetflow.services.planning import with_stored_keys

        project = load(self.project_dir)
        _resume_gc()
        context = click.get_current_context(silent=True)
        if project.location.config.openlineage:
            from assetflow.openlineage.setup import crash_lineage
            from assetflow.services.stores import watch_crashes

            # A run killed outright gets its ABORT events from the next command's crash sweep.
            watch_crashes(crash_lineage)
        if context is not None and project.location.config.alerts:
            from assetflow.cli.alerts import deliver_pending

            # Whatever the command, what is due in the alert outbox goes out as it ends.
            context.call_on_close(lambda: deliver_pending(project))
        # The keys of dynamic partitions, for what the command shows (a plan binds its own).
        return with_stored_keys(project)


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
            with _notes_on_stderr():
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


@contextlib.contextmanager
def _notes_on_stderr() -> Iterator[None]:
    """Print assetflow's own warnings (a read-only state directory) as one `Note:`
    line on standard error; other warnings go where Python sends them."""
    import warnings

    from assetflow.services.stores import ReadOnlyStoreWarning

    shown = warnings.showwarning

    def show(message: Any, category: type[Warning], *args: Any, **kwargs: Any) -> None:
        if issubclass(category, ReadOnlyStoreWarning):
            click.secho(f"Note: {message}", fg="yellow", err=True)
        else:
            shown(message, category, *args, **kwargs)

    with warnings.catch_warnings():
        warnings.showwarning = show
        # Each opening of a read-only store says so, however often a process opens one.
        warnings.simplefilter("always", ReadOnlyStoreWarning)
        yield


def _silence_stdout() -> None:
    """Send further output to nowhere, so a closed pipe cannot fail the exit either."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())


def echo_line(text: str) -> None:
    """click.echo for progress lines: if the reader closes the pipe (`| head`), the run
    goes on, silently, rather than stopping half-way."""
    try:
        click.echo(text)
    except BrokenPipeError:
        _silence_stdout()


def _fail(ctx: click.Context, error: BaseException, code: int, internal: bool = False) -> NoReturn:
    options = ctx.find_object(Options)
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
    ctx.obj = Options(project_dir, debug)
    if debug:
        import logging

        logging.basicConfig(level=logging.DEBUG, format="%(levelname)s %(name)s: %(message)s")


pass_options = click.make_pass_decorator(Options)


def selection_options(fn: Any) -> Any:
    """SELECTION (default: every asset) and --exclude, both completing asset names."""
    from assetflow.cli.complete import complete_selection

    fn = click.option(
        "--exclude",
        metavar="SELECTION",
        help="Leave these assets out.",
        shell_complete=complete_selection,
    )(fn)
    return click.argument("selection", default="*", shell_complete=complete_selection)(fn)


def partition_options(fn: Any) -> Any:
    """--partition, --from and --to: which partitions of partitioned assets."""
    fn = click.option(
        "--to",
        "last",
        metavar="KEY",
        help="The last partition of a range (included; default with --from: the latest).",
        shell_complete=complete_partition,
    )(fn)
    fn = click.option(
        "--from",
        "first",
        metavar="KEY",
        help="The first partition of a range (included).",
        shell_complete=complete_partition,
    )(fn)
    return click.option(
        "--partition",
        metavar="KEY",
        help="One partition, e.g. 2026-03-01, or 'latest' for the last complete one. "
        "Default: every complete partition.",
        shell_complete=complete_partition,
    )(fn)


def redo_option(fn: Any) -> Any:
    """--redo: which not-fresh partitions of a range run."""
    return click.option(
        "--redo",
        multiple=True,
        type=click.Choice(["missing", "stale", "failed", "all"]),
        help="Which not-fresh partitions to run (repeatable; default: missing, failed "
        "and stale). 'all' reruns every partition in the range.",
    )(fn)


def run_request(
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
