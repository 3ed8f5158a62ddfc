"""The IOManager contract: every registered kind that stores tables or values passes it.

A new kind (built in, or registered by a package through the entry-point group
``assetflow.io``) is added to these tests by being registered: the kinds come
from the registry, and each test reads only the protocol (write, read,
read_partitions, stat). See docs/io-kinds.md.
"""

from __future__ import annotations

import math
import shutil
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from assetflow.errors import StoreError, WriteError
from assetflow.io import (
    IOManager,
    IOSettings,
    OutputRef,
    StoredOutput,
    WriteTarget,
    io_manager,
    known_kinds,
    output_exists,
    stat_output,
)
from assetflow.io.base import StorageSettings

# Run again in CI against the oldest supported pandas (see .ci/run).
pytestmark = pytest.mark.oldest_pandas


#: Examples per property: enough to meet each dtype's corner cases, few enough to stay fast.
EXAMPLES = 25
PARTITIONS = [None, "2026-03-01"]

#: The file kinds again, with outputs on object storage (a real S3-compatible server):
#: ``<kind>-on-s3`` is ``<kind>`` built with ``storage = "s3://<a fresh bucket>"``.
ON_S3 = "-on-s3"
FILE_KINDS = ["parquet", "json"]
TABLE_KINDS = [kind for kind in known_kinds() if io_manager(kind).holds == "tables"]
VALUE_KINDS = [kind for kind in known_kinds() if io_manager(kind).holds == "values"]
TABLE_KINDS += [kind + ON_S3 for kind in FILE_KINDS if kind in TABLE_KINDS]
VALUE_KINDS += [kind + ON_S3 for kind in FILE_KINDS if kind in VALUE_KINDS]


def base_kind(kind: str) -> str:
    """The registered kind a test parameter builds (``parquet`` for ``parquet-on-s3``)."""
    return kind.removesuffix(ON_S3)


STORING_KINDS = TABLE_KINDS + VALUE_KINDS

CONTRACT = settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


# --- what is stored -------------------------------------------------------------------


def _text() -> st.SearchStrategy[str]:
    # No surrogates: they cannot be encoded as UTF-8 in any store.
    return st.text(st.characters(exclude_categories=("Cs",)), max_size=8)


@st.composite
def frames(draw: st.DrawFn, zone: str | None = None) -> pd.DataFrame:
    """A DataFrame with pandas 3's str dtype, nullable Int64 with NA, time zone aware
    timestamps (in ``zone``, else a drawn one) and floats (NaN included), 0 to 6 rows."""
    rows = draw(st.integers(0, 6))

    def column(elements: st.SearchStrategy[Any]) -> list[Any]:
        return draw(st.lists(elements, min_size=rows, max_size=rows))

    instants = st.datetimes(  # microseconds: the finest unit every store keeps
        min_value=pd.Timestamp("1990-01-01").to_pydatetime(),
        max_value=pd.Timestamp("2100-01-01").to_pydatetime(),
    )
    zone = zone or draw(st.sampled_from(["UTC", "Europe/Paris", "America/New_York"]))
    return pd.DataFrame(
        {
            "name": pd.Series(column(st.none() | _text()), dtype="str").array,
            "count": pd.array(column(st.none() | st.integers(-(2**62), 2**62)), dtype="Int64"),
            "at": pd.DatetimeIndex(column(instants)).tz_localize("UTC").tz_convert(zone),
            "amount": pd.array(column(st.floats(allow_infinity=False, width=64)), dtype="float64"),
        }
    )


def values() -> st.SearchStrategy[Any]:
    """JSON values: what an asset that returns plain data stores."""
    leaves = (
        st.none()
        | st.booleans()
        | st.integers(-(2**53), 2**53)
        | st.floats(allow_nan=False, allow_infinity=False)
        | _text()
    )
    return st.recursive(
        leaves,
        lambda inner: st.lists(inner, max_size=4) | st.dictionaries(_text(), inner, max_size=4),
        max_leaves=12,
    )


def canonical(frame: pd.DataFrame) -> pd.DataFrame:
    """The frame with each column in one dtype per kind of data, so that two stores that
    return the same data with their own dtypes compare equal (DuckDB gives nullable
    integers and UTC instants; Parquet gives back what was written)."""
    columns = {}
    for name in frame.columns:
        column = frame[name]
        if isinstance(column.dtype, pd.DatetimeTZDtype):
            column = column.dt.tz_convert("UTC").dt.as_unit("us")
        elif pd.api.types.is_integer_dtype(column.dtype):
            column = column.astype("Int64")
        elif pd.api.types.is_string_dtype(column.dtype):
            column = column.astype("str")
        columns[name] = column.reset_index(drop=True)
    return pd.DataFrame(columns, columns=list(frame.columns))


