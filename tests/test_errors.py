"""The error tree: suggestions, did-you-mean phrasing, rendering, and exit codes per class."""

from __future__ import annotations

from pathlib import Path

import pytest

from assetflow.errors import (
    EXIT_FAILED,
    EXIT_USAGE,
    AssetFailedError,
    AssetflowError,
    DefinitionError,
    MissingInputError,
    Problem,
    ProjectError,
    SelectionError,
    StoreError,
    WriteError,
    declared_at,
    did_you_mean,
    display_path,
    suggest,
)

ASSETS = ["raw_records", "clean_records", "daily_totals", "top_customers", "summary_report"]


def test_suggest_leaves_out_much_worse_matches():
    # 'clean_records' passes difflib's cutoff too, but is far worse than 'raw_records'.
    assert suggest("raw_record", ASSETS) == ["raw_records"]
    assert suggest("clean_record", ASSETS) == ["clean_records"]


def test_suggest_keeps_matches_about_as_close_as_the_best():
    # Equally close names are all offered (difflib orders ties by name, descending).
    assert sorted(suggest("asset_b", ["asset_a", "asset_c", "other"])) == ["asset_a", "asset_c"]


def test_suggest_nothing_close():
    assert suggest("zzz", ASSETS) == []
    assert suggest("raw_record", []) == []


def test_suggest_at_most_count_names_closest_first():
    known = ["daily_total", "daily_totals_x", "daily_totals_xy", "daily_totals_xyz"]
    assert suggest("daily_totals", known) == ["daily_total", "daily_totals_x", "daily_totals_xy"]
    assert suggest("daily_totals", known, count=1) == ["daily_total"]
    assert len(suggest("item_", [f"item_{i}" for i in range(9)])) == 3


def test_suggest_ignores_duplicates():
    assert suggest("raw_record", ["raw_records", "raw_records"]) == ["raw_records"]


@pytest.mark.parametrize(
    ("names", "text"),
    [
        ([], ""),
        (["a"], "Did you mean 'a'?"),
        (["a", "b"], "Did you mean 'a' or 'b'?"),
        (["a", "b", "c"], "Did you mean 'a', 'b' or 'c'?"),
    ],
)
def test_did_you_mean_phrasing(names, text):
    assert did_you_mean(names) == text


def test_display_path_relative_to_the_projects_parent(tmp_path):
    root = tmp_path / "proj"
    assert display_path(root / "assets.py", root) == "proj/assets.py"
    assert display_path(str(root / "pkg" / "m.py"), root) == "proj/pkg/m.py"


def test_display_path_outside_the_project_or_without_one(tmp_path):
    root = tmp_path / "proj"
    outside = Path("/elsewhere/assets.py")
    assert display_path(outside, root) == "/elsewhere/assets.py"
    assert display_path("rel/assets.py", None) == "rel/assets.py"


def test_message_and_hint():
    error = AssetflowError("something broke.", hint="To fix this, do that.")
    assert error.format_message() == "something broke.\n\nTo fix this, do that."
    assert str(error) == error.format_message()
    assert str(AssetflowError("only this.")) == "only this."


def test_definition_error_one_problem_has_no_header():
    error = DefinitionError([Problem("proj/assets.py", 3, "asset 'a' is wrong.")], hint="Fix a.")
    assert error.format_message() == "asset 'a' is wrong.\n\nFix a."
    assert error.problems == (Problem("proj/assets.py", 3, "asset 'a' is wrong."),)


def test_definition_error_sorts_problems_by_file_line_message_under_a_header():
    problems = [
        Problem("proj/b.py", 1, "third"),
        Problem("proj/a.py", 20, "second"),
        Problem("proj/a.py", 3, "first"),
    ]
    error = DefinitionError(problems)
    assert [p.message for p in error.problems] == ["first", "second", "third"]
    assert str(error) == "the project has 3 definition problems:\n\nfirst\n\nsecond\n\nthird"


def test_definition_error_from_text():
    error = DefinitionError("asset 'x' is odd.")
    assert error.problems == (Problem("", 0, "asset 'x' is odd."),)
    with pytest.raises(DefinitionError, match=r"^asset 'x' is odd\.$"):
        raise error


def test_selection_error_reprints_the_expression_with_a_caret():
    error = SelectionError(
        "no asset is named 'clean_record'",
        expression="raw_records clean_record+",
        position=12,
        suggestions=["clean_records"],
        hint="Run `assetflow list`.",
    )
    lines = error.format_message().splitlines()
    assert lines[0] == "no asset is named 'clean_record'"
    expression = lines.index("    raw_records clean_record+")
    assert lines[expression + 1] == "                ^"
    assert lines[expression + 1].index("^") == lines[expression].index("clean_record+")
    assert "    Did you mean 'clean_records'?" in lines
    assert lines[-1] == "Run `assetflow list`."


def test_selection_error_caret_at_the_start():
    error = SelectionError("unexpected '+'", expression="+", position=0)
    assert error.format_message() == "unexpected '+'\n\n    +\n    ^"
    assert error.suggestions == ()


def test_selection_error_without_position_has_no_caret():
    error = SelectionError("selects nothing", expression="a,b", suggestions=["a"])
    assert "^" not in str(error)
    assert "a,b" not in str(error)
    assert str(error) == "selects nothing\n\n    Did you mean 'a'?"


def test_asset_failed_error_keeps_asset_and_cause():
    cause = KeyError("missing")
    with pytest.raises(AssetFailedError, match=r"^asset 'broken' raised KeyError$") as caught:
        raise AssetFailedError("broken", "2026-03-01", "asset 'broken' raised KeyError") from cause
    assert caught.value.asset == "broken"
    assert caught.value.partition == "2026-03-01"
    assert caught.value.__cause__ is cause


@pytest.mark.parametrize(
    ("error", "code"),
    [
        (DefinitionError("x"), EXIT_USAGE),
        (ProjectError("x"), EXIT_USAGE),
        (SelectionError("x"), EXIT_USAGE),
        (MissingInputError("x"), EXIT_USAGE),
        (AssetFailedError("a", None, "x"), EXIT_FAILED),
        (StoreError("x"), EXIT_FAILED),
        (WriteError("x"), EXIT_FAILED),
        (AssetflowError("x"), EXIT_FAILED),
    ],
)
def test_exit_codes(error, code):
    assert isinstance(error, AssetflowError)
    assert error.exit_code == code
    assert (EXIT_USAGE, EXIT_FAILED) == (2, 1)


def test_user_frames_leave_out_library_and_compiled_frames(tmp_path):
    from assetflow.errors import is_user_file

    assert not is_user_file("ops.pyx")  # pandas' Cython source names are not paths
    assert not is_user_file("<frozen importlib._bootstrap>")
    assert not is_user_file(pytest.__file__)  # an installed package
    assert not is_user_file(__import__("assetflow.errors").errors.__file__)
    mine = tmp_path / "assets.py"
    mine.write_text("")
    assert is_user_file(str(mine))


def test_declared_at_is_relative_to_the_working_directory(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert declared_at(str(tmp_path / "pkg" / "assets.py"), 7) == "pkg/assets.py:7"
    assert declared_at("<string>", 2) == "<string>:2"
