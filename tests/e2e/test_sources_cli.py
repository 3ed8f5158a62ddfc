"""End to end: a file source of one file per partition, planned and run by the CLI."""

from __future__ import annotations

import textwrap

from click.testing import CliRunner

from assetflow.cli import cli

ASSETS = """
    from pathlib import Path

    import pandas as pd

    from assetflow import DailyPartitions, asset, file_source

    days = DailyPartitions(start="2026-03-01", end="2026-03-04")

    orders = file_source("orders", "data/orders/{partition}.csv", partitions=days)

    @asset(partitions=days)
    def clean_orders(orders: Path) -> pd.DataFrame:
        return pd.read_csv(orders)

    @asset(partitions=days)
    def order_totals(clean_orders: pd.DataFrame) -> dict:
        return {"amount": float(clean_orders["amount"].sum())}
"""


def run(project, *args):
    return CliRunner().invoke(cli, ["--project", str(project), *args])


def write_day(root, day, row):
    (root / "data" / "orders" / f"{day}.csv").write_text(f"id,amount\n{row}\n")


def test_a_new_days_file_stales_only_that_days_readers(tmp_path):
    root = tmp_path / "shop"
    (root / "data" / "orders").mkdir(parents=True)
    (root / "pyproject.toml").write_text('[tool.assetflow]\nmodules = ["assets"]\n')
    (root / "assets.py").write_text(textwrap.dedent(ASSETS))
    write_day(root, "2026-03-01", "1,2.5")
    write_day(root, "2026-03-02", "2,4.0")

    first = run(root, "materialize")
    assert first.exit_code == 1, first.output  # the third day has no file yet
    assert "no file at data/orders/2026-03-03.csv" in first.output
    assert "Failed partitions: clean_orders[2026-03-03]" in first.output
    assert "Traceback" not in first.output

    write_day(root, "2026-03-03", "3,1.0")
    plan = run(root, "plan")
    assert plan.exit_code == 0, plan.output
    assert "clean_orders[2026-03-03]" in plan.output
    assert "order_totals[2026-03-03]" in plan.output
    assert "Fresh (will not run): clean_orders[2026-03-01..2026-03-02 (2)]" in plan.output
    assert "2026-03-01]" not in plan.output.split("Fresh")[0]
    assert run(root, "materialize").exit_code == 0

    write_day(root, "2026-03-02", "2,5.0")  # an edited day stales that day only
    edited = run(root, "plan", "clean_orders")
    assert "1. clean_orders[2026-03-02]  stale    upstream changed: orders[2026-03-02]" in (
        edited.output
    )
    assert "2026-03-01]" not in edited.output.split("Fresh")[0]
    assert "2026-03-03]" not in edited.output.split("Fresh")[0]
