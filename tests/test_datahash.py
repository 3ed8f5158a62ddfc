"""Data versions: deterministic, layout-blind, and sensitive to every value that is stored."""

from __future__ import annotations

import itertools
import os
import subprocess
import sys
import textwrap
from decimal import Decimal
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import BaseModel

from assetflow import datahash
from assetflow.datahash import json_version, table_version
from assetflow.errors import WriteError
from assetflow.io.parquet import to_arrow_table
from assetflow.io.versions import data_version
from tests.pandas_versions import IS_PANDAS_3, STR_DTYPE

# Run again in CI against the oldest supported pandas (see .ci/run).
pytestmark = pytest.mark.oldest_pandas

REPO = Path(__file__).resolve().parent.parent


def rich_frame() -> pd.DataFrame:
    """A frame with every column type pandas 3 users write, nulls included."""
    return pd.DataFrame(
        {
            "id": np.arange(6, dtype="int64"),
            "name": pd.Series(["a", None, "ccc", "", "eeeee", "f"], dtype="str").array,
            "kind": pd.Categorical(["x", "y", None, "x", "z", "y"], categories=["z", "y", "x"]),
            "at": pd.date_range("2026-03-01", periods=6, freq="h", tz="Europe/Paris"),
            "count": pd.array([1, None, 3, 4, None, 6], dtype="Int64"),
            "amount": [1.5, np.nan, -0.25, 1e300, 0.0, 2.0],
            "flag": pd.array([True, False, None, True, True, False], dtype="boolean"),
        }
    )


def rich_table() -> pa.Table:
    """A table with the Arrow types a DataFrame does not produce: lists, structs, maps, ..."""
    return pa.table(
        {
            "ints": pa.array([1, None, 3, 4, 5, None, 7], pa.int32()),
            "text": pa.array(["a", "bb", None, "", "ddd", "e", None], pa.string()),
            "blob": pa.array([b"\x00", None, b"ab", b"", b"c", b"d", b"e"], pa.binary()),
            "fixed": pa.array([b"ab", b"cd", None, b"ef", b"gh", b"ij", b"kl"], pa.binary(2)),
            "money": pa.array(
                [Decimal("1.10"), None, Decimal("-3.00"), Decimal("0.01")] * 1 + [None] * 3,
                pa.decimal128(10, 2),
            ),
            "flags": pa.array([True, None, False, True, True, False, None]),
            "lists": pa.array([[1, 2], None, [], [3], [4, None], [5, 6, 7], None]),
            "structs": pa.array(
                [{"p": 1, "q": "a"}, None, {"p": None, "q": "b"}, {"p": 4, "q": None}] + [None] * 3
            ),
            "maps": pa.array(
                [[("k", 1)], None, [], [("a", 2), ("b", 3)], [("c", None)], None, [("d", 4)]],
                pa.map_(pa.string(), pa.int64()),
            ),
            "nested": pa.array([[{"r": [1]}], [], None, [{"r": None}], [{"r": [2, 3]}], [], []]),
            "labels": pa.array(["u", "v", None, "u", "w", "v", "u"]).dictionary_encode(),
            "nothing": pa.nulls(7),
        }
    )


def rechunked(table: pa.Table, size: int) -> pa.Table:
    """The same rows split into chunks of ``size`` (slices of the original buffers)."""
    return pa.Table.from_batches(table.to_batches(max_chunksize=size), schema=table.schema)


# ------------------------------------------------------------------ format and determinism


def test_version_is_32_hex_chars() -> None:
    for value in (rich_frame(), rich_table(), {"a": [1, 2]}, None, "text"):
        version = data_version(value)
        assert len(version) == 32
        assert int(version, 16) >= 0


def test_versions_are_pinned_so_another_day_gives_the_same_version() -> None:
    # These values are the contract: if one changes, every stored version goes stale
    # on upgrade. Change them only together with datahash.SCHEME.
    frame = pd.DataFrame({"id": [1, 2, 3], "name": ["a", "b", None]})
    assert data_version(frame) == "4a9591e96ce2e633dd5b777725b0ce87"
    assert data_version({"b": [1, 2.5, None], "a": "x"}) == "d19b1efb0be534a556a20ebbae84da3a"


