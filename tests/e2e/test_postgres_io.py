"""End to end: a project whose partitioned asset loads into PostgreSQL through named io
settings; a partition re-run with --force is replaced exactly, and `show` prints it."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import psycopg
import pytest
from click.testing import CliRunner, Result

import assetflow
from assetflow.cli import cli

ASSETS = """
    import pandas as pd

    from assetflow import StaticPartitions, asset

    days = StaticPartitions(["2026-03-01", "2026-03-02"])

    @asset(partitions=days)
    def clean_records(context) -> pd.DataFrame:
        day = context.partition_key
        return pd.DataFrame({"id": range(5), "day": [day] * 5, "amount": [1.5] * 5})

    @asset(partitions=days, io="warehouse")
    def loaded_records(clean_records: pd.DataFrame) -> pd.DataFrame:
        return clean_records.assign(total=clean_records["amount"].cumsum())

    @asset(partitions=days)
    def checked(loaded_records: pd.DataFrame) -> pd.DataFrame:
        return loaded_records.head(2)
"""

CONFIG = """
[tool.assetflow]
modules = ["assets"]

[tool.assetflow.io.warehouse]
kind = "postgres"
url_env = "WAREHOUSE_URL"
schema = "analytics"
"""


def run(project: Path, *args: str) -> Result:
    return CliRunner().invoke(cli, ["--project", str(project), *args])


@pytest.fixture
def project(
    make_project: Callable[..., Path], postgres_url: str, monkeypatch: pytest.MonkeyPatch
) -> Path:
    monkeypatch.setenv("WAREHOUSE_URL", postgres_url)
    return make_project(ASSETS, config=CONFIG)


def _count(url: str, partition: str) -> int:
    with psycopg.connect(url) as connection:
        row = connection.execute(
            "SELECT count(*) FROM analytics.loaded_records WHERE partition_key = %s",
            (partition,),
        ).fetchone()
    assert row is not None
    return int(row[0])


def test_a_partition_rerun_with_force_is_replaced_exactly(project: Path, postgres_url: str) -> None:
    first = run(project, "materialize", "*")
    assert first.exit_code == 0, first.output
    assert _count(postgres_url, "2026-03-01") == 5
    assert _count(postgres_url, "2026-03-02") == 5

    again = run(project, "materialize", "loaded_records", "--partition", "2026-03-01", "--force")
    assert again.exit_code == 0, again.output
    assert _count(postgres_url, "2026-03-01") == 5  # not 10: replaced, never appended
    assert _count(postgres_url, "2026-03-02") == 5

    shown = run(project, "show", "loaded_records", "--partition", "2026-03-01")
    assert shown.exit_code == 0, shown.output
    assert "total" in shown.output
    assert "7.5" in shown.output
    assert postgres_url.split(":")[2].split("@")[0] not in shown.output  # no password

    frame = assetflow.read_asset("loaded_records", partition="2026-03-02", project=project)
    assert list(frame.columns) == ["id", "day", "amount", "total"]
    assert frame["total"].tolist() == [1.5, 3.0, 4.5, 6.0, 7.5]
    assert str(frame["id"].dtype) == "int64"
    whole = assetflow.read_asset("loaded_records", project=project)
    assert len(whole) == 10


def test_an_asset_naming_an_unknown_io_suggests_the_named_one(
    make_project: Callable[..., Path],
) -> None:
    root = make_project(ASSETS.replace('io="warehouse"', 'io="warehose"'), config=CONFIG)
    result = run(root, "list")
    assert result.exit_code == 2, result.output
    assert "io='warehose', which is not a storage kind" in result.output
    assert "Did you mean 'warehouse'?" in result.output


def test_the_url_variable_unset_fails_the_step_and_says_which(
    make_project: Callable[..., Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("WAREHOUSE_URL", raising=False)
    root = make_project(ASSETS, config=CONFIG)
    result = run(root, "materialize", "+loaded_records", "--partition", "2026-03-01")
    assert result.exit_code == 1, result.output
    assert "environment variable WAREHOUSE_URL" in result.output
    assert "[tool.assetflow.io.warehouse]" in result.output
