"""End to end: `assetflow logs RUN_ID` shows what each step printed and logged."""

from __future__ import annotations

import sys

from click.testing import CliRunner

from assetflow.api import load, open_project_store
from assetflow.cli import cli

PROJECT = """
from assetflow import asset

@asset
def extract(context) -> dict:
    print("reading the source")
    context.log.info("read %d rows", 3)
    return {"rows": 3}

@asset
def report(extract: dict) -> dict:
    print("writing the report")
    return extract

@asset
def silent() -> dict:
    return {}
"""


def run(project, *args):
    return CliRunner().invoke(cli, ["--project", str(project), *args])


def newest_run_id(root) -> str:
    with open_project_store(load(root)) as store:
        return store.list_runs(limit=1)[0].run_id


def test_logs_shows_what_each_step_printed_and_logged(make_project):
    root = make_project(PROJECT)
    stdout_before = sys.stdout
    materialized = run(root, "materialize")
    assert materialized.exit_code == 0, materialized.output
    assert "reading the source" not in materialized.output  # captured, not printed
    assert sys.stdout is stdout_before
    shown = run(root, "logs", newest_run_id(root)[:8])
    assert shown.exit_code == 0, shown.output
    assert shown.output == (
        "== extract (attempt 1) ==\n"
        "reading the source\n"
        "INFO assetflow.asset.extract: read 3 rows\n"
        "\n"
        "== report (attempt 1) ==\n"
        "writing the report\n"
    )


def test_logs_filters_by_asset(make_project):
    root = make_project(PROJECT)
    assert run(root, "materialize").exit_code == 0
    run_id = newest_run_id(root)
    shown = run(root, "logs", run_id, "--asset", "report")
    assert shown.exit_code == 0, shown.output
    assert shown.output == "== report (attempt 1) ==\nwriting the report\n"
    silent = run(root, "logs", run_id, "--asset", "silent")
    assert silent.output == "no output was captured\n"


def test_logs_of_an_unknown_run_is_the_same_error_as_runs_show(make_project):
    root = make_project(PROJECT)
    assert run(root, "materialize").exit_code == 0
    logs = run(root, "logs", "nosuchrun")
    show = run(root, "runs", "show", "nosuchrun")
    assert logs.exit_code == show.exit_code == 2
    assert logs.output == show.output
    assert "nosuchrun" in logs.output