def test_same_version_in_another_process_with_another_hash_seed() -> None:
    script = textwrap.dedent(
        """
        import sys
        sys.path.insert(0, sys.argv[1])
        from tests.test_datahash import rich_frame, rich_table
        from assetflow.io.versions import data_version
        value = {"set-like": ["b", "a"], "nested": {"z": 1, "y": [1.5, None]}}
        print(data_version(rich_frame()), data_version(rich_table()), data_version(value))
        """
    )
    versions = []
    for seed in ("1", "2"):
        environment = {**os.environ, "PYTHONHASHSEED": seed}
        completed = subprocess.run(
            [sys.executable, "-c", script, str(REPO)],
            capture_output=True,
            text=True,
            env=environment,
            check=True,
        )
        versions.append(completed.stdout.split())
    value = {"set-like": ["b", "a"], "nested": {"z": 1, "y": [1.5, None]}}
    here = [data_version(rich_frame()), data_version(rich_table()), data_version(value)]
    assert versions[0] == versions[1] == here


# ------------------------------------------------------------------ layout does not count


@pytest.mark.parametrize("size", [1, 2, 3, 5, 1000])
def test_chunking_does_not_change_the_version(size: int) -> None:
    for table in (rich_table(), to_arrow_table(rich_frame())):
        assert table_version(rechunked(table, size)) == table_version(table)
        assert table_version(rechunked(table, size).combine_chunks()) == table_version(table)


@pytest.mark.parametrize("at_once", [1, 7, 999, 1000, 1001])
def test_lengths_hash_the_same_however_many_are_computed_at_once(
    monkeypatch: pytest.MonkeyPatch, at_once: int
) -> None:
    # A string column's lengths are computed in pieces (LENGTHS_AT_ONCE): a table of
    # 1,000 rows, whole and sliced, hashes as when they all fit in one piece.
    words = [f"w{i % 97}" * (i % 5) for i in range(1000)]
    tables = [
        pa.table({"s": pa.array(words), "l": pa.array(words, pa.large_string())}),
        pa.table({"b": pa.array([w.encode() for w in words], pa.binary())}).slice(3, 990),
    ]
    whole = [table_version(table) for table in tables]
    monkeypatch.setattr(datahash, "LENGTHS_AT_ONCE", at_once)
    assert [table_version(table) for table in tables] == whole


@settings(max_examples=100, deadline=None)
@given(cuts=st.lists(st.integers(0, 7), max_size=6), pandas_made=st.booleans())
def test_any_split_into_uneven_chunks_hashes_the_same(cuts: list[int], pandas_made: bool) -> None:
    table = to_arrow_table(rich_frame()) if pandas_made else rich_table()
    bounds = [0, *sorted(cut % (table.num_rows + 1) for cut in cuts), table.num_rows]
    pieces = [table.slice(start, end - start) for start, end in itertools.pairwise(bounds)]
    split = pa.concat_tables(pieces)
    assert split.column(0).num_chunks == len(pieces)
    assert table_version(split) == table_version(table)


def test_chunks_with_different_dictionaries_hash_like_one_dictionary() -> None:
    # unify_dictionaries orders the categories as pandas does when it reads them back
    whole = pa.chunked_array([pa.array(["a", "b", "c", "a"]).dictionary_encode()])
    split = pa.chunked_array(
        [pa.array(["a", "b"]).dictionary_encode(), pa.array(["c", "a"]).dictionary_encode()]
    )
    assert table_version(pa.table({"x": split})) == table_version(pa.table({"x": whole}))


def test_empty_chunks_do_not_count() -> None:
    table = rich_table()
    batch = table.to_batches()[0]
    with_empty = pa.Table.from_batches([batch.slice(0, 0), batch, batch.slice(7, 0)])
    assert with_empty.column(0).num_chunks == 3
    assert table_version(with_empty) == table_version(table)
    empty = table.slice(0, 0)
    no_chunks = pa.Table.from_batches([], schema=table.schema)
    assert no_chunks.column(0).num_chunks == 0
    assert table_version(no_chunks) == table_version(empty)


@pytest.mark.parametrize(("start", "length"), [(0, 7), (1, 5), (3, 4), (6, 1), (2, 0)])
def test_a_slice_hashes_like_a_fresh_copy_of_it(start: int, length: int) -> None:
    table = rich_table()
    piece = table.slice(start, length)
    fresh = table.take(pa.array(range(start, start + length), pa.int64()))  # offset 0
    assert length == 0 or piece.column(0).chunk(0).offset == start
    assert table_version(piece) == table_version(fresh)


