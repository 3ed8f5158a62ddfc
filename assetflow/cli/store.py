"""`assetflow store migrate/info/copy`: the metadata store's own chores."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from assetflow.cli.base import Options, cli, pass_options
from assetflow.cli.store_copy import copy_command

if TYPE_CHECKING:
    from pathlib import Path

    from assetflow.services.stores import StoreInfo

_URL_HELP = "The store (default: the project's, from `store` or `store_env` in [tool.assetflow])."


@cli.group()
def store() -> None:
    """Create or upgrade the metadata store's schema, describe it, copy its history.

    \b
    A PostgreSQL store needs its schema made once, before any other command uses it:
      assetflow store migrate --url postgresql://app@db.internal/assetflow
      assetflow store info --json
      assetflow store copy --to postgresql://app@db.internal/assetflow
    Passwords are never printed.
    """


def _target(options: Options, url: str | None) -> tuple[str, Path | None]:
    """The URL to work on and the directory relative sqlite paths start from."""
    from assetflow.project import find_project
    from assetflow.services.stores import store_url_of

    location = find_project(options.project_dir) if url is None else None
    return store_url_of(location, url)


@store.command()
@click.option("--url", metavar="URL", help=_URL_HELP)
@click.option(
    "--wait",
    is_flag=True,
    help="Wait until the processes using the store close it, rather than refuse.",
)
@pass_options
def migrate(options: Options, url: str | None, wait: bool) -> None:
    """Create the store's schema, or upgrade it to this assetflow's.

    Idempotent: a store already at this assetflow's version is left as it is. A
    PostgreSQL store is migrated in one transaction, and only while no other
    process has it open (--wait waits for them); a SQLite store is created or
    upgraded as any command would.
    """
    from assetflow.services.stores import migrate_store

    target, root = _target(options, url)
    click.echo(migrate_store(target, root, wait=wait).message)


@store.command()
@click.option("--url", metavar="URL", help=_URL_HELP)
@click.option("--json", "as_json", is_flag=True, help="Print the description as JSON.")
@pass_options
def info(options: Options, url: str | None, as_json: bool) -> None:
    """Show the store's backend, URL, schema version, size and rows per table."""
    from assetflow.services.stores import store_info

    target, root = _target(options, url)
    described = store_info(target, root)
    if as_json:
        from assetflow.views.json import dumps

        click.echo(
            dumps(
                {
                    "backend": described.backend,
                    "url": described.shown,
                    "schema_version": described.schema_version,
                    "latest_schema_version": described.latest_version,
                    "size_bytes": described.size_bytes,
                    "rows": described.rows,
                }
            )
        )
        return
    for line in info_lines(described):
        click.echo(line)


def info_lines(described: StoreInfo) -> list[str]:
    """What `store info` prints: one line per fact, then each table's rows."""
    if described.schema_version == 0:
        schema = "none yet (run `assetflow store migrate`)"
    elif described.schema_version == described.latest_version:
        schema = f"v{described.schema_version} (the newest this assetflow knows)"
    elif described.schema_version < described.latest_version:
        schema = (
            f"v{described.schema_version}; this assetflow knows v{described.latest_version} "
            "(run `assetflow store migrate`)"
        )
    else:
        schema = (
            f"v{described.schema_version}, newer than this assetflow's "
            f"v{described.latest_version} (upgrade assetflow)"
        )
    lines = [
        f"backend  {described.backend}",
        f"url      {described.shown}",
        f"schema   {schema}",
        f"size     {_size(described.size_bytes)}",
    ]
    if described.rows:
        width = max(len(table) for table in described.rows)
        lines.append("rows")
        lines += [f"  {table:<{width}} {count:>10}" for table, count in described.rows.items()]
    return lines


def _size(size_bytes: int) -> str:
    size = float(size_bytes)
    for unit in ("bytes", "KiB", "MiB", "GiB"):
        if size < 1024 or unit == "GiB":
            return f"{size_bytes} bytes" if unit == "bytes" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{size_bytes} bytes"  # pragma: no cover - the loop always returns


store.add_command(copy_command)