def fits(kind: str, *frames: pd.DataFrame) -> bool:
    """Whether the kind can hold the frames: PostgreSQL's text holds no NUL character."""
    if kind != "postgres":
        return True
    return not any(
        frame["name"].dropna().str.contains("\x00", regex=False).any() for frame in frames
    )


def assert_same_table(back: object, written: pd.DataFrame) -> None:
    assert isinstance(back, pd.DataFrame)
    pd.testing.assert_frame_equal(canonical(back), canonical(written))


def assert_same_value(back: object, written: object) -> None:
    assert back == written
    assert _float_positions(back) == _float_positions(written)  # 1 and 1.0 differ


def _float_positions(value: object, where: str = "$") -> set[str]:
    if isinstance(value, float) and not math.isnan(value):
        return {where}
    if isinstance(value, list):
        return set().union(*(_float_positions(v, f"{where}[{i}]") for i, v in enumerate(value)))
    if isinstance(value, dict):
        return set().union(*(_float_positions(v, f"{where}.{k}") for k, v in value.items()))
    return set()


# --- the contract -----------------------------------------------------------------------


@pytest.fixture
def kind_settings(kind: str, request: pytest.FixtureRequest) -> IOSettings:
    """What ``kind`` is built with: for postgres, a fresh database on the test server."""
    if kind == "postgres":
        return IOSettings(options={"url": request.getfixturevalue("postgres_url")})
    if kind.endswith(ON_S3):
        # Every local path stands for a key in the bucket: the tests' directories vary.
        bucket = request.getfixturevalue("s3_bucket")
        return IOSettings(storage=StorageSettings(f"s3://{bucket}/outputs", Path("/")))
    return IOSettings()


def _wipe_database(settings: IOSettings) -> None:
    """Drop every table of a postgres kind's database, or every object of a kind on object
    storage (as wiping the state dir does files)."""
    if settings.storage is not None:
        import fsspec  # type: ignore[import-untyped]

        fsspec.filesystem("s3", skip_instance_cache=True).rm(settings.storage.url, recursive=True)
        return
    url = settings.options.get("url")
    if url is None:
        return
    import psycopg

    with psycopg.connect(str(url), autocommit=True) as connection:
        connection.execute("DROP SCHEMA public CASCADE")
        connection.execute("CREATE SCHEMA public")


def _write(manager: IOManager, root: Path, value: object, partition: str | None) -> StoredOutput:
    return manager.write(value, WriteTarget("orders", partition, root / "data"))


def _ref(stored: StoredOutput, partition: str | None) -> OutputRef:
    return OutputRef("orders", partition, stored.path)


@pytest.mark.parametrize("partition", PARTITIONS)
@pytest.mark.parametrize("kind", TABLE_KINDS)
@CONTRACT
@given(frame=frames())
def test_a_table_reads_back_as_written(
    kind: str,
    partition: str | None,
    frame: pd.DataFrame,
    tmp_path_factory: pytest.TempPathFactory,
    kind_settings: IOSettings,
) -> None:
    assume(fits(kind, frame))
    root = tmp_path_factory.mktemp(kind)
    manager = io_manager(base_kind(kind), kind_settings)
    stored = _write(manager, root, frame, partition)
    assert stored.kind == base_kind(kind)
    assert stored.rows == len(frame)
    assert [name for name, _ in stored.columns][: len(frame.columns)] == list(frame.columns)
    assert_same_table(manager.read(_ref(stored, partition)), frame)


@pytest.mark.parametrize("partition", PARTITIONS)
@pytest.mark.parametrize("kind", VALUE_KINDS)
@CONTRACT
@given(value=values())
def test_a_value_reads_back_as_written(
    kind: str,
    partition: str | None,
    value: object,
    tmp_path_factory: pytest.TempPathFactory,
    kind_settings: IOSettings,
) -> None:
    manager = io_manager(base_kind(kind), kind_settings)
    stored = _write(manager, tmp_path_factory.mktemp(kind), value, partition)
    assert stored.kind == base_kind(kind)
    assert_same_value(manager.read(_ref(stored, partition)), value)


