"""End to end: --fail-fast, --quiet and --json on materialize."""

from __future__ import annotations

import json

from click.testing import CliRunner

from assetflow.cli import cli

FAILING = """
    from assetflow import asset

    @asset
    def a_bad() -> dict:
        raise ValueError("x")

    @asset
    def b_bad() -> dict:
        raise ValueError("y")

    @asset
    def c_ok() -> dict:
        return {}
"""


def run(project, *args):
    return CliRunner().invoke(cli, ["--project", str(project), "materialize", *args])


def test_fail_fast_starts_nothing_after_the_first_failure(make_project):
    # One worker: with more, steps already running when a_bad fails still finish.
    result = run(make_project(FAILING), "--fail-fast", "--workers", "1")
    assert result.exit_code == 1
    assert "a_bad  failed" in result.output
    assert "b_bad  skipped: not started: --fail-fast stopped the run after a failure" in (
        result.output
    )
    assert "raised ValueError: y" not in result.output
    assert "2 blocked, 1 failed" in result.output


def test_without_fail_fast_everything_independent_runs(make_project):
    result = run(make_project(FAILING))
    assert "2 failed, 1 materialized" in result.output


def test_json_prints_one_event_per_line(make_project):
    result = run(make_project(FAILING), "--json")
    assert result.exit_code == 1
    events = [json.loads(line) for line in result.output.splitlines()]
    assert [e["event"] for e in events] == [
        "run_started",
        "step_finished",
        "step_finished",
        "step_finished",
        "run_finished",
    ]
    assert events[0]["steps"] == 3
    by_asset = {e["asset"]: e for e in events if e["event"] == "step_finished"}
    assert by_asset["c_ok"]["state"] == "materialized"
    assert "ValueError: x" in by_asset["a_bad"]["message"]
    assert events[-1]["status"] == "failed"
    assert events[-1]["counts"] == {"failed": 2, "materialized": 1}


def test_quiet_prints_only_failures_and_the_last_line(make_project):
    root = make_project(FAILING)
    result = run(root, "--quiet")
    assert "c_ok" not in result.output
    assert "raised ValueError: x" in result.output
    assert result.output.rstrip().splitlines()[-1].endswith("2 failed, 1 materialized.")
    both = run(root, "--quiet", "--json")
    assert both.exit_code == 2
    assert "either --quiet or --json" in both.output
