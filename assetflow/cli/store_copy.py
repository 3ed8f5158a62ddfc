"""`assetflow store copy`: move a project's whole history into another, empty metadata store
(SQLite to PostgreSQL, or back), and say what was copied, table by table."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from assetflow.cli.base import Options, pass_options

if TYPE_CHECKING:
    from assetflow.store.copying import CopyResult

#: Width of the table-name column of the report (the longest name is incident_members).
_NAME_WIDTH = 18
#: Width of each count column.
_COUNT_WIDTH = 8


@click.command("copy")
@click.option(
    "--to",
    "to_url",
    metavar="URL",
    required=True,
    help="The empty store to copy into: postgresql://user@host/db or sqlite:path/file.sqlite.",
)
@click.option(
    "--from",
    "from_url",
    metavar="URL",
    help="The store to copy from (default: the project's own store).",
)
@pass_options
def copy_command(options: Options, to_url: str, from_url: str | None) -> None:
    """Copy every record of the project's metadata store into another, empty one.

    Runs, events, outputs, checks, logs, code, ticks, incidents and alerts move
    with their ids, in one transaction on the target: a copy that fails half-way
    leaves the target empty. Each table's rows are counted in both stores before
    the copy commits. A PostgreSQL target needs its schema first:

        assetflow store migrate --url postgresql://app@db.internal/assetflow
        assetflow store copy --to postgresql://app@db.internal/assetflow

    Then point `store` (or `store_env`) in [tool.assetflow] at the new store.
    Passwords are never printed.
    """
    from assetflow.services.stores import copy_history

    project = options.load()
    result, source_shown, target_shown = copy_history(project, to_url, from_url=from_url)
    for line in report_lines(result, source_shown, target_shown):
        click.echo(line)


def report_lines(result: CopyResult, source_shown: str, target_shown: str) -> list[str]:
    """What `store copy` prints: each table's rows in the source and the target, then a
    summary line."""
    lines = [f"{'table':<{_NAME_WIDTH}} {'source':>{_COUNT_WIDTH}} {'target':>{_COUNT_WIDTH}}"]
    lines += [
        f"{table:<{_NAME_WIDTH}} {source:>{_COUNT_WIDTH}} {target:>{_COUNT_WIDTH}}"
        for table, (source, target) in result.counts.items()
    ]
    rows = "row" if result.total == 1 else "rows"
    lines.append(
        f"Copied {result.total} {rows} of history from {source_shown} to {target_shown}; "
        "every table's count matches."
    )
    return lines
