"""End to end: asset checks through the CLI, on small projects in tmp_path."""

from __future__ import annotations

import subprocess
import sys

from click.testing import CliRunner

from assetflow.cli import cli

CHECKED = """
    import pandas as pd

    from assetflow import asset, check, not_null, unique

    @asset(checks=[not_null("email"), unique("id")])
    def customers() -> pd.DataFrame:
        return pd.DataFrame({"id": [1, 2, 2], "email": ["a@x", None, "c@x"]})

    @asset
    def mailing_list(customers: pd.DataFrame) -> pd.DataFrame:
        return customers[["email"]]

    @check(asset="customers", blocking=False, severity="warn")
    def has_three_rows(customers: pd.DataFrame) -> bool:
        return len(customers) == 4

    @asset
    def independent() -> dict:
        return {"ok": True}
"""


def run(project, *args):
    return CliRunner().invoke(cli, ["--project", str(project), *args])


def test_a_failing_blocking_check_stops_downstream(make_project):
    root = make_project(CHECKED)
    result = run(root, "materialize")
    assert result.exit_code == 1, result.output
    assert "customers" in result.output
    assert "3 of 3 checks failed" in result.output
    assert "skipped: upstream check failed: customers" in result.output
    assert "independent" in result.output
    assert "not_null(email): 1 of 3 rows have a null email" in result.output

    status = run(root, "status")
    assert "check failed: not_null(email), unique(id)" in status.output

    plan = run(root, "plan")
    assert "customers" in plan.output
    assert "check failed" in plan.output


def test_check_reruns_checks_on_stored_data(make_project):
    root = make_project(CHECKED)
    run(root, "materialize")
    result = run(root, "check")
    assert result.exit_code == 1
    assert "not_null(email)" in result.output
    assert "failed" in result.output
    assert "has_three_rows" in result.output
    assert "warned" in result.output
    runs = run(root, "runs")
    assert "check" in runs.output


def test_a_check_naming_an_unknown_asset_is_a_load_error(make_project):
    root = make_project(
        """
        from assetflow import asset, check

        @asset
        def customers() -> dict:
            return {}

        @check(asset="customer")
        def exists(customer: dict) -> bool:
            return True
        """
    )
    result = run(root, "list")
    assert result.exit_code == 2
    assert "Did you mean 'customers'" in result.output


def test_a_check_that_raises_is_an_error_of_the_check(make_project):
    root = make_project(
        """
        from assetflow import asset, check

        @asset
        def numbers() -> list:
            return [1, 2]

        @check(asset="numbers", blocking=False)
        def broken(numbers: list) -> bool:
            return numbers["x"]
        """
    )
    result = run(root, "materialize")
    assert "1 materialized" in result.output
    assert "1 of 1 checks failed: broken" in result.output
    check = run(root, "check")
    assert "TypeError" in check.output


def test_piping_into_head_does_not_stop_the_run(make_project):
    assets = "\n".join(f"@asset\ndef a{i}() -> dict:\n    return {{'n': {i}}}\n" for i in range(40))
    root = make_project("from assetflow import asset\n\n" + assets)
    shell = (
        f"{sys.executable} -m assetflow.cli --project {root} materialize | head -n 1; "
        f"{sys.executable} -m assetflow.cli --project {root} materialize"
    )
    done = subprocess.run(["bash", "-c", shell], capture_output=True, text=True)
    assert "Traceback" not in done.stderr
    assert "internal error" not in done.stderr
    assert "Nothing to do: 40 assets fresh." in done.stdout


TYPED = """
    import datetime as dt
    from typing import Annotated

    import pandas as pd
    from pydantic import BaseModel

    from assetflow import Schema, asset

    class Customer(BaseModel):
        id: int
        email: str
        since: dt.date

    @asset
    def customers() -> Annotated[pd.DataFrame, Schema(Customer)]:
        return pd.DataFrame(
            {"id": [1, 2], "email": ["a@x", "b@x"], "since": [dt.date(2026, 1, 1)] * 2}
        )

    @asset
    def count(customers: pd.DataFrame) -> int:
        return len(customers)
"""


def test_a_schema_mismatch_writes_nothing_and_keeps_the_previous_output(make_project):
    root = make_project(TYPED)
    assert run(root, "materialize").exit_code == 0
    stored = root / ".assetflow" / "data" / "customers.parquet"
    before = stored.read_bytes()
    assets = root / "assets.py"
    assets.write_text(
        assets.read_text().replace('"email": ["a@x", "b@x"]', '"email": ["a@x", None]')
    )
    result = run(root, "materialize")
    assert result.exit_code == 1
    assert "asset 'customers' returned a DataFrame whose column 'email' has 1 null" in result.output
    assert "nothing was written" in result.output
    assert "skipped: upstream failed: customers" in result.output
    assert stored.read_bytes() == before


def test_history_shows_schema_changes(make_project):
    root = make_project(TYPED)
    assert run(root, "materialize").exit_code == 0
    assets = root / "assets.py"
    assets.write_text(
        assets.read_text().replace('{"id": [1, 2],', '{"id": [1, 2], "tier": [1, 2],')
    )
    assert run(root, "materialize").exit_code == 0
    history = run(root, "history", "customers")
    assert "Schema changes:" in history.output
    assert "added 'tier' (int64)" in history.output


def test_a_wrong_return_type_and_an_impossible_input_are_reported(make_project):
    root = make_project(
        """
        import pandas as pd

        from assetflow import asset

        @asset
        def numbers() -> dict:
            return {"n": 1}

        @asset
        def table(numbers: pd.DataFrame) -> pd.DataFrame:
            return numbers
        """
    )
    result = run(root, "list")
    assert result.exit_code == 2
    assert "reads 'numbers' as pandas.DataFrame, but 'numbers' returns dict" in result.output
    assert "annotate the parameter dict, or convert inside the asset" in result.output
