"""`assetflow store copy` end to end: a project's SQLite history copied into a throwaway
PostgreSQL database; the report, the errors (no password, no traceback), and a
project pointed at the copy finding nothing to do."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

from click.testing import CliRunner, Result

import assetflow
from assetflow.cli import cli
from assetflow.services.stores import project_store_url
from assetflow.store.copying import TABLES
from tests.store.postgres.test_pg_copying import migrated
from tests.store.test_copying import with_history

ASSETS = """
    from assetflow import asset

    @asset
    def orders() -> dict:
        return {"orders": 3}

    @asset
    def totals(orders: dict) -> dict:
        return {"total": orders["orders"] * 2}
"""
INPROCESS = '[tool.assetflow]\nmodules = ["assets"]\nexecutor = "inprocess"\n'


def run(root: Path, *args: str, env: dict[str, str] | None = None) -> Result:
    return CliRunner().invoke(cli, ["--project", str(root), *args], env=env)


def shown(url: str) -> str:
    """``url`` as assetflow prints it: the password as ***."""
    password = urlsplit(url).password
    assert password
    return url.replace(f":{password}@", ":***@")


def test_copy_reports_every_table_and_a_summary(make_project, postgres_url: str) -> None:
    root = with_history(make_project)
    source = project_store_url(assetflow.load(root))
    result = run(root, "store", "copy", "--to", migrated(postgres_url))
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0] == "table                source   target"
    assert [line.split()[0] for line in lines[1:-1]] == list(TABLES)
    counted = {line.split()[0]: line.split()[1:] for line in lines[1:-1]}
    assert all(source == target for source, target in counted.values())
    assert counted["runs"] == ["2", "2"]
    assert counted["incidents"] == ["1", "1"]
    assert lines[1] == "runs                      2        2"
    total = sum(int(source) for source, _ in counted.values())
    assert lines[-1] == (
        f"Copied {total} rows of history from {source} to {shown(postgres_url)}; "
        "every table's count matches."
    )
    assert urlsplit(postgres_url).password not in result.output


def test_copy_into_a_store_with_history_fails_clearly(make_project, postgres_url: str) -> None:
    root = with_history(make_project)
    assert run(root, "store", "copy", "--to", migrated(postgres_url)).exit_code == 0
    result = run(root, "store", "copy", "--to", postgres_url)
    assert result.exit_code == 1
    assert result.output.startswith(
        f"Error: the target store {shown(postgres_url)} already holds history (2 runs, "
    )
    assert "a copy goes into an empty store only" in result.output
    assert "Traceback" not in result.output
    assert urlsplit(postgres_url).password not in result.output


def test_a_target_that_cannot_be_reached_fails_without_the_password(make_project) -> None:
    root = make_project(ASSETS, config=INPROCESS)
    url = "postgresql://assetflow:s3cret-pw@127.0.0.1:9/nowhere?connect_timeout=2"
    result = run(root, "store", "copy", "--to", url)
    assert result.exit_code == 1
    assert result.output.startswith("Error: cannot connect to the PostgreSQL metadata store")
    assert "s3cret-pw" not in result.output
    assert "Traceback" not in result.output


def test_a_target_without_the_schema_says_to_migrate(make_project, postgres_url: str) -> None:
    root = make_project(ASSETS, config=INPROCESS)
    result = run(root, "store", "copy", "--to", postgres_url)
    assert result.exit_code == 1
    assert "has no assetflow schema yet: run `assetflow store migrate`" in result.output
    assert urlsplit(postgres_url).password not in result.output


def test_a_bad_store_url_is_refused(make_project) -> None:
    root = make_project(ASSETS, config=INPROCESS)
    result = run(root, "store", "copy", "--to", "mysql://db/x")
    assert result.exit_code == 1
    assert result.output.startswith("Error: ")
    assert "Traceback" not in result.output
    assert run(root, "store", "copy").exit_code == 2  # --to is required


def test_after_copying_the_new_store_has_nothing_to_do(make_project, postgres_url: str) -> None:
    root = make_project(ASSETS, config=INPROCESS)
    assert run(root, "materialize").exit_code == 0
    copied = run(root, "store", "copy", "--to", migrated(postgres_url))
    assert copied.exit_code == 0, copied.output
    # The project now keeps its history in PostgreSQL, named by an environment variable.
    (root / "pyproject.toml").write_text(INPROCESS + 'store_env = "ASSETFLOW_TEST_STORE"\n')
    env = {"ASSETFLOW_TEST_STORE": postgres_url}
    result = run(root, "materialize", env=env)
    assert result.exit_code == 0, result.output
    assert "Nothing to do: 2 assets fresh." in result.output
    history = run(root, "runs", env=env)
    assert history.exit_code == 0, history.output
    # The run that built both assets came along with the copy.
    assert (
        len([line for line in history.output.splitlines() if "success  cli      2 ok" in line]) == 1
    )


def test_copy_back_from_postgresql_with_from(make_project, postgres_url: str) -> None:
    root = with_history(make_project)
    assert run(root, "store", "copy", "--to", migrated(postgres_url)).exit_code == 0
    result = run(root, "store", "copy", "--from", postgres_url, "--to", "sqlite:back.sqlite")
    assert result.exit_code == 0, result.output
    summary = result.output.splitlines()[-1]
    assert summary.startswith("Copied ")
    assert summary.endswith(
        f" rows of history from {shown(postgres_url)} to sqlite:back.sqlite; "
        "every table's count matches."
    )
    assert (root / "back.sqlite").is_file()
    assert urlsplit(postgres_url).password not in result.output
