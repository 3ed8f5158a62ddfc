"""Named io settings: `[tool.assetflow.io.NAME]` tables parsed with the project, checked
(did-you-mean for kinds and options, no clash with a built-in kind), and resolved to
the kind and options an asset's `io="NAME"` builds."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest

import assetflow
from assetflow.config import OPTIONS_BY_KIND
from assetflow.errors import ProjectError
from assetflow.execution.step import io_settings
from assetflow.io import io_manager
from assetflow.io.base import NamedIO
from assetflow.io.duckdbio import DuckDBIO
from assetflow.io.postgres import PostgresIO
from assetflow.io.registry import BUILTIN_KINDS
from assetflow.loader import load_project
from assetflow.project import find_project

ASSETS = """
    import pandas as pd
    from assetflow import asset

    @asset(io="archive")
    def orders() -> pd.DataFrame:
        return pd.DataFrame({"id": [1, 2]})
"""

BASE = '[tool.assetflow]\nmodules = ["assets"]\n'


def config(table: str) -> str:
    return BASE + "\n" + table


def test_named_settings_are_parsed_and_resolved(make_project: Callable[..., Path]) -> None:
    root = make_project(
        ASSETS,
        config=config(
            '[tool.assetflow.io.warehouse]\nkind = "postgres"\nurl_env = "WAREHOUSE_URL"\n'
            'schema = "analytics"\nstatement_timeout = 30\npool_size = 2\n\n'
            '[tool.assetflow.io.archive]\nkind = "duckdb"\ndatabase = "archive/old.duckdb"\n'
        ),
    )
    project = load_project(root)
    settings = io_settings(project)
    assert settings.named["warehouse"] == NamedIO(
        "postgres",
        {
            "url_env": "WAREHOUSE_URL",
            "schema": "analytics",
            "statement_timeout": 30,
            "pool_size": 2,
        },
    )
    warehouse = io_manager("warehouse", settings)
    assert isinstance(warehouse, PostgresIO)
    assert warehouse.settings.name == "warehouse"
    archive = io_manager("archive", settings)
    assert isinstance(archive, DuckDBIO)
    assert archive.settings.database == root / "archive" / "old.duckdb"


def test_a_second_duckdb_file_through_named_settings(make_project: Callable[..., Path]) -> None:
    table = '[tool.assetflow.io.archive]\nkind = "duckdb"\ndatabase = "old.duckdb"\n'
    root = make_project(ASSETS, config=config(table))
    assetflow.materialize("orders", project=root)
    assert (root / "old.duckdb").is_file()
    back = assetflow.read_asset("orders", project=root)
    pd.testing.assert_frame_equal(back, pd.DataFrame({"id": pd.array([1, 2], dtype="Int64")}))
    assert not assetflow.plan("orders", project=root).steps  # verified through its settings
    (root / "old.duckdb").unlink()
    steps = assetflow.plan("orders", project=root).steps
    assert [step.asset for step in steps] == ["orders"]
    assert "output missing" in str(steps[0])


@pytest.mark.parametrize(
    ("table", "message"),
    [
        (
            '[tool.assetflow.io.warehouse]\nkind = "postgres"\nurl_env = "X"\nshema = "a"\n',
            r"io\.warehouse: 'shema' is not an option of kind 'postgres'\. Did you mean "
            r"'schema'\? Besides `kind`, it takes: url, url_env, schema, statement_timeout, "
            r"pool_size",
        ),
        (
            '[tool.assetflow.io.warehouse]\nkind = "postgres"\n',
            r"io\.warehouse: set one of `url_env` \(the name of an environment variable",
        ),
        (
            '[tool.assetflow.io.warehouse]\nkind = "postgres"\nurl = "postgresql://u:pw@h/d"\n'
            'url_env = "X"\n',
            r"io\.warehouse: set one of `url_env`",
        ),
        (
            '[tool.assetflow.io.warehouse]\nkind = "postgres"\nurl_env = "X"\n'
            "statement_timeout = -1\n",
            r"io\.warehouse\.statement_timeout: must be greater than 0, not -1",
        ),
        (
            '[tool.assetflow.io.postgres]\nkind = "postgres"\nurl_env = "X"\n',
            r"\[tool\.assetflow\.io\.postgres\] is named as a built-in storage kind; a named "
            r"io needs a name of its own",
        ),
        (
            '[tool.assetflow.io.files]\nkind = "parquet"\ndatabase = "x"\n',
            r"io\.files: 'database' is not an option of kind 'parquet'\. +Besides `kind`, it "
            r"takes none",
        ),
        (
            '[tool.assetflow.io.files]\nurl = "x"\n',
            r"io\.files\.kind: required",
        ),
    ],
)
def test_bad_named_settings_say_what_and_how(
    make_project: Callable[..., Path], table: str, message: str
) -> None:
    root = make_project(ASSETS, config=config(table))
    with pytest.raises(ProjectError, match=message) as caught:
        find_project(root)
    assert "pw@" not in caught.value.format_message()


def test_an_unknown_kind_suggests_the_one_meant(make_project: Callable[..., Path]) -> None:
    root = make_project(
        ASSETS, config=config('[tool.assetflow.io.warehouse]\nkind = "postgress"\nurl_env = "X"\n')
    )
    with pytest.raises(
        ProjectError,
        match=r"io\.warehouse: kind 'postgress' is not a storage kind\. Did you mean 'postgres'\?",
    ) as caught:
        load_project(root)
    assert "The storage kinds are: parquet, duckdb, json, none, postgres" in str(
        caught.value.format_message()
    )


def test_the_configuration_knows_the_options_of_every_built_in_kind() -> None:
    assert set(OPTIONS_BY_KIND) == set(BUILTIN_KINDS)


def test_an_asset_may_name_a_named_io_but_not_an_unknown_one(
    make_project: Callable[..., Path],
) -> None:
    root = make_project(ASSETS, config=config('[tool.assetflow.io.archiv]\nkind = "duckdb"\n'))
    with pytest.raises(assetflow.DefinitionError, match=r"Did you mean 'archiv'\?"):
        load_project(root)
