"""The asset-partition key and its text: rendering and reading back."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from assetflow.keys import key_text, split_key_text

asset_names = st.from_regex(r"[a-z_][a-z0-9_]{0,12}", fullmatch=True)
partitions = st.none() | st.text(max_size=20)


def test_unpartitioned_key_is_the_asset_name() -> None:
    assert key_text(("clean_records", None)) == "clean_records"


def test_partitioned_key_puts_the_partition_in_brackets() -> None:
    assert key_text(("clean_records", "2026-03-01")) == "clean_records[2026-03-01]"


def test_split_reads_both_forms() -> None:
    assert split_key_text("clean_records[2026-03-01]") == ("clean_records", "2026-03-01")
    assert split_key_text("clean_records") == ("clean_records", None)


def test_split_of_no_text_is_no_key() -> None:
    assert split_key_text(None) == (None, None)
    assert split_key_text("") == (None, None)


def test_a_partition_may_hold_brackets() -> None:
    assert split_key_text("x[a[1]]") == ("x", "a[1]")


@given(asset=asset_names, partition=partitions)
def test_split_is_the_inverse_of_key_text(asset: str, partition: str | None) -> None:
    assert split_key_text(key_text((asset, partition))) == (asset, partition)
