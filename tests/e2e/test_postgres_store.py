"""End to end: the example project with its metadata store in PostgreSQL (`store_env`):
`store migrate`, a full `materialize`, then nothing to do; the history is in the database."""

from __future__ import annotations

from pathlib import Path

import psycopg
from click.testing import CliRunner, Result

from assetflow.cli import cli

STORE_ENV = "ASSETFLOW_STORE"


def run(project: Path, url: str, *args: str) -> Result:
    return CliRunner().invoke(cli, ["--project", str(project), *args], env={STORE_ENV: url})


def use_store_env(project: Path) -> None:
    config = project / "pyproject.toml"
    text = config.read_text()
    config.write_text(
        text.replace("[tool.assetflow]\n", f'[tool.assetflow]\nstore_env = "{STORE_ENV}"\n', 1)
    )


def test_the_example_project_on_a_postgresql_store(example_copy: Path, postgres_url: str) -> None:
    use_store_env(example_copy)
    unmigrated = run(example_copy, postgres_url, "materialize", "*")
    assert unmigrated.exit_code == 1
    assert "has no assetflow schema yet: run `assetflow store migrate`" in unmigrated.output

    migrated = run(example_copy, postgres_url, "store", "migrate")
    assert migrated.exit_code == 0, migrated.output
    assert migrated.output.startswith("Created the schema of postgresql://assetflow:***@")

    result = run(example_copy, postgres_url, "materialize", "*")
    assert result.exit_code == 0, result.output
    assert "succeeded" in result.output
    assert "88 materialized" in result.output  # 3 daily assets x 28 days, and 4 reports
    assert not (example_copy / ".assetflow" / "metadata.sqlite").exists()

    again = run(example_copy, postgres_url, "materialize", "*")
    assert again.exit_code == 0, again.output
    assert "Nothing to do: 7 assets (84 partitions) fresh." in again.output

    with psycopg.connect(postgres_url) as connection:
        counted = connection.execute(
            "SELECT (SELECT count(*) FROM materializations), (SELECT count(*) FROM runs), "
            "(SELECT count(*) FROM leases)"
        ).fetchone()
    assert counted == (88, 2, 0)
    runs = run(example_copy, postgres_url, "runs")
    assert runs.exit_code == 0, runs.output
    assert runs.output.count("success") == 2
    assert "88 ok" in runs.output
