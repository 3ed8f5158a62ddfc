"""The `assetflow` command: parse arguments, call the services, print the result.

One module per family of commands (``assets``, ``partitions``, ``runs``, ``show``,
``automation``, ``health``, ``store``);
``base`` holds the group, its global options and how errors end a command. Everything beyond click
is imported inside the commands, so `assetflow --help` answers without loading
pandas, pyarrow, duckdb or networkx.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import sys
from typing import NoReturn

import click

from assetflow.cli import alerts as _alerts  # noqa: F401  (registers its commands)
from assetflow.cli import assets as _assets  # noqa: F401  (registers its commands)
from assetflow.cli import automation as _automation  # noqa: F401  (registers its commands)
from assetflow.cli import health as _health  # noqa: F401  (registers its command)
from assetflow.cli import openlineage as _openlineage  # noqa: F401  (registers its commands)
from assetflow.cli import partitions as _partitions  # noqa: F401  (registers its commands)
from assetflow.cli import runs as _runs  # noqa: F401  (registers its commands)
from assetflow.cli import show as _show  # noqa: F401  (registers its command)
from assetflow.cli import store as _store  # noqa: F401  (registers its commands)
from assetflow.cli import ui as _ui  # noqa: F401  (registers its command)
from assetflow.cli.base import _pause_gc, cli
from assetflow.errors import EXIT_FAILED, EXIT_OK

__all__ = ["cli", "invoke", "main"]


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
