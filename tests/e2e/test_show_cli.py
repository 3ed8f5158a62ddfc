"""End to end: `assetflow show`, and the JSON twins of list, lineage, why and check,
each parsed as a script would."""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys

import pytest
from click.testing import CliRunner

from assetflow.cli import cli

ASSETS = """
    import pandas as pd

    from assetflow import StaticPartitions, asset, not_null

    regions = StaticPartitions(["eu", "us"])

    @asset(partitions=regions, checks=[not_null("id")])
    def orders(context) -> pd.DataFrame:
        rows = 30 if context.partition_key == "eu" else 4
        frame = pd.DataFrame(
            {
                "id": range(rows),
                "amount": [1.5 * n for n in range(rows)],
                "note": ["a, \\"quoted\\" note"] + [None] * (rows - 1),
            }
        )
        return frame[frame["id"] % 2 == 0]  # filtered: its index is row labels, not data

    @asset(io="duckdb")
    def totals(orders: pd.DataFrame) -> pd.DataFrame:
        return orders.groupby("note", dropna=False, as_index=False)["amount"].sum()

    @asset
    def report(totals: pd.DataFrame) -> dict:
        return {f"key{n}": n for n in range(15)}

    @asset
    def later() -> list:
        return [1, 2]
"""


def run(project, *args):
    return CliRunner().invoke(cli, ["--project", str(project), *args])


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    import textwrap

    root = tmp_path_factory.mktemp("show") / "proj"
    root.mkdir()
    (root / "pyproject.toml").write_text('[tool.assetflow]\nmodules = ["assets"]\n')
    (root / "assets.py").write_text(textwrap.dedent(ASSETS))
    done = run(root, "materialize", "*", "--exclude", "later", "--executor", "inprocess")
    assert done.exit_code == 0, done.output
    return root


def test_show_prints_the_head_as_a_table(project):
    result = run(project, "show", "orders", "--partition", "eu", "--limit", "3")
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0].startswith("orders[eu]: parquet, materialized by run ")
    assert lines[2].split() == ["id", "amount", "note"]  # no __index_level_0__
    assert lines[3].split(maxsplit=2) == ["0", "0.0", 'a, "quoted" note']
    assert lines[4].split() == ["2", "3.0", "null"]
    assert lines[-1] == "Showing the first 3 of 15 rows (--limit N for more)."


def test_show_without_a_partition_shows_the_newest(project):
    result = run(project, "show", "orders")
    assert result.exit_code == 0, result.output
    assert result.output.startswith("orders[us]: parquet")
    assert "(the newest stored partition; --partition KEY shows another)" in result.output
    assert result.output.rstrip().endswith("2 rows.")


def test_show_json_is_one_versioned_document(project):
    result = run(project, "show", "orders", "--partition", "eu", "--json", "-n", "2")
    assert result.exit_code == 0, result.output
    document = json.loads(result.output)
    assert document["version"] == 1
    assert (document["asset"], document["partition"], document["kind"]) == (
        "orders",
        "eu",
        "parquet",
    )
    assert document["limit"] == 2
    assert document["total"] == 15
    assert [column["name"] for column in document["columns"]] == ["id", "amount", "note"]
    assert document["rows"] == [
        {"id": 0, "amount": 0.0, "note": 'a, "quoted" note'},
        {"id": 2, "amount": 3.0, "note": None},
    ]
    assert document["value"] is None
    assert len(document["run_id"]) == 32


def test_show_csv_quotes_as_csv_readers_expect(project):
    result = run(project, "show", "orders", "--partition", "eu", "--csv", "-n", "2")
    assert result.exit_code == 0, result.output
    rows = list(csv.reader(io.StringIO(result.output)))
    assert rows == [["id", "amount", "note"], ["0", "0.0", 'a, "quoted" note'], ["2", "3.0", ""]]


def test_show_a_duckdb_table_and_a_json_value(project):
    table = run(project, "show", "totals")
    assert table.exit_code == 0, table.output
    assert table.output.startswith("totals: duckdb")
    value = run(project, "show", "report", "--limit", "2", "--json")
    document = json.loads(value.output)
    assert document["value"] == {"key0": 0, "key1": 1}
    assert document["total"] == 15
    text = run(project, "show", "report", "--limit", "2")
    assert text.output.rstrip().endswith("Showing the first 2 of 15 items (--limit N for more).")
    refused = run(project, "show", "report", "--csv")
    assert refused.exit_code == 2
    assert "--csv: asset 'report' stores a json value that is not rows" in refused.output
    assert "Use --json instead: assetflow show report --json" in refused.output


