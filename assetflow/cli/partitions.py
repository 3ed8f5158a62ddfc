"""`assetflow partitions list/add/remove`: the keys of an asset's dynamic partitions."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from assetflow.cli.base import Options, cli, pass_options
from assetflow.cli.complete import complete_asset

if TYPE_CHECKING:
    from assetflow.services.partitions import KeyChange


@cli.group()
def partitions() -> None:
    """List, add and remove the keys of an asset's DynamicPartitions.

    \b
    The keys belong to the definition: every asset that shares it has them.
      assetflow partitions add parsed_upload 2026-03-07-batch-2
      assetflow partitions list parsed_upload --json
      assetflow partitions remove parsed_upload 2026-03-07-batch-2 --prune
    """


@partitions.command("list")
@click.argument("asset", shell_complete=complete_asset)
@click.option("--json", "as_json", is_flag=True, help="Print the keys as JSON.")
@pass_options
def list_keys(options: Options, asset: str, as_json: bool) -> None:
    """List ASSET's dynamic partition keys, in the order they were added."""
    from assetflow.services import partitions as service
    from assetflow.views.json import dumps

    project = options.load()
    definition = service.dynamic_definition(project, asset)
    keys = service.partition_keys(project, asset)
    if as_json:
        document = {"asset": asset, "definition": definition.name, "keys": keys}
        click.echo(dumps(document))
    elif keys:
        click.echo("\n".join(keys))
    else:
        click.echo(
            f"'{definition.name}' has no keys yet; add one with: "
            f"assetflow partitions add {asset} KEY",
            err=True,
        )


@partitions.command()
@click.argument("asset", shell_complete=complete_asset)
@click.argument("keys", nargs=-1, required=True, metavar="KEY...")
@pass_options
def add(options: Options, asset: str, keys: tuple[str, ...]) -> None:
    """Add KEYs to ASSET's dynamic partitions (a key already there is left as it is)."""
    from assetflow.services import partitions as service

    change = service.add_partitions(options.load(), asset, keys)
    if change.changed:
        click.echo(
            f"Added {_count(change.changed)} to '{change.definition}'{_of(change)}: "
            f"{service.describe_keys(change.changed)}."
        )
    if change.unchanged:
        click.echo(
            f"Already in '{change.definition}', nothing to add: "
            f"{service.describe_keys(change.unchanged)}."
        )
    if change.changed:
        click.echo(f"Materialize them with: assetflow materialize '+{asset}+'")


@partitions.command()
@click.argument("asset", shell_complete=complete_asset)
@click.argument("keys", nargs=-1, required=True, metavar="KEY...")
@click.option(
    "--prune",
    is_flag=True,
    help="Also delete the keys' stored outputs (their history stays).",
)
@pass_options
def remove(options: Options, asset: str, keys: tuple[str, ...], prune: bool) -> None:
    """Remove KEYs from ASSET's dynamic partitions; their stored outputs are kept unless
    --prune (a key that is not there is left as it is)."""
    from assetflow.services import partitions as service

    change = service.remove_partitions(options.load(), asset, keys, prune=prune)
    if change.changed:
        click.echo(
            f"Removed {_count(change.changed)} from '{change.definition}'{_of(change)}: "
            f"{service.describe_keys(change.changed)}."
        )
    if change.unchanged:
        click.echo(
            f"Not in '{change.definition}', nothing to remove: "
            f"{service.describe_keys(change.unchanged)}."
        )
    if change.kept:
        pruning = " ".join(_quoted(key) for key in dict.fromkeys(k for _, k in change.kept))
        click.echo(
            f"Kept {_outputs(len(change.kept))} of these keys. Delete them with: "
            f"assetflow partitions remove {asset} {pruning} --prune"
        )
    if change.pruned:
        click.echo(f"Deleted {_outputs(len(change.pruned))} of these keys; their history stays.")
    for name, key, why in change.not_pruned:
        click.echo(f"Kept the output of {name}[{key}]: {why}.", err=True)


def _count(keys: tuple[str, ...]) -> str:
    return f"{len(keys)} key" + ("" if len(keys) == 1 else "s")


def _outputs(count: int) -> str:
    return f"{count} stored output" + ("" if count == 1 else "s")


def _of(change: KeyChange) -> str:
    return f" (of {', '.join(change.assets)})"


def _quoted(key: str) -> str:
    import shlex

    return shlex.quote(key)
