"""`assetflow show ASSET`: the head of an asset's stored value, as a table, JSON or CSV."""

from __future__ import annotations

import click

from assetflow.cli.base import Options, cli, pass_options
from assetflow.cli.complete import complete_asset, complete_partition

#: How many rows `show` prints unless told (the services' default, said here so that
#: `assetflow show --help` does not import them).
_DEFAULT_LIMIT = 10


@cli.command()
@click.argument("asset", shell_complete=complete_asset)
@click.option(
    "--partition",
    metavar="KEY",
    help="The partition (default: the newest stored).",
    shell_complete=complete_partition,
)
@click.option(
    "--limit",
    "-n",
    type=int,
    default=_DEFAULT_LIMIT,
    show_default=True,
    metavar="N",
    help="How many rows (or items of a JSON list or dict) to show.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the rows as JSON.")
@click.option("--csv", "as_csv", is_flag=True, help="Print the rows as CSV, with a header.")
@pass_options
def show(
    options: Options,
    asset: str,
    partition: str | None,
    limit: int,
    as_json: bool,
    as_csv: bool,
) -> None:
    """Show the first rows of ASSET's stored value, reading only those.

    \b
    A partitioned asset shows its newest materialized partition, or --partition KEY.
      assetflow show daily_totals --limit 20
      assetflow show clean_records --partition 2026-03-03 --csv > day.csv
    """
    from assetflow.services import reading
    from assetflow.views.json import dumps, show_document
    from assetflow.views.show import head_csv, head_text

    if as_json and as_csv:
        raise click.UsageError("give either --json or --csv, not both.")
    found = reading.head(options.load(), asset, partition=partition, limit=limit)
    if as_json:
        click.echo(dumps(show_document(found)))
    elif as_csv:
        click.echo(head_csv(found), nl=False)
    else:
        click.echo(head_text(found))
