"""Reading stored outputs back: `head` (what `assetflow show` prints) and `read_asset`."""

from __future__ import annotations

import pandas as pd
import pyarrow as pa
import pytest

from assetflow import RunRequest
from assetflow.api import load
from assetflow.errors import SelectionError, UsageError
from assetflow.partitions import PartitionError
from assetflow.services import reading, running

ASSETS = """
    import pandas as pd
    import pyarrow as pa
    from pydantic import BaseModel

    from assetflow import StaticPartitions, asset

    # Declared out of alphabetical order: "newest" follows the declaration.
    regions = StaticPartitions(["zeta", "alpha"])

    @asset(partitions=regions)
    def orders(context) -> pd.DataFrame:
        rows = 25 if context.partition_key == "zeta" else 3
        return pd.DataFrame({"id": range(rows), "region": [context.partition_key] * rows})

    @asset(partitions=regions, io="duckdb")
    def orders_db(orders: pd.DataFrame) -> pd.DataFrame:
        return orders

    @asset
    def as_arrow(orders: pd.DataFrame) -> pa.Table:
        return pa.Table.from_pandas(orders, preserve_index=False)

    class Summary(BaseModel):
        count: int

    @asset
    def summary(orders: pd.DataFrame) -> Summary:
        return Summary(count=len(orders))

    @asset(partitions=regions)
    def counts(orders: pd.DataFrame) -> dict:
        return {"n": len(orders)}

    @asset
    def records(orders: pd.DataFrame) -> list:
        return orders.head(12).to_dict("records")

    @asset
    def never_run() -> list:
        return [1]
"""


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    root = tmp_path_factory.mktemp("reading") / "proj"
    root.mkdir()
    (root / "pyproject.toml").write_text('[tool.assetflow]\nmodules = ["assets"]\n')
    import textwrap

    (root / "assets.py").write_text(textwrap.dedent(ASSETS))
    loaded = load(root)
    result = running.materialize(loaded, RunRequest("*", exclude="never_run"))
    assert result.success
    return loaded


def test_the_head_of_a_partition_is_its_first_rows(project):
    head = reading.head(project, "orders", partition="zeta", limit=5)
    assert (head.asset, head.partition, head.kind) == ("orders", "zeta", "parquet")
    assert head.columns == (("id", "int64"), ("region", "large_string"))
    assert head.rows == tuple((n, "zeta") for n in range(5))
    assert head.total == 25
    assert not head.is_newest_partition


def test_without_a_partition_the_newest_in_declared_order_is_shown(project):
    head = reading.head(project, "orders_db")
    assert head.partition == "alpha"  # declared last, though "zeta" sorts after it
    assert head.is_newest_partition
    assert head.kind == "duckdb"
    assert [name for name, _ in head.columns] == ["id", "region"]  # no partition_key
    assert head.total == 3


def test_a_json_list_of_records_is_shown_as_rows(project):
    head = reading.head(project, "records", limit=4)
    assert [name for name, _ in head.columns] == ["id", "region"]
    assert len(head.rows) == 4
    assert head.total == 12
    assert len(head.value) == 4


def test_read_asset_gives_the_value_as_the_asset_returned_it(project):
    one = reading.read_asset(project, "orders", partition="alpha")
    assert isinstance(one, pd.DataFrame)
    assert list(one["region"]) == ["alpha"] * 3
    assert isinstance(reading.read_asset(project, "as_arrow"), pa.Table)
    summary = reading.read_asset(project, "summary")
    assert type(summary).__name__ == "Summary"
    assert summary.count == 28


def test_read_asset_of_a_partitioned_asset_reads_every_partition_in_order(project):
    every = reading.read_asset(project, "orders")
    assert list(every["region"]) == ["zeta"] * 25 + ["alpha"] * 3
    assert reading.read_asset(project, "counts") == {"zeta": {"n": 25}, "alpha": {"n": 3}}


def test_an_unknown_asset_suggests_the_closest(project):
    with pytest.raises(SelectionError, match="no asset is named 'order'") as raised:
        reading.read_asset(project, "order")
    assert "Did you mean 'orders'" in raised.value.format_message()
    with pytest.raises(SelectionError, match="Did you mean 'orders'"):
        reading.head(project, "order")


def test_an_asset_never_materialized_says_how_to_materialize_it(project):
    with pytest.raises(UsageError) as raised:
        reading.head(project, "never_run")
    assert raised.value.format_message() == (
        "asset 'never_run' has never been materialized, so nothing is stored to read.\n\n"
        "Materialize it with everything it needs first:\n\n"
        "    assetflow materialize '+never_run'"
    )
    with pytest.raises(UsageError, match="never been materialized"):
        reading.read_asset(project, "never_run")


def test_a_partition_of_an_unpartitioned_asset_is_refused(project):
    with pytest.raises(UsageError) as raised:
        reading.head(project, "summary", partition="zeta")
    assert raised.value.format_message() == (
        "asset 'summary' is not partitioned, so it has no partition 'zeta'.\n\n"
        "Leave the partition out: assetflow show summary"
    )


def test_a_partition_that_does_not_exist_suggests_one(project):
    with pytest.raises(PartitionError, match="Did you mean 'alpha'"):
        reading.head(project, "orders", partition="alpah")


def test_a_negative_limit_is_a_usage_error(project):
    with pytest.raises(UsageError, match="--limit -1: the number of rows to show cannot be"):
        reading.head(project, "orders", limit=-1)