@pytest.mark.parametrize("kind", TABLE_KINDS)
@CONTRACT
@given(first=frames(zone="Europe/Paris"), second=frames(zone="Europe/Paris"))
def test_rewriting_a_partition_replaces_exactly_it(
    kind: str,
    first: pd.DataFrame,
    second: pd.DataFrame,
    tmp_path_factory: pytest.TempPathFactory,
    kind_settings: IOSettings,
) -> None:
    # One zone for all partitions: Parquet partitions in different zones do not
    # combine into one table (a StoreError that says so).
    assume(fits(kind, first, second))
    root = tmp_path_factory.mktemp(kind)
    manager = io_manager(base_kind(kind), kind_settings)
    neighbour = first.iloc[::-1]
    beside = _write(manager, root, neighbour, "2026-03-02")
    _write(manager, root, first, "2026-03-01")
    stored = _write(manager, root, second, "2026-03-01")
    assert_same_table(manager.read(_ref(stored, "2026-03-01")), second)  # no duplicates
    both = manager.read_partitions(
        "orders", [_ref(stored, "2026-03-01"), _ref(beside, "2026-03-02")]
    )
    assert_same_table(both, pd.concat([second, neighbour], ignore_index=True))


@pytest.mark.parametrize("kind", VALUE_KINDS)
@CONTRACT
@given(first=values(), second=values())
def test_rewriting_a_value_replaces_it(
    kind: str,
    first: object,
    second: object,
    tmp_path_factory: pytest.TempPathFactory,
    kind_settings: IOSettings,
) -> None:
    root = tmp_path_factory.mktemp(kind)
    manager = io_manager(base_kind(kind), kind_settings)
    _write(manager, root, first, "2026-03-01")
    stored = _write(manager, root, second, "2026-03-01")
    assert_same_value(manager.read(_ref(stored, "2026-03-01")), second)
    both = manager.read_partitions("orders", [_ref(stored, "2026-03-01")])
    assert both == {"2026-03-01": second}


@pytest.mark.parametrize("partition", PARTITIONS)
@pytest.mark.parametrize("kind", STORING_KINDS)
def test_stat_matches_what_was_written(
    kind: str, partition: str | None, tmp_path: Path, kind_settings: IOSettings
) -> None:
    manager = io_manager(base_kind(kind), kind_settings)
    value: object = pd.DataFrame({"id": [1, 2, 3]}) if kind in TABLE_KINDS else [1, 2, 3]
    stored = _write(manager, tmp_path, value, partition)
    stat = manager.stat(_ref(stored, partition))
    assert stat is not None
    assert stat == stat_output(base_kind(kind), _ref(stored, partition), kind_settings)
    assert output_exists(base_kind(kind), _ref(stored, partition), kind_settings)
    assert stat.bytes is not None or stat.rows is not None  # something to compare with
    if stat.bytes is not None:
        assert stat.bytes == stored.bytes
        assert stat.modified_at is not None
    if stat.rows is not None:
        assert stat.rows == stored.rows == 3
    # Writing again changes what stat sees the same way.
    bigger: object = pd.DataFrame({"id": range(50)}) if kind in TABLE_KINDS else list(range(50))
    again = _write(manager, tmp_path, bigger, partition)
    restat = manager.stat(_ref(again, partition))
    assert restat is not None
    assert restat.bytes is None or restat.bytes == again.bytes
    assert restat.rows is None or restat.rows == 50


DELETING_KINDS = [
    kind for kind in STORING_KINDS if callable(getattr(io_manager(base_kind(kind)), "delete", None))
]


@pytest.mark.parametrize("kind", DELETING_KINDS)
def test_deleting_a_partition_deletes_exactly_it(
    kind: str, tmp_path: Path, kind_settings: IOSettings
) -> None:
    """What `partitions remove --prune` does with a kind that shares one file."""
    manager = io_manager(base_kind(kind), kind_settings)
    table = kind in TABLE_KINDS
    kept = _write(manager, tmp_path, pd.DataFrame({"id": [1, 2]}) if table else [1, 2], "a")
    gone = _write(manager, tmp_path, pd.DataFrame({"id": [3]}) if table else [3], "b")
    manager.delete(_ref(gone, "b"))
    stat = manager.stat(_ref(gone, "b"))
    assert stat is None or stat.rows == 0
    left = manager.read(_ref(kept, "a"))
    if table:
        assert_same_table(left, pd.DataFrame({"id": [1, 2]}))
    else:
        assert left == [1, 2]
    manager.delete(_ref(gone, "b"))  # already gone: no error
    manager.delete(OutputRef("orders", "b", tmp_path / "nowhere.db"))


def test_the_duckdb_kind_deletes_its_partitions() -> None:
    assert "duckdb" in DELETING_KINDS