def test_slices_of_bit_packed_booleans_at_every_offset() -> None:
    flags = pa.array([True, False, None, True, True, False, None, True, False, True] * 3)
    for start in range(12):
        piece = pa.table({"f": flags.slice(start, 13)})
        fresh = pa.table({"f": pa.array(flags.slice(start, 13).to_pylist(), pa.bool_())})
        assert table_version(piece) == table_version(fresh)


def test_bytes_under_null_slots_do_not_count() -> None:
    validity = pa.py_buffer(np.packbits([1, 0, 1], bitorder="little").tobytes())
    ones = pa.Array.from_buffers(
        pa.int64(), 3, [validity, pa.py_buffer(np.array([7, 1, 9]).tobytes())]
    )
    zeros = pa.Array.from_buffers(
        pa.int64(), 3, [validity, pa.py_buffer(np.array([7, 0, 9]).tobytes())]
    )
    # a null string slot that still spans two bytes
    offsets = pa.py_buffer(np.array([0, 1, 3, 4], dtype=np.int32).tobytes())
    spanning = pa.Array.from_buffers(pa.string(), 3, [validity, offsets, pa.py_buffer(b"aXYb")])
    # a null list that still spans two values
    spanning_list = pa.ListArray.from_arrays(
        pa.array([0, 1, 3, 4], pa.int32()),
        pa.array([1, 8, 8, 2]),
        mask=pa.array([False, True, False]),
    )
    assert ones.to_pylist() == zeros.to_pylist() == [7, None, 9]
    assert spanning.to_pylist() == ["a", None, "b"]
    assert spanning_list.to_pylist() == [[1], None, [2]]
    assert table_version(pa.table({"l": spanning_list})) == table_version(
        pa.table({"l": pa.array([[1], None, [2]])})
    )
    assert table_version(pa.table({"x": ones})) == table_version(pa.table({"x": zeros}))
    assert table_version(pa.table({"s": spanning})) == table_version(
        pa.table({"s": pa.array(["a", None, "b"])})
    )


def test_string_offset_width_does_not_count() -> None:
    values = ["a", None, "ccc"]
    versions = {
        table_version(pa.table({"s": pa.array(values, kind)}))
        for kind in (pa.string(), pa.large_string(), pa.string_view())
    }
    assert len(versions) == 1


def test_dictionary_index_width_does_not_count() -> None:
    labels = pa.array(["a", "b", None, "a"]).dictionary_encode()  # int32 indices
    narrow = labels.cast(pa.dictionary(pa.int8(), pa.string()))
    assert table_version(pa.table({"x": labels})) == table_version(pa.table({"x": narrow}))


def test_list_item_field_name_does_not_count() -> None:
    # pandas writes list<item: ...>; a Parquet file reads back as list<element: ...>
    item = pa.array([[1], None, [2, 3]], pa.list_(pa.field("item", pa.int64())))
    element = pa.array([[1], None, [2, 3]], pa.list_(pa.field("element", pa.int64())))
    assert table_version(pa.table({"l": item})) == table_version(pa.table({"l": element}))


def test_copy_on_write_copies_hash_the_same() -> None:
    frame = rich_frame()
    before = data_version(frame)
    shallow = frame.copy(deep=False)
    deep = frame.copy()
    subset = frame[list(frame.columns)]
    assert data_version(shallow) == data_version(deep) == data_version(subset) == before
    if not IS_PANDAS_3:  # pandas 2.2 without copy-on-write: a shallow copy shares data
        shallow = frame.copy()
    shallow.loc[0, "amount"] = 99.0  # copy-on-write: the original is untouched
    assert data_version(frame) == before
    assert data_version(shallow) != before


# ------------------------------------------------------------------ pandas decisions


def test_str_dtype_and_object_strings_hash_equal() -> None:
    # Decision: both are written as the same Arrow strings and pandas 3 reads both
    # back as str, so the stored data is the same.
    values = ["a", None, "ccc"]
    as_str = pd.DataFrame({"s": pd.Series(values, dtype="str")})
    as_object = pd.DataFrame({"s": pd.Series(values, dtype=object)})
    as_string = pd.DataFrame({"s": pd.Series(values, dtype="string")})
    assert str(as_str["s"].dtype) == STR_DTYPE
    assert as_object["s"].dtype == object
    assert data_version(as_str) == data_version(as_object) == data_version(as_string)


def test_category_and_plain_strings_differ() -> None:
    # Decision: a category column is stored as a dictionary and read back as a category.
    plain = pd.DataFrame({"s": pd.Series(["a", "b", "a"], dtype="str")})
    category = pd.DataFrame({"s": pd.Series(["a", "b", "a"], dtype="category")})
    assert data_version(plain) != data_version(category)


