"""Shell completion of asset names, selections and partition keys (click's `shell_complete=`).

Each function loads the project named on the command line being completed (or
found from the current directory) with its output silenced, and answers with
the candidates that start with what was typed. A completion must never break the
shell: a project that cannot be found or loaded, or anything else that goes
wrong, completes nothing rather than printing an error or a traceback.
"""

from __future__ import annotations

import contextlib
import io
import logging
import re
import warnings
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING

import click
from click.shell_completion import CompletionItem

if TYPE_CHECKING:
    from assetflow.project import Project

#: The selection methods, completed as `tag:` etc. (selection/syntax.py's METHODS,
#: written out so that completing a name needs no import of the selection parser).
_METHODS = ("tag", "group", "kind")
#: What may precede a name in one term of a selection: `@`, `+`, `2+` (graph operators).
_OPERATORS = re.compile(r"^(@|\d*\+)*")


def complete_asset(
    ctx: click.Context, param: click.Parameter, incomplete: str
) -> list[CompletionItem]:
    """The asset names that start with what was typed."""
    return _safely(lambda: _items(_names(ctx), incomplete))


def complete_selection(
    ctx: click.Context, param: click.Parameter, incomplete: str
) -> list[CompletionItem]:
    """One term of a selection: an asset name after its operators (`+clean_r` ->
    `+clean_records`), or a method and its values (`tag:` -> `tag:nightly`), after
    the terms already written and joined by commas."""
    return _safely(lambda: _selection_items(ctx, incomplete))


def complete_partition(
    ctx: click.Context, param: click.Parameter, incomplete: str
) -> list[CompletionItem]:
    """The partition keys of the asset (or selection) on the command line, else of every
    partitioned asset, and `latest`."""
    return _safely(lambda: _partition_items(ctx, incomplete))


def _safely(answer: Callable[[], list[CompletionItem]]) -> list[CompletionItem]:
    try:
        return answer()
    except (Exception, SystemExit):  # a completion never fails the shell
        logging.getLogger(__name__).debug("completion failed", exc_info=True)
        return []


def _project(ctx: click.Context) -> Project | None:
    """The project, loaded with everything it prints or warns kept from the terminal."""
    from assetflow.api import load

    project_dir = ctx.find_root().params.get("project_dir")
    with (
        contextlib.redirect_stdout(io.StringIO()),
        contextlib.redirect_stderr(io.StringIO()),
        warnings.catch_warnings(),
    ):
        warnings.simplefilter("ignore")
        logging.disable(logging.CRITICAL)
        try:
            return load(project_dir)
        finally:
            logging.disable(logging.NOTSET)


def _names(ctx: click.Context) -> list[str]:
    project = _project(ctx)
    return sorted(project.graph.names) if project is not None else []


def _items(candidates: Iterable[str], incomplete: str, prefix: str = "") -> list[CompletionItem]:
    return [
        CompletionItem(prefix + candidate)
        for candidate in sorted(set(candidates))
        if candidate.startswith(incomplete)
    ]


def _selection_items(ctx: click.Context, incomplete: str) -> list[CompletionItem]:
    # Only the last term is being written: keep what comes before it as it is.
    done, comma, term = incomplete.rpartition(",")
    done += comma
    operators = _OPERATORS.match(term)
    written = operators.group(0) if operators else ""
    term = term[len(written) :]
    project = _project(ctx)
    if project is None:
        return []
    method, colon, value = term.partition(":")
    if colon and method in _METHODS:
        values = {_method_value(project, method, name) for name in project.graph.names}
        flat = {item for found in values for item in found}
        return _items(flat, value, prefix=f"{done}{written}{method}:")
    candidates = [*project.graph.names, *(f"{name}:" for name in _METHODS)]
    return _items(candidates, term, prefix=done + written)


def _method_value(project: Project, method: str, name: str) -> tuple[str, ...]:
    spec = project.graph.spec(name)
    if method == "tag":
        return tuple(sorted(spec.tags))
    if method == "group":
        return (spec.group,)
    return (spec.kind,)


def _partition_items(ctx: click.Context, incomplete: str) -> list[CompletionItem]:
    from assetflow.clock import SystemClock
    from assetflow.partitions.dynamic import DynamicPartitions

    project = _project(ctx)
    if project is None:
        return []
    named = ctx.params.get("asset") or ctx.params.get("selection") or _first_word(ctx.args)
    names: Iterable[str] = project.graph.names
    if isinstance(named, str) and named in project.graph.names:
        names = [named]
    elif isinstance(named, str) and named != "*":
        with contextlib.suppress(Exception):  # an unfinished selection: every asset
            from assetflow.selection import select

            names = select(project.graph, named)
    graph = project.graph
    if any(isinstance(graph.spec(name).partitions, DynamicPartitions) for name in names):
        from assetflow.services.planning import with_stored_keys

        with contextlib.suppress(Exception):  # no store to read: no dynamic keys offered
            graph = with_stored_keys(project).graph
    definitions = []
    for name in sorted(names):
        definition = graph.spec(name).partitions
        if definition is not None and definition not in definitions:
            definitions.append(definition)
    now = SystemClock().now()
    keys = {
        key
        for definition in definitions
        if not (isinstance(definition, DynamicPartitions) and not definition.is_bound)
        for key in definition.keys(now)
    }
    if definitions:
        keys.add("latest")
    return _items(keys, incomplete)


def _first_word(args: list[str]) -> str | None:
    """The asset or selection argument when click left it unparsed: completing an
    option's value (`why x --partition <TAB>`) stops its parser before the arguments."""
    words = [arg for arg in args if not arg.startswith("-")]
    return words[0] if words else None
