"""The file layout of outputs: one function, ready for hive-style partitions."""

from __future__ import annotations

from pathlib import Path

import pytest

from assetflow.errors import WriteError
from assetflow.io import output_path

# Run again in CI against the oldest supported pandas (see .ci/run).
pytestmark = pytest.mark.oldest_pandas


def test_unpartitioned_outputs_are_named_after_the_asset(tmp_path: Path) -> None:
    assert output_path(tmp_path, "daily_totals", "parquet") == tmp_path / "daily_totals.parquet"
    assert output_path(tmp_path, "settings", "json") == tmp_path / "settings.json"


def test_partitions_are_hive_style_directories(tmp_path: Path) -> None:
    path = output_path(tmp_path, "raw_records", "parquet", partition="2026-03-01")
    assert path == tmp_path / "raw_records" / "partition=2026-03-01" / "part.parquet"


@pytest.mark.parametrize(
    ("key", "directory"),
    [
        ("2026-03-01T13:00", "partition=2026-03-01T13%3A00"),
        ("eu/west", "partition=eu%2Fwest"),
        ("a b", "partition=a%20b"),
        ("..", "partition=.."),
    ],
)
def test_partition_keys_are_escaped_into_one_directory(
    tmp_path: Path, key: str, directory: str
) -> None:
    path = output_path(tmp_path, "events", "json", partition=key)
    assert path.parent.name == directory
    assert path.parent.parent == tmp_path / "events"


def test_kind_none_has_no_file(tmp_path: Path) -> None:
    with pytest.raises(WriteError, match=r"storage kind 'none', which stores nothing"):
        output_path(tmp_path, "side_effect", "none")


def test_an_unknown_kind_lists_the_kinds(tmp_path: Path) -> None:
    with pytest.raises(WriteError, match=r"'duckdb', which is not a storage kind(.|\n)*parquet"):
        output_path(tmp_path, "clean_records", "duckdb")


@pytest.mark.parametrize("name", ["../escape", "a/b", "", "has space"])
def test_a_name_that_is_not_an_identifier_cannot_escape_the_directory(
    tmp_path: Path, name: str
) -> None:
    with pytest.raises(WriteError, match="not a Python identifier"):
        output_path(tmp_path, name, "parquet")