def test_category_order_and_unused_categories_count() -> None:
    # Both are stored and read back, and the order decides groupby and sort order.
    values = ["a", "b", "a"]
    ab = pd.DataFrame({"s": pd.Categorical(values, categories=["a", "b"])})
    ba = pd.DataFrame({"s": pd.Categorical(values, categories=["b", "a"])})
    abc = pd.DataFrame({"s": pd.Categorical(values, categories=["a", "b", "c"])})
    ordered = pd.DataFrame({"s": pd.Categorical(values, categories=["a", "b"], ordered=True)})
    versions = {data_version(frame) for frame in (ab, ba, abc, ordered)}
    assert len(versions) == 4
    assert data_version(ab) == data_version(ab.copy())


def test_nullable_and_numpy_ints_holding_the_same_numbers_hash_equal() -> None:
    # Decision: the difference lives only in pandas' metadata, not in the stored values.
    numpy_ints = pd.DataFrame({"n": np.array([1, 2, 3], dtype="int64")})
    nullable = pd.DataFrame({"n": pd.array([1, 2, 3], dtype="Int64")})
    assert data_version(numpy_ints) == data_version(nullable)
    with_null = pd.DataFrame({"n": pd.array([1, 2, None], dtype="Int64")})
    with_nan = pd.DataFrame({"n": [1.0, 2.0, np.nan]})
    assert data_version(with_null) != data_version(with_nan)  # int64 vs double


def test_default_index_frame_hashes_like_the_table_of_its_columns() -> None:
    frame = pd.DataFrame({"a": [1, 2, 3], "s": ["x", "y", None]})
    table = pa.table({"a": pa.array([1, 2, 3]), "s": pa.array(["x", "y", None])})
    assert data_version(frame) == data_version(table)


@pytest.mark.parametrize(
    "index",
    [
        pd.Index(["a", "b", "c"]),
        pd.RangeIndex(0, 3, name="row"),
        pd.Index([10, 20, 30], name="id"),
        pd.DatetimeIndex(["2026-03-01", "2026-03-02", "2026-03-03"]),
    ],
)
def test_an_index_of_data_counts(index: pd.Index) -> None:
    frame = pd.DataFrame({"a": [1, 2, 3]})
    indexed = frame.set_axis(index)
    assert data_version(indexed) != data_version(frame)
    assert data_version(indexed) == data_version(indexed.copy())


@pytest.mark.parametrize(
    "index", [pd.Index([10, 20, 30]), pd.RangeIndex(5, 8), pd.RangeIndex(0, 6, 2)]
)
def test_row_labels_do_not_count(index: pd.Index) -> None:
    """Unnamed integer labels (what filtering and sorting leave) are not stored, so they
    do not change the version: the same rows filtered two ways cut off downstream."""
    frame = pd.DataFrame({"a": [1, 2, 3]})
    assert data_version(frame.set_axis(index)) == data_version(frame)


def test_column_names_order_and_types_count() -> None:
    base = pa.table({"a": pa.array([1, 2], pa.int64()), "b": pa.array([3, 4], pa.int64())})
    renamed = base.rename_columns(["a", "c"])
    swapped = base.select(["b", "a"]).rename_columns(["a", "b"])
    narrower = base.cast(pa.schema([("a", pa.int32()), ("b", pa.int64())]))
    versions = {table_version(table) for table in (base, renamed, swapped, narrower)}
    assert len(versions) == 4


def test_timezone_and_unit_count() -> None:
    moment = pd.Timestamp("2026-03-01 12:00")
    utc = pd.DataFrame({"t": [moment.tz_localize("UTC")]})
    paris = pd.DataFrame({"t": [moment.tz_localize("UTC").tz_convert("Europe/Paris")]})
    naive_us = pd.DataFrame({"t": pd.Series([moment]).astype("datetime64[us]")})
    naive_ns = pd.DataFrame({"t": pd.Series([moment]).astype("datetime64[ns]")})
    versions = {data_version(frame) for frame in (utc, paris, naive_us, naive_ns)}
    assert len(versions) == 4


