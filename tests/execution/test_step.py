"""run_step: call one asset with its inputs (and context if it asks), store what it returns."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pandas as pd
import pytest

from assetflow import RunContext, asset
from assetflow.errors import AssetFailedError, WriteError
from assetflow.execution.step import DATA_DIR, describe_failure, run_step


@asset
def plain() -> dict:
    return {"n": 1}


@asset
def with_context(context: RunContext, plain: dict) -> dict:
    return {"asset": context.asset, "run": context.run_id, "n": plain["n"]}


def parse(text):
    return int(text)


@asset
def parses(plain: dict) -> dict:
    return {"value": parse("not a number")}


@asset
def odd():
    return {1, 2, 3}


@asset(io="parquet")
def not_a_table() -> dict:
    return {"a": 1}


@asset
def table() -> pd.DataFrame:
    return pd.DataFrame({"x": [1, 2]})


def test_context_is_not_passed_to_an_asset_that_does_not_ask(tmp_path):
    output = run_step(plain, {}, RunContext.for_test("plain"), tmp_path)
    assert output.value == {"n": 1}
    assert output.duration_s >= 0


def test_context_is_passed_to_an_asset_that_asks(tmp_path):
    context = RunContext(run_id="r7", asset="with_context")
    output = run_step(with_context, {"plain": {"n": 2}}, context, tmp_path)
    assert output.value == {"asset": "with_context", "run": "r7", "n": 2}


def test_output_is_written_under_the_data_dir(tmp_path):
    output = run_step(plain, {}, RunContext.for_test(), tmp_path)
    stored = output.stored
    assert stored.kind == "json"
    assert stored.path == tmp_path / DATA_DIR / "plain.json"
    assert json.loads(stored.path.read_text()) == {"n": 1}
    assert stored.data_version
    table_output = run_step(table, {}, RunContext.for_test(), tmp_path).stored
    assert (table_output.kind, table_output.rows) == ("parquet", 2)
    assert table_output.columns == (("x", "int64"),)


def test_failure_shows_the_users_frames_and_not_assetflows(tmp_path):
    with pytest.raises(AssetFailedError) as caught:
        run_step(parses, {"plain": {"n": 1}}, RunContext.for_test(), tmp_path)
    error = caught.value
    message = error.message
    assert message.startswith(
        "asset 'parses' raised ValueError: invalid literal for int() with base 10: "
        "'not a number'\n\nTraceback (your code):\n"
    )
    asset_line = parses.fn.__code__.co_firstlineno + 2  # the decorator is the first line
    helper_line = parse.__code__.co_firstlineno + 1
    assert f'test_step.py", line {asset_line}, in parses' in message
    assert 'return {"value": parse("not a number")}' in message
    assert f'test_step.py", line {helper_line}, in parse\n    return int(text)' in message
    assert "assetflow/execution" not in message
    assert "run_step" not in message
    assert error.asset == "parses"
    assert error.partition is None
    assert isinstance(error.__cause__, ValueError)
    assert not (tmp_path / DATA_DIR / "parses.json").exists()


def test_failure_names_the_partition(tmp_path):
    with pytest.raises(AssetFailedError, match=r"^asset 'parses' \[2026-03-01\] raised ValueError"):
        run_step(parses, {"plain": {}}, RunContext.for_test(), tmp_path, "2026-03-01")


def test_unstorable_value_fails_the_asset_with_the_io_message(tmp_path):
    with pytest.raises(
        AssetFailedError, match="asset 'odd' returned a value of type set, which assetflow cannot"
    ) as caught:
        run_step(odd, {}, RunContext.for_test(), tmp_path)
    assert "Return a list instead, e.g. sorted(values)." in caught.value.message
    assert isinstance(caught.value.__cause__, WriteError)
    assert caught.value.asset == "odd"
    assert not (tmp_path / DATA_DIR).exists() or not any((tmp_path / DATA_DIR).iterdir())


def test_value_that_does_not_fit_the_declared_kind(tmp_path):
    with pytest.raises(AssetFailedError, match="which cannot be stored as Parquet"):
        run_step(not_a_table, {}, RunContext.for_test(), tmp_path)


def test_describe_failure_without_a_traceback():
    assert describe_failure("a", None, KeyError("k")) == "asset 'a' raised KeyError: 'k'"


def test_frames_of_a_sibling_folder_named_like_the_package_are_shown():
    from assetflow.errors import _code_dirs

    _PACKAGE_DIR = _code_dirs()[0]

    filename = _PACKAGE_DIR + "_demo/assets.py"
    code = compile("def boom():\n    raise ValueError('bad row')\n", filename, "exec")
    namespace: dict = {}
    exec(code, namespace)
    try:
        namespace["boom"]()
    except ValueError as error:
        text = describe_failure("demo", None, error)
    assert "assetflow_demo/assets.py" in text
    assert "Traceback (your code)" in text


USER_CODE_FAILS = """
    import pandas as pd

    from assetflow import asset


    def pick(frame):
        return frame["missing"]  # raises KeyError deep inside the library


    @asset
    def totals() -> dict:
        pick(pd.DataFrame({"a": [1]}))
        return {}


    @asset
    def loader() -> dict:
        import helpers  # noqa: F401  (fails inside the import machinery)

        return {}
"""


def _failure_message(make_project, asset_name):
    from assetflow import api

    root = make_project(USER_CODE_FAILS, extra_files={"helpers.py": "raise RuntimeError('no')\n"})
    result = api.materialize(asset_name, project=root)
    (step,) = result.results
    return step.message


def test_the_your_code_traceback_shows_only_the_users_frames(make_project):
    message = _failure_message(make_project, "totals")
    assert message.startswith("asset 'totals' raised KeyError: 'missing'")
    trace = message.split("Traceback (your code):\n", 1)[1]
    files = re.findall(r'File "([^"]+)"', trace)
    assert [Path(file).name for file in files] == ["assets.py", "assets.py"]
    assert 'return frame["missing"]' in trace
    assert "pandas" not in trace
    assert "assetflow/" not in trace


def test_a_failed_import_inside_an_asset_hides_the_import_machinery(make_project):
    message = _failure_message(make_project, "loader")
    trace = message.split("Traceback (your code):\n", 1)[1]
    files = [Path(file).name for file in re.findall(r'File "([^"]+)"', trace)]
    assert files == ["assets.py", "helpers.py"]
    assert "importlib" not in trace
    assert "<frozen" not in trace