def test_show_of_an_asset_never_materialized_says_how(project):
    result = run(project, "show", "later")
    assert result.exit_code == 2
    assert result.output == (
        "Error: asset 'later' has never been materialized, so nothing is stored to read.\n\n"
        "Materialize it with everything it needs first:\n\n"
        "    assetflow materialize '+later'\n"
    )


def test_show_with_a_partition_of_an_unpartitioned_asset(project):
    result = run(project, "show", "totals", "--partition", "eu")
    assert result.exit_code == 2
    assert result.output == (
        "Error: asset 'totals' is not partitioned, so it has no partition 'eu'.\n\n"
        "Leave the partition out: assetflow show totals\n"
    )


def test_show_of_an_unknown_asset_suggests_one(project):
    result = run(project, "show", "total")
    assert result.exit_code == 2
    assert "Error: no asset is named 'total'." in result.output
    assert "Did you mean 'totals'?" in result.output
    assert "Traceback" not in result.output


def test_show_json_and_csv_together_is_a_usage_error(project):
    result = run(project, "show", "totals", "--json", "--csv")
    assert result.exit_code == 2
    assert "give either --json or --csv, not both." in result.output


def test_list_json(project):
    document = json.loads(run(project, "list", "--json").output)
    assert document["version"] == 1
    by_name = {entry["asset"]: entry for entry in document["assets"]}
    assert by_name["totals"]["kind"] == "duckdb"
    assert by_name["totals"]["reads"] == ["orders"]
    assert by_name["orders"]["partitioned"] is True


def test_lineage_json_is_the_json_format(project):
    flag = run(project, "lineage", "--json")
    assert flag.exit_code == 0, flag.output
    assert flag.output == run(project, "lineage", "--format", "json").output
    document = json.loads(flag.output)
    assert document["version"] == 1
    assert ["orders", "totals"] in document["edges"]
    clash = run(project, "lineage", "--json", "--format", "dot")
    assert clash.exit_code == 2
    assert "give either --json or --format dot, not both." in clash.output


def test_why_json_traces_the_causes(project):
    fresh = json.loads(run(project, "why", "report", "--json").output)
    assert fresh["version"] == 1
    assert (fresh["asset"], fresh["partition"]) == ("report", None)
    assert [entry["state"] for entry in fresh["explained"]] == ["fresh"]
    assert "is fresh" in fresh["text"]
    never = json.loads(run(project, "why", "later", "--json").output)
    (entry,) = never["explained"]
    assert entry["state"] == "stale"
    assert [reason["kind"] for reason in entry["reasons"]] == ["never materialized"]
    assert entry["last_run_id"] is None


def test_check_json(project):
    result = run(project, "check", "orders", "--json")
    assert result.exit_code == 0, result.output
    document = json.loads(result.output)
    assert document["version"] == 1
    assert document["has_blocking_failure"] is False
    assert {(r["asset"], r["partition"], r["passed"]) for r in document["results"]} == {
        ("orders", "eu", True),
        ("orders", "us", True),
    }


def test_show_runs_as_a_command(project):
    """`python -m assetflow show` in a real process: the output reaches a pipe whole."""
    done = subprocess.run(
        [sys.executable, "-m", "assetflow", "--project", str(project), "show", "totals"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("totals: duckdb")


def test_a_filtered_frame_is_no_schema_change(make_project):
    """One partition is filtered (its index is the labels filtering leaves), the other is
    not: the stored columns are the same, so `history` reports no schema change and the
    type checks see only the asset's own columns."""
    root = make_project(
        """
        import pandas as pd

        from assetflow import StaticPartitions, asset

        @asset(partitions=StaticPartitions(["all", "some"]))
        def orders(context) -> pd.DataFrame:
            frame = pd.DataFrame({"id": [1, 2, 3, 4]})
            return frame if context.partition_key == "all" else frame[frame["id"] > 2]
        """
    )
    assert run(root, "materialize", "--executor", "inprocess").exit_code == 0
    history = run(root, "history", "orders")
    assert history.exit_code == 0, history.output
    assert "Schema changes" not in history.output
    for key in ("all", "some"):
        document = json.loads(run(root, "show", "orders", "--partition", key, "--json").output)
        assert [column["name"] for column in document["columns"]] == ["id"]