def test_null_and_zero_and_empty_differ() -> None:
    def version(values: list[object], kind: pa.DataType) -> str:
        return table_version(pa.table({"x": pa.array(values, kind)}))

    assert version([1, None], pa.int64()) != version([1, 0], pa.int64())
    assert version(["a", None], pa.string()) != version(["a", ""], pa.string())
    assert version([[1], None], pa.list_(pa.int64())) != version([[1], []], pa.list_(pa.int64()))
    assert version(["ab", "c"], pa.string()) != version(["a", "bc"], pa.string())
    assert version([[1, 2], [3]], pa.list_(pa.int64())) != version(
        [[1], [2, 3]], pa.list_(pa.int64())
    )


def test_empty_tables_differ_by_schema() -> None:
    assert table_version(pa.table({"a": pa.array([], pa.int64())})) != table_version(
        pa.table({"b": pa.array([], pa.int64())})
    )


# ------------------------------------------------------- different data, different version


@st.composite
def small_frames(draw: st.DrawFn) -> pd.DataFrame:
    rows = draw(st.integers(1, 8))
    ints = draw(st.lists(st.integers(-(2**63), 2**63 - 1), min_size=rows, max_size=rows))
    floats = draw(
        st.lists(st.floats(allow_nan=False, allow_infinity=False), min_size=rows, max_size=rows)
    )
    texts = draw(st.lists(st.none() | st.text(max_size=5), min_size=rows, max_size=rows))
    return pd.DataFrame(
        {
            "i": np.array(ints, dtype="int64"),
            "f": np.array(floats, dtype="float64"),
            "s": pd.Series(texts, dtype="str").array,
        }
    )


@settings(max_examples=200, deadline=None)
@given(frame=small_frames(), data=st.data())
def test_changing_one_value_changes_the_version(frame: pd.DataFrame, data: st.DataObject) -> None:
    row = data.draw(st.integers(0, len(frame) - 1))
    column = data.draw(st.sampled_from(["i", "f", "s"]))
    old = frame.at[row, column]
    if column == "i":
        new = data.draw(st.integers(-(2**63), 2**63 - 1).filter(lambda v: v != old))
    elif column == "f":
        new = data.draw(
            st.floats(allow_nan=False, allow_infinity=False).filter(
                lambda v: v != old or str(v) != str(old)  # 0.0 and -0.0 are stored apart
            )
        )
    else:
        new = data.draw((st.none() | st.text(max_size=5)).filter(lambda v: v != old))
        if pd.isna(old) and new is None:
            return
    changed = frame.copy()
    changed.at[row, column] = new
    assert data_version(changed) != data_version(frame)
    assert data_version(frame.copy()) == data_version(frame)


@settings(max_examples=50, deadline=None)
@given(frame=small_frames(), size=st.integers(1, 8))
def test_any_chunking_of_generated_frames_hashes_the_same(frame: pd.DataFrame, size: int) -> None:
    table = to_arrow_table(frame)
    assert table_version(rechunked(table, size)) == table_version(table)


# ------------------------------------------------------------------ JSON values


def test_json_key_order_does_not_count_but_values_do() -> None:
    assert data_version({"a": 1, "b": [1, 2]}) == data_version({"b": [1, 2], "a": 1})
    assert data_version({"a": 1}) != data_version({"a": 2})
    assert data_version([1, 2]) != data_version([2, 1])
    assert data_version((1, 2)) == data_version([1, 2])


def test_json_int_and_float_differ_as_they_do_in_the_file() -> None:
    assert data_version({"n": 1}) != data_version({"n": 1.0})
    assert data_version(True) != data_version(1)


def test_pydantic_models_hash_as_their_json_dump() -> None:
    class Order(BaseModel):
        id: int
        amount: Decimal

    orders = [Order(id=1, amount=Decimal("9.50")), Order(id=2, amount=Decimal("1"))]
    dumped = [order.model_dump(mode="json") for order in orders]
    assert data_version(orders) == data_version(dumped) == json_version(dumped)


def test_a_table_and_json_never_share_a_version() -> None:
    assert data_version(pd.DataFrame()) != data_version({}) != data_version([])


def test_unstorable_values_raise_the_write_error() -> None:
    with pytest.raises(WriteError, match=r"a value of type set, which assetflow cannot store"):
        data_version({1, 2})


def test_datahash_imports_nothing_of_io() -> None:
    """io imports datahash to version what it writes; the other way round would be a cycle."""
    script = (
        "import sys; import assetflow.datahash; "
        "print(sorted(m for m in sys.modules if m.startswith('assetflow.io')))"
    )
    completed = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        check=True,
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    assert completed.stdout.strip() == "[]"
