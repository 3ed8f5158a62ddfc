"""End to end: --workers and --executor on materialize, and what they refuse."""

from __future__ import annotations

from click.testing import CliRunner

from assetflow.cli import cli
from assetflow.execution.executor import choose_executor
from assetflow.loader import load_project

TWO = """
    import os

    from assetflow import asset

    @asset
    def a() -> dict:
        return {"pid": os.getpid()}

    @asset
    def b() -> dict:
        return {"pid": os.getpid()}
"""


def run(project, *args):
    return CliRunner().invoke(cli, ["--project", str(project), "materialize", *args])


def test_the_cli_runs_steps_in_workers_by_default(make_project):
    root = make_project(TWO)
    result = run(root)
    assert result.exit_code == 0, result.output
    assert "2 materialized" in result.output


def test_the_configured_executor_and_workers_are_the_cli_defaults(make_project):
    root = make_project(
        TWO, config='[tool.assetflow]\nmodules = ["assets"]\nworkers = 3\nexecutor = "inprocess"\n'
    )
    project = load_project(root)
    assert choose_executor(project, project.location.config.executor, None) == ("inprocess", 1)
    assert choose_executor(project, "multiprocess", None) == ("multiprocess", 3)
    assert choose_executor(project, "multiprocess", 2) == ("multiprocess", 2)
    assert run(root).exit_code == 0


def test_the_api_runs_in_process_unless_asked(make_project):
    project = load_project(make_project(TWO))
    assert choose_executor(project, None, None) == ("inprocess", 1)
    assert choose_executor(project, None, 2) == ("multiprocess", 2)


def test_several_in_process_workers_are_refused_with_the_fix(make_project):
    result = run(make_project(TWO), "--executor", "inprocess", "--workers", "2")
    assert result.exit_code == 2
    assert "the in-process executor runs one step at a time, so --workers 2" in result.output
    assert "use --executor multiprocess" in result.output
    assert "Traceback" not in result.output


def test_bad_worker_counts_and_executors_are_usage_errors(make_project):
    root = make_project(TWO)
    zero = run(root, "--workers", "0")
    assert zero.exit_code == 2
    assert "0 is not in the range x>=1" in zero.output
    unknown = run(root, "--executor", "threads")
    assert unknown.exit_code == 2
    assert "'threads' is not one of 'multiprocess', 'inprocess', 'dask'" in unknown.output


def test_max_parallel_still_works_as_the_old_name_of_workers(make_project):
    result = run(make_project(TWO), "--max-parallel", "2")
    assert result.exit_code == 0, result.output


def test_an_unknown_configured_executor_names_the_setting_and_the_near_miss(make_project):
    root = make_project(
        TWO, config='[tool.assetflow]\nmodules = ["assets"]\nexecutor = "multiproces"\n'
    )
    result = run(root)
    assert result.exit_code == 2
    assert "pyproject.toml: `executor = 'multiproces'`: unknown executor" in result.output
    assert "Did you mean 'multiprocess'?" in result.output
    assert "register_executor" in result.output
    assert "Traceback" not in result.output
