"""End to end: asset names in CJK characters line up in every table the CLI prints."""

from __future__ import annotations

from click.testing import CliRunner

from assetflow.cli import cli
from assetflow.textwidth import display_width

ASSETS = """
    import pandas as pd

    from assetflow import asset

    @asset
    def 売上データ() -> pd.DataFrame:
        return pd.DataFrame({"金額": [100, 250], "id": [1, 2]})

    @asset
    def orders(売上データ: pd.DataFrame) -> pd.DataFrame:
        return 売上データ

    @asset
    def 集計(orders: pd.DataFrame) -> dict:
        return {"total": int(orders["金額"].sum())}
"""


def run(project, *args):
    return CliRunner().invoke(cli, ["--project", str(project), *args])


def column_starts(lines: list[str], word: str) -> set[int]:
    """The terminal column at which ``word`` starts on each line that holds it."""
    return {display_width(line[: line.index(word)]) for line in lines if word in line}


def test_wide_names_align_in_list_plan_status_and_show(make_project):
    root = make_project(ASSETS)
    listed = run(root, "list").output.splitlines()
    assert len(column_starts(listed, "default")) == 1  # the GROUP column
    plan = run(root, "plan").output.splitlines()
    assert len(column_starts(plan[2:], "stale")) == 1
    materialized = run(root, "materialize", "--executor", "inprocess")
    assert materialized.exit_code == 0, materialized.output
    steps = [line for line in materialized.output.splitlines() if " rows" in line]
    assert len(steps) == 2
    assert len(column_starts(steps, "rows")) == 1
    status = run(root, "status").output.splitlines()
    assert len(column_starts(status, "fresh")) == 1
    shown = run(root, "show", "売上データ")
    assert shown.exit_code == 0, shown.output
    rows = shown.output.splitlines()[2:5]
    assert rows[0].split() == ["金額", "id"]
    # The second column starts at one terminal column on every row.
    assert len({display_width(row[: row.rindex(" ") + 1]) for row in rows}) == 1
