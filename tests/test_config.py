"""The project configuration's reader: every setting's check, every problem at once."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from assetflow.config import (
    DEFAULT_STATE_DIR,
    DaskSettings,
    ProjectConfig,
    SchedulerSettings,
    read_config,
)
from assetflow.errors import ProjectError


def read(table: dict[str, Any]) -> ProjectConfig:
    return read_config(table, "[tool.assetflow]", "proj/pyproject.toml")


def problems(table: dict[str, Any]) -> list[str]:
    with pytest.raises(ProjectError) as caught:
        read(table)
    message = caught.value.format_message()
    assert message.startswith(
        "the project configuration in [tool.assetflow] of proj/pyproject.toml is invalid:\n"
    )
    assert "See docs/configuration.md." in message
    return [line.strip() for line in message.splitlines() if line.startswith("  ")]


def test_the_defaults_of_a_table_that_names_only_its_modules() -> None:
    config = read({"modules": "assets"})
    assert config.modules == ("assets",)
    assert (config.state_dir, config.workers, config.executor) == (
        DEFAULT_STATE_DIR,
        None,
        "multiprocess",
    )
    assert config.scheduler == SchedulerSettings()
    assert config.dask == DaskSettings()
    assert (config.pools, config.io, config.alerts, config.openlineage) == ({}, {}, {}, {})
    assert config.duckdb_wait == 30.0


def test_every_section_is_read_into_its_record() -> None:
    config = read(
        {
            "modules": ["a", "b"],
            "workers": 3,
            "pools": {"api": 2},
            "duckdb_wait": 0,
            "scheduler": {"on_stop": "finish", "lease_seconds": 5},
            "dask": {"address": "tcp://h:8786", "pool_resources": True},
            "io": {"archive": {"kind": "duckdb", "database": "old.duckdb", "wait": 1.5}},
            "schedules": {"nightly": {"cron": "0 3 * * *"}},
        }
    )
    assert config.modules == ("a", "b")
    assert (config.workers, config.pools, config.duckdb_wait) == (3, {"api": 2}, 0.0)
    assert config.scheduler.on_stop == "finish"
    assert config.scheduler.lease_seconds == 5.0
    assert isinstance(config.scheduler.lease_seconds, float)
    assert config.dask == DaskSettings(address="tcp://h:8786", pool_resources=True)
    assert config.io["archive"].kind == "duckdb"
    assert config.io["archive"].options() == {"database": "old.duckdb", "wait": 1.5}
    assert config.schedules == {"nightly": {"cron": "0 3 * * *"}}


def test_every_problem_is_said_at_once_under_its_dotted_key() -> None:
    assert problems(
        {
            "modules": ["a"],
            "workers": True,
            "pools": {"api": "two"},
            "scheduler": {"on_stop": "later", "lease_secs": 3},
            "dask": {"address": ""},
            "stat_dir": "x",
        }
    ) == [
        "workers: must be a whole number, not True",
        "pools.api: must be a whole number, not 'two'",
        "scheduler.on_stop: must be 'cancel' or 'finish', not 'later'",
        "scheduler.lease_secs: not a setting assetflow knows. Did you mean 'lease_seconds'?",
        "dask.address: must not be empty",
        "stat_dir: not a setting assetflow knows. Did you mean 'state_dir'?",
    ]


@pytest.mark.parametrize(
    ("table", "line"),
    [
        ({}, 'modules: required, e.g. modules = ["assets"]'),
        ({"modules": [1]}, "modules: must be a list of non-empty strings; 1 is not one"),
        ({"modules": ["a"], "scheduler": 5}, "scheduler: must be a table, not 5"),
        ({"modules": ["a"], "alerts": {"ops": "x"}}, "alerts.ops: must be a table, not 'x'"),
        ({"modules": ["a"], "duckdb_wait": "1"}, "duckdb_wait: must be a number, not '1'"),
        (
            {
                "modules": ["a"],
                "io": {"w": {"kind": "postgres", "url_env": "X", "schema": "s" * 64}},
            },
            "io.w.schema: must be at most 63 characters long, not 64",
        ),
        (
            {"modules": ["a"], "store": "sqlite:x", "store_env": "URL"},
            "`store` and `store_env` are both set; set one: `store` for a URL written in the "
            "configuration, `store_env` for the name of an environment variable holding it",
        ),
    ],
)
def test_each_kind_of_problem_says_what_the_value_must_be(table: dict[str, Any], line: str) -> None:
    assert line in problems(table)


def test_a_password_in_a_url_is_never_quoted() -> None:
    lines = problems(
        {
            "modules": ["a"],
            "io": {"w": {"kind": "postgres", "url": "postgresql://u:secret@h/d", "url_env": "X"}},
        }
    )
    assert not any("secret" in line for line in lines)


#: TOML's values, as tomllib gives them (nested a little).
toml_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-5, 5)
    | st.floats(allow_nan=False)
    | st.text(max_size=5),
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.dictionaries(st.sampled_from(["kind", "url", "a", "on_stop", "x"]), inner, max_size=3)
    ),
    max_leaves=8,
)
keys = st.sampled_from([*ProjectConfig.__dataclass_fields__, "unknown", "stat_dir"])


@given(st.dictionaries(keys, toml_values, max_size=6))
def test_any_table_is_read_or_refused_with_a_project_error(table: dict[str, Any]) -> None:
    outcome: ProjectConfig | ProjectError
    try:
        outcome = read(table)
    except ProjectError as error:
        outcome = error
    if isinstance(outcome, ProjectError):
        assert "is invalid:\n  " in outcome.format_message()
    else:
        assert isinstance(outcome.modules, tuple)
        assert all(isinstance(name, str) and name for name in outcome.modules)
