"""End to end: the example project's optional PostgreSQL output, turned on as its
README says (list the `warehouse` module, set WAREHOUSE_URL), against a real server."""

from __future__ import annotations

from pathlib import Path

import psycopg
import pytest
from click.testing import CliRunner, Result

from assetflow.cli import cli

#: The example's clean orders, all days (example_project/README.md).
CLEAN_ORDERS = 4496
LISTED = 'modules = ["assets", "refunds"]'


def run(project: Path, *args: str) -> Result:
    return CliRunner().invoke(cli, ["--project", str(project), *args])


def _turn_on_the_warehouse(project: Path) -> None:
    config = project / "pyproject.toml"
    text = config.read_text()
    assert LISTED in text  # the README's sed line edits exactly this
    config.write_text(text.replace(LISTED, 'modules = ["assets", "refunds", "warehouse"]'))


def _counts(url: str) -> tuple[int, int]:
    with psycopg.connect(url) as connection:
        row = connection.execute(
            "SELECT count(*), count(*) FILTER (WHERE day = DATE '2026-03-15') "
            "FROM shop.loaded_orders"
        ).fetchone()
    assert row is not None
    return int(row[0]), int(row[1])


def test_the_example_leaves_the_warehouse_out_until_it_is_listed(example_copy: Path) -> None:
    listed = run(example_copy, "list")
    assert listed.exit_code == 0, listed.output
    assert "loaded_orders" not in listed.output


def test_the_example_loads_every_clean_order_once_and_a_rerun_replaces_its_day(
    example_copy: Path, postgres_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    _turn_on_the_warehouse(example_copy)
    monkeypatch.setenv("WAREHOUSE_URL", postgres_url)

    first = run(example_copy, "materialize", "+loaded_orders")
    assert first.exit_code == 0, first.output
    total, day = _counts(postgres_url)
    assert total == CLEAN_ORDERS
    assert day > 0

    again = run(
        example_copy, "materialize", "loaded_orders", "--partition", "2026-03-15", "--force"
    )
    assert again.exit_code == 0, again.output
    assert _counts(postgres_url) == (total, day)  # replaced, never appended

    shown = run(example_copy, "show", "loaded_orders", "--partition", "2026-03-15")
    assert shown.exit_code == 0, shown.output
    assert "customer_email" in shown.output
    assert postgres_url.split(":")[2].split("@")[0] not in shown.output  # no password


def test_the_listed_warehouse_without_its_url_fails_only_its_step(
    example_copy: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _turn_on_the_warehouse(example_copy)
    monkeypatch.delenv("WAREHOUSE_URL", raising=False)
    result = run(example_copy, "materialize", "+loaded_orders", "--partition", "2026-03-15")
    assert result.exit_code == 1, result.output
    assert "environment variable WAREHOUSE_URL" in result.output
    assert "✓ clean_records[2026-03-15]" in result.output
