"""End to end: the CLI on a copy of the example project, and on small broken projects."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import time

import pytest
from click.testing import CliRunner

from assetflow.cli import cli


def run(project, *args, env=None):
    runner = CliRunner()
    return runner.invoke(cli, ["--project", str(project), *args], env=env)


def test_materialize_everything_then_nothing_to_do(example_copy):
    result = run(example_copy, "materialize", "*")
    assert result.exit_code == 0, result.output
    for name in ("raw_records", "clean_records", "daily_totals", "top_customers", "summary_report"):
        assert name in result.output
    assert "succeeded" in result.output
    assert "5 materialized" in result.output
    assert (example_copy / ".assetflow" / "data" / "clean_records.parquet").is_file()
    assert (example_copy / ".assetflow" / "data" / "summary_report.json").is_file()

    again = run(example_copy, "materialize", "*")
    assert again.exit_code == 0
    assert "Nothing to do: 5 assets fresh." in again.output


def test_downstream_selection_reads_stored_inputs(example_copy):
    assert run(example_copy, "materialize").exit_code == 0
    result = run(example_copy, "materialize", "clean_records+", "--force")
    assert result.exit_code == 0, result.output
    assert "raw_records" not in result.output.split("\n", 1)[1]
    assert "4 materialized" in result.output


def test_never_materialized_input_says_to_add_plus(example_copy):
    result = run(example_copy, "materialize", "daily_totals")
    assert result.exit_code == 2
    assert "'daily_totals' reads 'clean_records', which is not selected" in result.output
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
    code = (
        "import sys; from assetflow.cli import main; sys.argv=['assetflow','--help'];\n"
        "try:\n    main()\nexcept SystemExit:\n    pass\n"
        "heavy = [m for m in ('pandas','pyarrow','duckdb','networkx') if m in sys.modules]\n"
        "assert not heavy, heavy"
    )
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    elapsed = time.perf_counter() - started
    assert done.returncode == 0, done.stderr
    assert "materialize" in done.stdout
    assert elapsed < 2.0  # generous for a loaded CI machine; bench/ measures the real figure


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
    assert (first["asset"], first["status"]) == ("clean_records", "stale")
    assert first["reasons"][0]["text"] == "code changed: helper cleaning.normalise_emails changed"
    assert {s["status"] for s in plan["steps"][1:]} == {"waiting"}

    status = json.loads(run(example_copy, "status", "--json").output)
    by_asset = {a["asset"]: a["state"] for a in status["assets"]}
    assert by_asset["clean_records"] == "stale"
    assert by_asset["raw_records"] == "fresh"

    why = run(example_copy, "why", "daily_totals")
    assert "-    return emails.str.strip().str.lower()" in why.output

    result = run(example_copy, "materialize")
    assert "skipped: inputs unchanged" in result.output
    assert "Nothing to do" in run(example_copy, "materialize").output
    forced = run(example_copy, "materialize", "daily_totals", "--force")
    assert "1 materialized" in forced.output


def test_why_unknown_asset_suggests(example_copy):
    result = run(example_copy, "why", "daily_total")
    assert result.exit_code == 2
    assert "Did you mean 'daily_totals'" in result.output
