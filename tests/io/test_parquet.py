"""Parquet storage: the head reads the first row groups only."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from assetflow.errors import StoreError
from assetflow.io import OutputRef, io_manager

ROWS = 100
ROW_GROUP = 10


def _damage_last_row_group(path: Path) -> None:
    """Overwrite the data of the file's last row group, leaving its footer intact."""
    group = pq.ParquetFile(path).metadata.row_group(ROWS // ROW_GROUP - 1)
    column = group.column(0)
    start = min(
        offset
        for offset in (column.dictionary_page_offset, column.data_page_offset)
        if offset is not None
    )
    with path.open("r+b") as handle:
        handle.seek(start)
        handle.write(b"\xff" * column.total_compressed_size)


def test_the_head_reads_only_the_first_row_groups(tmp_path: Path) -> None:
    """A file whose last row group is unreadable still shows its head: only the first row
    group is read (and the total comes from the footer); reading it whole fails."""
    path = tmp_path / "orders.parquet"
    pq.write_table(pa.table({"id": list(range(ROWS))}), path, row_group_size=ROW_GROUP)
    _damage_last_row_group(path)
    manager = io_manager("parquet")
    ref = OutputRef("orders", None, path)
    head = manager.head(ref, 15)  # one row group and a half
    assert head.total == ROWS
    assert head.value.column("id").to_pylist() == list(range(15))
    with pytest.raises(StoreError, match="cannot read the Parquet output"):
        manager.read(ref)


def test_a_head_of_zero_rows_keeps_the_columns(tmp_path: Path) -> None:
    path = tmp_path / "orders.parquet"
    pq.write_table(pa.table({"id": [1, 2], "name": ["a", "b"]}), path)
    head = io_manager("parquet").head(OutputRef("orders", None, path), 0)
    assert head.value.column_names == ["id", "name"]
    assert head.value.num_rows == 0
    assert head.total == 2


def test_a_damaged_file_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "orders.parquet"
    path.write_bytes(b"not parquet at all")
    with pytest.raises(StoreError, match=r"cannot read the Parquet output(.|\n)*materialize"):
        io_manager("parquet").head(OutputRef("orders", None, path), 5)
