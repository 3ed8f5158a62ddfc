"""Finding a project, reading its config, importing its modules."""

from __future__ import annotations

import pytest

from assetflow.errors import DefinitionError, ProjectError
from assetflow.loader import load_project
from assetflow.project import PROJECT_ENV, find_project

TWO_ASSETS = """
    from assetflow import asset

    @asset
    def first() -> dict:
        return {"n": 1}

    @asset
    def second(first: dict) -> dict:
        return {"n": first["n"] + 1}
"""


def test_loads_assets_from_configured_modules(make_project):
    root = make_project(TWO_ASSETS)
    project = load_project(root)
    assert project.graph.names == {"first", "second"}
    assert project.state_dir == (root / ".assetflow").resolve()


def test_assets_spread_over_several_modules(make_project):
    root = make_project(
        "from assetflow import asset\n\n@asset\ndef a() -> int:\n    return 1\n",
        config='[tool.assetflow]\nmodules = ["assets", "more"]\n',
        extra_files={
            "more.py": """
                from assetflow import asset
                from assets import a  # re-imported: still one asset

                @asset
                def b(a: int) -> int:
                    return a + 1
            """
        },
    )
    assert load_project(root).graph.parents("b") == ("a",)


def test_assetflow_toml_and_state_dir(make_project):
    root = make_project(TWO_ASSETS, config="")
    (root / "pyproject.toml").unlink()
    (root / "assetflow.toml").write_text('modules = ["assets"]\nstate_dir = "state"\n')
    assert load_project(root).state_dir == (root / "state").resolve()


def test_found_from_cwd_parents_and_env(make_project, tmp_path):
    root = make_project(TWO_ASSETS)
    nested = root / "sub" / "dir"
    nested.mkdir(parents=True)
    assert find_project(cwd=nested, environ={}).root == root.resolve()
    assert find_project(environ={PROJECT_ENV: str(root)}, cwd=tmp_path).root == root.resolve()


def test_no_project_found_says_where_it_looked(tmp_path):
    with pytest.raises(ProjectError, match="no assetflow project found: looked in") as caught:
        find_project(cwd=tmp_path, environ={})
    assert str(tmp_path) in str(caught.value)
    assert "--project DIR" in str(caught.value)


def test_project_dir_that_is_not_a_project(tmp_path):
    with pytest.raises(ProjectError, match="is not an assetflow project"):
        find_project(tmp_path, environ={})
    with pytest.raises(ProjectError, match="does not exist"):
        find_project(tmp_path / "nope", environ={})


def test_unknown_config_key_suggests(make_project):
    root = make_project(
        TWO_ASSETS, config='[tool.assetflow]\nmodules = ["assets"]\nstat_dir = "x"\n'
    )
    with pytest.raises(
        ProjectError, match=r"stat_dir: not a setting assetflow knows\. Did you mean 'state_dir'"
    ):
        find_project(root)


def test_bad_toml_names_the_file(make_project):
    root = make_project(TWO_ASSETS, config="[tool.assetflow\n")
    with pytest.raises(
        ProjectError, match=r"cannot read the project configuration .*pyproject\.toml"
    ):
        find_project(root)


def test_module_that_fails_to_import_shows_user_error_and_line(make_project):
    root = make_project(
        """
        from assetflow import asset

        VALUE = 1 / 0
        """
    )
    with pytest.raises(
        DefinitionError, match=r"module 'assets' failed to import \(proj/assets.py:4\)"
    ) as caught:
        load_project(root)
    assert "ZeroDivisionError: division by zero" in str(caught.value)
    assert "VALUE = 1 / 0" in str(caught.value)


def test_syntax_error_in_module(make_project):
    root = make_project("def broken(:\n    pass\n")
    with pytest.raises(DefinitionError, match=r"failed to import \(proj/assets.py:1\)"):
        load_project(root)


def test_missing_module_suggests(make_project):
    root = make_project(TWO_ASSETS, config='[tool.assetflow]\nmodules = ["asets"]\n')
    with pytest.raises(
        DefinitionError, match=r"(?s)module 'asets'.*was not found.*Did you mean 'assets'"
    ):
        load_project(root)


def test_two_projects_with_same_module_names_load_independently(make_project):
    one = make_project(TWO_ASSETS, name="one")
    two = make_project(
        "from assetflow import asset\n\n@asset\ndef other() -> int:\n    return 1\n", name="two"
    )
    assert load_project(one).graph.names == {"first", "second"}
    assert load_project(two).graph.names == {"other"}
    assert load_project(one).graph.names == {"first", "second"}


def test_execution_settings_are_read_with_their_defaults(make_project):
    root = make_project(TWO_ASSETS)
    config = find_project(root, environ={}).config
    assert (config.workers, config.executor, config.pools) == (None, "multiprocess", {})
    tuned = make_project(
        TWO_ASSETS,
        name="tuned",
        config='[tool.assetflow]\nmodules = ["assets"]\nworkers = 4\nexecutor = "inprocess"\n'
        "[tool.assetflow.pools]\napi = 2\nwarehouse = 1\n",
    )
    config = find_project(tuned, environ={}).config
    assert (config.workers, config.executor) == (4, "inprocess")
    assert config.pools == {"api": 2, "warehouse": 1}


@pytest.mark.parametrize(
    ("setting", "message"),
    [
        ("workers = 0", "workers: must be 1 or more, not 0"),
        ("pools = { api = 0 }", "pools.api: must be 1 or more, not 0"),
        ('pools = { api = "two" }', "pools.api: must be a whole number, not 'two'"),
        ("duckdb_wait = -1", "duckdb_wait: must be 0 or more, not -1"),
    ],
)
def test_bad_execution_settings_say_which_and_why(make_project, setting, message):
    root = make_project(TWO_ASSETS, config=f'[tool.assetflow]\nmodules = ["assets"]\n{setting}\n')
    with pytest.raises(ProjectError) as caught:
        find_project(root, environ={})
    assert message in caught.value.format_message()


def test_duckdb_wait_sets_how_long_the_storage_kinds_wait(make_project):
    quick = make_project(
        TWO_ASSETS, config='[tool.assetflow]\nmodules = ["assets"]\nduckdb_wait = 2.5\n'
    )
    assert find_project(quick, environ={}).config.duckdb_wait == 2.5
    default = make_project(TWO_ASSETS, name="default")
    assert find_project(default, environ={}).config.duckdb_wait == 30.0


def test_the_default_duckdb_wait_is_the_storage_kinds_default():
    from assetflow.config import DEFAULT_DUCKDB_WAIT_S
    from assetflow.io.base import DEFAULT_LOCK_TIMEOUT_S

    assert DEFAULT_DUCKDB_WAIT_S == DEFAULT_LOCK_TIMEOUT_S
