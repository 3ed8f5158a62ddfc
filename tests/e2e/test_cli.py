"""End to end: the CLI on a copy of the example project, and on small broken projects."""

from __future__ import annotations

import json
import os
import re
import sqlite3
import subprocess
import sys
import time

import pytest
from click.testing import CliRunner

from assetflow.cli import cli
from tests.e2e.processes import imported_by


def run(project, *args, env=None):
    runner = CliRunner()
    return runner.invoke(cli, ["--project", str(project), *args], env=env)


def test_materialize_everything_then_nothing_to_do(example_copy):
    result = run(example_copy, "materialize", "*")
    assert result.exit_code == 0, result.output
    for name in ("raw_records", "clean_records", "daily_totals", "top_customers", "summary_report"):
        assert name in result.output
    assert "raw_records[2026-03-01]" in result.output
    assert "succeeded" in result.output
    assert "88 materialized" in result.output  # 3 daily assets x 28 days, and 4 reports
    state = example_copy / ".assetflow"
    assert (state / "warehouse.duckdb").is_file()
    assert (state / "data" / "raw_records" / "partition=2026-03-01" / "part.parquet").is_file()
    assert (state / "data" / "summary_report.json").is_file()

    again = run(example_copy, "materialize", "*")
    assert again.exit_code == 0
    assert "Nothing to do: 7 assets (84 partitions) fresh." in again.output


def test_downstream_selection_reads_stored_inputs(example_copy):
    assert run(example_copy, "materialize").exit_code == 0
    result = run(example_copy, "materialize", "clean_records+", "--force")
    assert result.exit_code == 0, result.output
    assert "raw_records" not in result.output.split("\n", 1)[1]
    assert "60 materialized" in result.output  # clean and rolling x 28, and 4 reports


def test_never_materialized_input_says_to_add_plus(example_copy):
    result = run(example_copy, "materialize", "daily_totals")
    assert result.exit_code == 2
    assert "'daily_totals' reads 'clean_records[2026-03-01 .. 2026-03-28, 28 partitions]'" in (
        result.output
    )
    assert "which is not selected and was never materialized" in result.output
    assert "assetflow materialize '+daily_totals'" in result.output
    assert "Traceback" not in result.output


def test_lineage_formats(example_copy):
    text = run(example_copy, "lineage", "clean_records+")
    assert text.exit_code == 0
    lines = text.output.splitlines()
    assert lines[0].startswith("clean_records")
    assert any(line.startswith(("├── daily_totals", "└── daily_totals")) for line in lines)
    assert "raw_records" not in text.output
    mermaid = run(example_copy, "lineage", "*", "--format", "mermaid")
    assert "raw_records --> clean_records" in mermaid.output
    dot = run(example_copy, "lineage", "--format", "dot")
    assert '"clean_records" -> "daily_totals";' in dot.output
    document = json.loads(run(example_copy, "lineage", "--format", "json").output)
    assert {a["name"] for a in document["assets"]} >= {"raw_records", "summary_report"}


def test_list_shows_assets(example_copy):
    result = run(example_copy, "list", "group:reporting")
    assert result.exit_code == 0
    assert "daily_totals" in result.output
    assert "raw_records" not in result.output


def test_runs_and_history(example_copy):
    assert run(example_copy, "materialize").exit_code == 0
    runs = run(example_copy, "runs")
    assert runs.exit_code == 0
    assert "success" in runs.output
    assert "cli" in runs.output
    history = run(example_copy, "history", "clean_records")
    assert history.exit_code == 0
    assert "ROWS" in history.output
    unknown = run(example_copy, "history", "clean_record")
    assert unknown.exit_code == 2
    assert "Did you mean 'clean_records'" in unknown.output


def test_selection_errors(example_copy):
    syntax = run(example_copy, "materialize", "clean_records++")
    assert syntax.exit_code == 2
    assert "^" in syntax.output
    nothing = run(example_copy, "list", "clean_recrods")
    assert nothing.exit_code == 2
    assert "Did you mean 'clean_records'" in nothing.output


def test_failing_asset_skips_downstream_and_exits_1(make_project):
    root = make_project(
        """
        from assetflow import asset

        @asset
        def good() -> dict:
            return {"ok": 1}

        @asset
        def broken(good: dict) -> dict:
            return good["missing"]

        @asset
        def after(broken: dict) -> dict:
            return broken

        @asset
        def independent() -> list:
            return [1, 2]
        """
    )
    result = run(root, "materialize")
    assert result.exit_code == 1
    assert "KeyError: 'missing'" in result.output
    assert 'assets.py", line 10, in broken' in result.output
    assert "skipped: upstream failed: broken" in result.output
    assert "2 materialized" in result.output
    assert "assetflow/execution" not in result.output
    runs = run(root, "runs", "--status", "failed")
    assert "failed" in runs.output