@pytest.mark.parametrize("partition", PARTITIONS)
@pytest.mark.parametrize("kind", STORING_KINDS)
def test_a_missing_output_is_reported_missing(
    kind: str,
    partition: str | None,
    tmp_path: Path,
    kind_settings: IOSettings,
) -> None:
    """The state directory was wiped after the write: stat, exists and read all say so."""
    manager = io_manager(base_kind(kind), kind_settings)
    value: object = pd.DataFrame({"id": [1]}) if kind in TABLE_KINDS else {"id": 1}
    stored = _write(manager, tmp_path / "state", value, partition)
    shutil.rmtree(tmp_path / "state", ignore_errors=True)  # postgres writes no file
    _wipe_database(kind_settings)
    ref = _ref(stored, partition)
    assert manager.stat(ref) is None
    assert not output_exists(base_kind(kind), ref, kind_settings)
    with pytest.raises(StoreError, match=r"missing(.|\n)*materialize"):
        manager.read(ref)
    with pytest.raises(StoreError, match=r"missing(.|\n)*materialize"):
        manager.read_partitions("orders", [OutputRef("orders", "2026-03-01", stored.path)])
    with pytest.raises(StoreError, match=r"missing(.|\n)*materialize"):
        manager.head(ref, 5)


@pytest.mark.parametrize("partition", PARTITIONS)
@pytest.mark.parametrize("kind", TABLE_KINDS)
@CONTRACT
@given(frame=frames(zone="UTC"), limit=st.integers(0, 8))
def test_the_head_of_a_table_is_its_first_rows(
    kind: str,
    partition: str | None,
    frame: pd.DataFrame,
    limit: int,
    tmp_path_factory: pytest.TempPathFactory,
    kind_settings: IOSettings,
) -> None:
    """``head`` gives a pyarrow Table: the first ``limit`` rows of what ``read`` gives as a
    Table, and the total when the kind knows it."""
    import pyarrow as pa

    assume(fits(kind, frame))
    manager = io_manager(base_kind(kind), kind_settings)
    root = tmp_path_factory.mktemp(kind)
    if partition is not None:
        _write(manager, root, frame.iloc[::-1], "2026-03-02")  # a neighbour is left out
    stored = _write(manager, root, frame, partition)
    ref = _ref(stored, partition)
    head = manager.head(ref, limit)
    assert isinstance(head.value, pa.Table)
    assert head.total in (None, len(frame))
    whole = manager.read(ref, pa.Table)
    assert isinstance(whole, pa.Table)
    assert head.value.num_rows == min(limit, len(frame))
    assert head.value.equals(whole.slice(0, limit))


@pytest.mark.parametrize("kind", VALUE_KINDS)
@pytest.mark.parametrize(
    ("value", "limit", "expected", "total"),
    [
        (list(range(30)), 10, list(range(10)), 30),
        ([1, 2], 10, [1, 2], 2),
        ({"a": 1, "b": 2, "c": 3}, 2, {"a": 1, "b": 2}, 3),
        ("a plain value", 10, "a plain value", None),
        ([], 5, [], 0),
    ],
)
def test_the_head_of_a_value_cuts_a_list_or_dict(
    kind: str,
    value: object,
    limit: int,
    expected: object,
    total: int | None,
    tmp_path: Path,
    kind_settings: IOSettings,
) -> None:
    manager = io_manager(base_kind(kind), kind_settings)
    stored = _write(manager, tmp_path, value, None)
    head = manager.head(_ref(stored, None), limit)
    assert head.value == expected
    assert head.total == total


def test_the_head_of_nothing_is_none() -> None:
    head = io_manager("none").head(OutputRef("orders", None, None), 10)
    assert head.value is None
    assert head.total is None


@pytest.mark.parametrize("kind", TABLE_KINDS)
def test_a_table_kind_refuses_a_value(kind: str, tmp_path: Path, kind_settings: IOSettings) -> None:
    with pytest.raises(WriteError, match=r"asset 'orders'"):
        _write(io_manager(base_kind(kind), kind_settings), tmp_path, {"not": "a table"}, None)


@pytest.mark.parametrize("kind", VALUE_KINDS)
def test_a_value_kind_refuses_a_table(kind: str, tmp_path: Path, kind_settings: IOSettings) -> None:
    with pytest.raises(WriteError, match=r"asset 'orders'"):
        _write(
            io_manager(base_kind(kind), kind_settings), tmp_path, pd.DataFrame({"id": [1]}), None
        )


@pytest.mark.parametrize("kind", STORING_KINDS)
def test_no_partitions_read_as_empty(kind: str, kind_settings: IOSettings) -> None:
    back = io_manager(base_kind(kind), kind_settings).read_partitions("orders", [])
    if kind in TABLE_KINDS:
        assert isinstance(back, pd.DataFrame)
        assert back.empty
    else:
        assert back == {}


def test_every_storing_built_in_kind_is_under_contract() -> None:
    assert {"parquet", "duckdb"} <= set(TABLE_KINDS)
    assert "json" in VALUE_KINDS