def test_unstorable_value_says_what_is_supported(make_project):
    root = make_project(
        """
        from assetflow import asset

        @asset
        def odd():
            return {1, 2, 3}
        """
    )
    result = run(root, "materialize")
    assert result.exit_code == 1
    assert "set" in result.output
    assert "which assetflow cannot store" in result.output
    assert "Return a list instead" in result.output


def test_definition_error_exit_2_without_traceback_unless_debug(make_project):
    root = make_project(
        """
        from assetflow import asset

        @asset
        def a(b_typo):
            return 1

        @asset
        def b():
            return 1
        """
    )
    result = run(root, "list")
    assert result.exit_code == 2
    assert "has a parameter 'b_typo', but no asset is named 'b_typo'" in result.output
    assert "Traceback" not in result.output
    debug = CliRunner().invoke(cli, ["--debug", "--project", str(root), "list"])
    assert debug.exit_code == 2
    assert "Traceback" in debug.output


def test_no_project_found(tmp_path):
    env = {**os.environ, "ASSETFLOW_PROJECT": ""}
    done = subprocess.run(
        [sys.executable, "-m", "assetflow.cli", "list"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 2
    assert "no assetflow project found: looked in" in done.stderr
    assert "Traceback" not in done.stderr


def test_corrupt_metadata_file(example_copy):
    state = example_copy / ".assetflow"
    state.mkdir()
    (state / "metadata.sqlite").write_bytes(b"this is not a database" * 100)
    result = run(example_copy, "runs")
    assert result.exit_code == 1
    assert "metadata.sqlite" in result.output
    assert "Traceback" not in result.output


def test_state_dir_not_writable(make_project):
    root = make_project(
        "from assetflow import asset\n\n@asset\ndef a() -> dict:\n    return {}\n",
        config='[tool.assetflow]\nmodules = ["assets"]\nstate_dir = "blocker/state"\n',
    )
    (root / "blocker").write_text("a file where a directory should be")
    result = run(root, "materialize")
    assert result.exit_code == 1
    assert "is not writable" in result.output
    assert "state_dir" in result.output


def test_run_records_metadata(example_copy):
    assert run(example_copy, "materialize").exit_code == 0
    db = sqlite3.connect(example_copy / ".assetflow" / "metadata.sqlite")
    tables = {row[0] for row in db.execute("select name from sqlite_master where type='table'")}
    assert "schema_version" in tables
    db.close()


def test_help_is_fast_and_imports_no_heavy_library():
    started = time.perf_counter()
    done, heavy = imported_by(["--help"], ("pandas", "pyarrow", "duckdb", "networkx"))
    elapsed = time.perf_counter() - started
    assert done.returncode == 0, done.stderr
    assert not heavy, heavy
    assert "materialize" in done.stdout
    assert elapsed < 2.0  # generous for a loaded CI machine; bench/ measures the real figure


def test_a_run_of_plain_assets_imports_no_checks_policies_diffs_or_lineage(tmp_path):
    # Start-up dominates small runs: what a project does not use stays unimported.
    (tmp_path / "assetflow.toml").write_text('modules = ["assets"]\n')
    (tmp_path / "assets.py").write_text(
        "from assetflow import asset\n\n\n@asset\ndef a() -> dict:\n    return {'n': 1}\n\n\n"
        "@asset\ndef b(a: dict) -> dict:\n    return {'n': a['n'] + 1}\n"
    )
    unused = (
        *("assetflow.checks", "assetflow.freshness", "assetflow.policies", "difflib"),
        *("assetflow.typecheck.frames", "assetflow.typecheck.columns"),
        "assetflow.openlineage.settings",
    )
    done, imported = imported_by(["--project", str(tmp_path), "materialize"], unused)
    assert done.returncode == 0, done.stderr
    assert "2 materialized" in done.stdout
    assert imported == [], done.stdout


def test_version():
    result = CliRunner().invoke(cli, ["--version"])
    assert result.exit_code == 0
    assert "assetflow" in result.output


@pytest.mark.skipif(os.name != "posix", reason="console script path")
def test_console_script_runs_the_example(example_copy):
    done = subprocess.run(
        ["assetflow", "--project", str(example_copy), "materialize", "*"],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    assert "succeeded" in done.stdout


def test_plan_status_why_and_force_on_the_example(example_copy):
    assert run(example_copy, "materialize").exit_code == 0
    cleaning = example_copy / "cleaning.py"
    cleaning.write_text(
        cleaning.read_text().replace(
            "return emails.str.strip().str.lower()", "return emails.str.lower().str.strip()"
        )
    )
    plan = json.loads(run(example_copy, "plan", "--json").output)
    assert plan["version"] == 1
    first = plan["steps"][0]
    assert (first["asset"], first["partition"], first["status"]) == (
        "clean_records",
        "2026-03-01",
        "stale",
    )
    assert first["reasons"][0]["text"] == "code changed: helper cleaning.normalise_emails changed"
    later = [s for s in plan["steps"] if s["asset"] != "clean_records"]
    assert {s["status"] for s in later} == {"waiting"}

    status = json.loads(run(example_copy, "status", "--json").output)
    states = {(a["asset"], a["state"]) for a in status["assets"]}
    assert ("clean_records", "stale") in states
    assert ("raw_records", "fresh") in states
    text = run(example_copy, "status", "clean_records").output
    assert "2026-03-01..2026-03-28 stale (28)" in text

    why = run(example_copy, "why", "daily_totals")
    assert "-    return emails.str.strip().str.lower()" in why.output
    one = run(example_copy, "why", "clean_records", "--partition", "2026-03-05")
    assert "'clean_records[2026-03-05]' is stale" in one.output

    result = run(example_copy, "materialize")
    assert "skipped: inputs unchanged" in result.output
    assert "Nothing to do" in run(example_copy, "materialize").output
    forced = run(example_copy, "materialize", "daily_totals", "--force")
    assert "1 materialized" in forced.output


def test_partition_options_end_to_end(example_copy):
    one = run(example_copy, "materialize", "+clean_records", "--partition", "2026-03-05")
    assert one.exit_code == 0, one.output
    assert "2 materialized" in one.output
    backfill = run(
        example_copy, "plan", "+clean_records", "--from", "2026-03-04", "--to", "2026-03-06"
    )
    assert backfill.exit_code == 0, backfill.output
    assert "Plan for '+clean_records' (2026-03-04..2026-03-06): 4 stale" in backfill.output
    assert re.search(
        r"raw_records\[2026-03-04, 2026-03-06\]\s+stale\s+never materialized", backfill.output
    )
    assert "Fresh (will not run): raw_records[2026-03-05], clean_records[2026-03-05]" in (
        backfill.output
    )
    missing = run(
        example_copy, "materialize", "clean_records", "--from", "2026-03-04", "--to", "2026-03-06"
    )
    assert missing.exit_code == 2
    assert (
        "'clean_records[2026-03-04, 2026-03-06]' reads 'raw_records[2026-03-04, 2026-03-06]'"
        in (missing.output)
    )
    status = run(example_copy, "status", "raw_records")
    assert "2026-03-05 fresh" in status.output
    history = run(example_copy, "history", "clean_records", "--partition", "2026-03-05")
    assert "PARTITION" in history.output
    assert "2026-03-05" in history.output


def test_partition_errors(example_copy):
    wrong = run(example_copy, "materialize", "--partition", "2026-02-30")
    assert wrong.exit_code == 2
    assert "2026-02-30" in wrong.output
    outside = run(example_copy, "plan", "--partition", "2026-04-15")
    assert outside.exit_code == 2
    assert "Did you mean '2026-03-28'" in outside.output
    reversed_range = run(example_copy, "plan", "--from", "2026-03-10", "--to", "2026-03-01")
    assert reversed_range.exit_code == 2
    assert "is reversed" in reversed_range.output
    unpartitioned = run(example_copy, "plan", "daily_totals", "--partition", "2026-03-01")
    assert unpartitioned.exit_code == 2
    assert "none of the selected assets is partitioned" in unpartitioned.output
    both = run(example_copy, "plan", "--partition", "2026-03-01", "--from", "2026-03-01")
    assert both.exit_code == 2
    assert "either --partition or --from/--to" in both.output
    history = run(example_copy, "history", "daily_totals", "--partition", "2026-03-01")
    assert history.exit_code == 2
    assert "is not partitioned" in history.output


def test_why_unknown_asset_suggests(example_copy):
    result = run(example_copy, "why", "daily_total")
    assert result.exit_code == 2
    assert "Did you mean 'daily_totals'" in result.output
