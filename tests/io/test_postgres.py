"""The postgres io kind against a real server: types round trip with their dtypes, a
partition replaced atomically (a writer killed mid-load leaves the old rows), an
unpartitioned table swapped whole, schema changes, and every bad input's message."""

from __future__ import annotations

import datetime
import decimal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path
from typing import Any

import pandas as pd
import psycopg
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from assetflow.errors import StoreError, WriteError
from assetflow.io import IOSettings, OutputRef, WriteTarget, io_manager
from assetflow.io.base import NamedIO
from assetflow.io.postgres import PostgresIO
from assetflow.io.versions import data_version
from tests.postgres_server import PostgresServer

REPO = Path(__file__).resolve().parents[2]


def manager(url: str, **options: object) -> PostgresIO:
    built = io_manager("postgres", IOSettings(options={"url": url, **options}))
    assert isinstance(built, PostgresIO)
    return built


def write(io: PostgresIO, frame: object, partition: str | None = None, asset: str = "orders"):
    return io.write(frame, WriteTarget(asset, partition, Path("/nowhere")))


def read(io: PostgresIO, partition: str | None = None, asset: str = "orders") -> Any:
    return io.read(OutputRef(asset, partition, None))


def query(url: str, sql: str, *parameters: object) -> list[tuple[Any, ...]]:
    with psycopg.connect(url, autocommit=True) as connection:
        cursor = connection.execute(sql, parameters or None)
        return cursor.fetchall() if cursor.description else []


def every_type() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "big": [1, 2, 3],
            "nullable": pd.array([1, None, 3], dtype="Int64"),
            "int32": pd.array([1, 2, 3], dtype="int32"),
            "small": pd.array([1, None, 3], dtype="Int16"),
            "tiny": pd.array([1, 2, 3], dtype="int8"),
            "float": [1.5, float("nan"), 2.0],
            "single": pd.array([1.5, 2.5, 3.5], dtype="float32"),
            "flag": [True, False, True],
            "maybe": pd.array([True, None, False], dtype="boolean"),
            "text": pd.Series(["a", None, "c"], dtype="str"),
            "objects": pd.Series(["x", "y", None], dtype=object),
            "money": [decimal.Decimal("1.10"), None, decimal.Decimal("-3")],
            "day": [datetime.date(2020, 1, 1), None, datetime.date(2021, 2, 3)],
            "nested": [[1, 2], [3], None],
            "mapping": [{"a": 1, "b": [1]}, {"a": 2, "b": []}, None],
            "naive": pd.to_datetime(["2020-01-01 10:00", None, "2021-01-01 00:00"]).as_unit("us"),
            "zoned": pd.to_datetime(["2020-01-01 10:00", None, "2021-03-28 02:30"])
            .tz_localize("Europe/Paris", nonexistent="shift_forward")
            .as_unit("us"),
        }
    )


@pytest.mark.parametrize("partition", [None, "2026-03-01"])
def test_every_type_reads_back_with_its_dtype(postgres_url: str, partition: str | None) -> None:
    io = manager(postgres_url)
    frame = every_type()
    stored = write(io, frame, partition)
    assert stored.kind == "postgres"
    assert stored.rows == 3
    assert stored.path is None
    back = read(io, partition)
    pd.testing.assert_frame_equal(back, frame)
    types = dict(
        query(
            postgres_url,
            "SELECT column_name, data_type FROM information_schema.columns "
            "WHERE table_name = 'orders'",
        )
    )
    assert types["big"] == "bigint"
    assert types["int32"] == "integer"
    assert types["small"] == types["tiny"] == "smallint"
    assert types["float"] == "double precision"
    assert types["single"] == "real"
    assert types["flag"] == types["maybe"] == "boolean"
    assert types["text"] == types["objects"] == "text"
    assert types["money"] == "numeric"
    assert types["day"] == "date"
    assert types["nested"] == types["mapping"] == "jsonb"
    assert types["naive"] == "timestamp without time zone"
    assert types["zoned"] == "timestamp with time zone"


def test_the_data_version_is_the_parquet_one(postgres_url: str) -> None:
    frame = every_type()
    stored = write(manager(postgres_url), frame, "2026-03-01")
    assert stored.data_version == data_version(frame)
    parquet = io_manager("parquet").write(frame, WriteTarget("orders", None, Path("/tmp")))
    assert stored.data_version == parquet.data_version


@st.composite
def frames(draw: st.DrawFn) -> pd.DataFrame:
    rows = draw(st.integers(0, 8))

    def column(elements: st.SearchStrategy[Any]) -> list[Any]:
        return draw(st.lists(elements, min_size=rows, max_size=rows))

    text = st.text(st.characters(exclude_categories=("Cs",), exclude_characters="\x00"))
    instants = st.datetimes(
        min_value=datetime.datetime(1900, 1, 1), max_value=datetime.datetime(2200, 1, 1)
    )
    zone = draw(st.sampled_from(["UTC", "Asia/Kolkata", "America/New_York"]))
    return pd.DataFrame(
        {
            "i64": pd.array(column(st.integers(-(2**63), 2**63 - 1)), dtype="int64"),
            "n32": pd.array(column(st.none() | st.integers(-(2**31), 2**31 - 1)), dtype="Int32"),
            "f": pd.array(column(st.floats(allow_nan=True, allow_infinity=True)), dtype="float64"),
            "b": pd.array(column(st.none() | st.booleans()), dtype="boolean"),
            "s": pd.Series(column(st.none() | text), dtype="str"),
            "d": pd.Series(
                column(st.none() | st.decimals(allow_nan=False, allow_infinity=False, places=3)),
                dtype=object,
            ),
            "day": pd.Series(column(st.none() | st.dates()), dtype=object),
            "at": pd.DatetimeIndex(column(instants)).as_unit("us"),
            "zoned": pd.DatetimeIndex(column(instants))
            .as_unit("us")
            .tz_localize("UTC")
            .tz_convert(zone),
        }
    )


@pytest.mark.parametrize("partition", [None, "p"])
@settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(frame=frames())
def test_generated_frames_round_trip(postgres_url: str, partition: str | None, frame) -> None:
    io = manager(postgres_url)
    write(io, frame, partition)
    pd.testing.assert_frame_equal(read(io, partition), frame)


def test_a_partition_is_replaced_exactly_and_its_neighbours_kept(postgres_url: str) -> None:
    io = manager(postgres_url)
    write(io, pd.DataFrame({"id": [1, 2, 3]}), "a")
    write(io, pd.DataFrame({"id": [10, 20]}), "b")
    write(io, pd.DataFrame({"id": [4, 5]}), "a")
    write(io, pd.DataFrame({"id": [4, 5]}), "a")  # a retry: never appended twice
    assert read(io, "a")["id"].tolist() == [4, 5]
    assert read(io, "b")["id"].tolist() == [10, 20]
    both = io.read_partitions("orders", [OutputRef("orders", k, None) for k in ("b", "a")])
    assert both["id"].tolist() == [10, 20, 4, 5]
    assert io.stat(OutputRef("orders", "a", None)).rows == 2  # type: ignore[union-attr]
    head = io.head(OutputRef("orders", "b", None), 1)
    assert head.total == 2
    assert head.value.to_pydict() == {"id": [10]}  # type: ignore[attr-defined]


def test_an_unpartitioned_table_is_swapped_whole(postgres_url: str) -> None:
    io = manager(postgres_url, schema="analytics")
    write(io, pd.DataFrame({"id": [1, 2], "old": ["x", "y"]}))
    write(io, pd.DataFrame({"id": ["a"], "new": [1.5]}))  # any new schema: a new table
    assert read(io).to_dict("list") == {"id": ["a"], "new": [1.5]}
    tables = query(
        postgres_url,
        "SELECT table_name FROM information_schema.tables WHERE table_schema = %s",
        "analytics",
    )
    assert tables == [("orders",)]  # no new table left behind


def test_a_new_column_is_added_and_a_missing_one_kept(postgres_url: str) -> None:
    io = manager(postgres_url)
    write(io, pd.DataFrame({"id": [1], "gone": ["x"]}), "a")
    write(io, pd.DataFrame({"id": [2], "added": [2.5]}), "b")
    back = io.read_partitions("orders", [OutputRef("orders", k, None) for k in ("a", "b")])
    assert list(back.columns) == ["id", "gone", "added"]
    assert back["gone"].tolist()[0] == "x"
    assert pd.isna(back["gone"].tolist()[1])
    assert back["added"].tolist()[1] == 2.5


def test_a_type_that_widens_is_widened(postgres_url: str) -> None:
    io = manager(postgres_url)
    write(io, pd.DataFrame({"n": pd.array([1, 2], dtype="int16")}), "a")
    write(io, pd.DataFrame({"n": [2**40]}), "b")
    write(io, pd.DataFrame({"n": pd.array([7], dtype="int32")}), "c")  # fits the wider column
    back = io.read_partitions("orders", [OutputRef("orders", k, None) for k in "abc"])
    assert back["n"].tolist() == [1, 2, 2**40, 7]
    assert str(back["n"].dtype) == "int64"


def test_an_incompatible_type_change_is_refused_with_how_to_fix_it(postgres_url: str) -> None:
    io = manager(postgres_url)
    write(io, pd.DataFrame({"n": [1, 2]}), "a")
    with pytest.raises(WriteError) as caught:
        write(io, pd.DataFrame({"n": ["one"]}), "b")
    message = caught.value.format_message()
    assert "partition 'b' has the column 'n' as text" in message
    assert "stores it as bigint for other partitions" in message
    assert 'DROP TABLE "public"."orders"' in message
    assert read(io, "a")["n"].tolist() == [1, 2]  # nothing written


def test_a_column_that_cannot_map_is_named_with_its_dtype(postgres_url: str) -> None:
    frame = pd.DataFrame({"id": [1], "wait": pd.to_timedelta(["1h"])})
    with pytest.raises(WriteError, match=r"column 'wait' of dtype timedelta64\[\w+\], which no "):
        write(manager(postgres_url), frame)
    mixed = pd.DataFrame({"id": [1, 2], "what": pd.Series([1, "x"], dtype=object)})
    with pytest.raises(WriteError, match=r"column 'what' of dtype object holding int, text"):
        write(manager(postgres_url), mixed)


def test_text_with_a_nul_character_is_refused(postgres_url: str) -> None:
    with pytest.raises(WriteError, match=r"column 'name' with a NUL character"):
        write(manager(postgres_url), pd.DataFrame({"name": ["a\x00b"]}))


def test_a_partition_column_of_its_own_is_refused(postgres_url: str) -> None:
    with pytest.raises(WriteError, match=r"returned a column named 'partition_key'"):
        write(manager(postgres_url), pd.DataFrame({"partition_key": [1]}), "a")


def test_a_table_written_unpartitioned_refuses_partitions(postgres_url: str) -> None:
    io = manager(postgres_url)
    write(io, pd.DataFrame({"id": [1]}))
    with pytest.raises(WriteError, match=r"no 'partition_key' column: it was written while"):
        write(io, pd.DataFrame({"id": [1]}), "a")
    with pytest.raises(StoreError, match=r"is stored unpartitioned in the PostgreSQL table"):
        read(io, "a")


def test_a_value_that_is_not_a_table_is_refused(postgres_url: str) -> None:
    with pytest.raises(WriteError, match=r"returned a dict, which is not a table"):
        write(manager(postgres_url), {"a": 1})


def test_a_missing_table_reads_as_missing(postgres_url: str) -> None:
    io = manager(postgres_url)
    assert io.stat(OutputRef("orders", None, None)) is None
    with pytest.raises(StoreError, match=r"is missing: the PostgreSQL server .* has no table"):
        read(io)


def test_bare_postgres_without_a_url_says_to_add_named_settings(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("ASSETFLOW_POSTGRES_URL", raising=False)
    with pytest.raises(WriteError) as caught:
        write(io_manager("postgres"), pd.DataFrame({"id": [1]}))  # type: ignore[arg-type]
    message = caught.value.format_message()
    assert 'io="postgres" needs a PostgreSQL server, and none is named' in message
    assert "[tool.assetflow.io.warehouse]" in message
    assert "ASSETFLOW_POSTGRES_URL" in message


def test_bare_postgres_reads_its_url_from_the_default_variable(
    postgres_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ASSETFLOW_POSTGRES_URL", postgres_url)
    io = io_manager("postgres")
    write(io, pd.DataFrame({"id": [1]}))  # type: ignore[arg-type]
    assert read(io)["id"].tolist() == [1]  # type: ignore[arg-type]


def test_a_named_io_records_its_name(postgres_url: str) -> None:
    from assetflow.io.output import write_output

    settings = IOSettings(named={"warehouse": NamedIO("postgres", {"url": postgres_url})})
    stored = write_output(
        "orders", pd.DataFrame({"id": [1]}), "warehouse", Path("/x"), settings=settings
    )
    assert stored.kind == "warehouse"
    assert io_manager("warehouse", settings).read(OutputRef("orders", None, None))[
        "id"
    ].tolist() == [1]  # type: ignore[attr-defined]


def test_a_wrong_password_names_host_and_user_but_never_the_password(
    postgres_server: PostgresServer, postgres_url: str
) -> None:
    database = postgres_url.rsplit("/", 1)[1]
    url = postgres_server.url(database, password="not-the-secret-4242")
    with pytest.raises(WriteError) as caught:
        write(manager(url), pd.DataFrame({"id": [1]}))
    message = caught.value.format_message()
    assert "not-the-secret-4242" not in message
    assert f"host 127.0.0.1:{postgres_server.port}, database {database}, user" in message
    assert "Nothing was written" in message


def test_an_unreachable_server_is_named(postgres_server: PostgresServer) -> None:
    from tests.postgres_server import free_port

    url = f"postgresql://someone:hush-1234@127.0.0.1:{free_port()}/db?connect_timeout=2"
    with pytest.raises(StoreError) as caught:
        read(manager(url))
    message = caught.value.format_message()
    assert "hush-1234" not in message
    assert "cannot connect" in message
    assert "database db, user someone" in message


def _blocked_writer(url: str, **options: object) -> tuple[threading.Thread, list[BaseException]]:
    """A writer of partition 'a' that waits on a lock the test holds on the table."""
    failures: list[BaseException] = []

    def load() -> None:
        try:
            write(manager(url, **options), pd.DataFrame({"id": [7, 8, 9]}), "a")
        except BaseException as error:  # the test looks at it
            failures.append(error)

    return threading.Thread(target=load), failures


def _wait_for_lock_wait(url: str) -> int:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        rows = query(
            url,
            "SELECT pid FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
            "AND query LIKE 'DELETE FROM%%'",
        )
        if rows:
            return int(rows[0][0])
        time.sleep(0.02)
    raise AssertionError("the writer never waited on the lock")


def test_a_connection_lost_mid_replace_writes_nothing(postgres_url: str) -> None:
    io = manager(postgres_url)
    write(io, pd.DataFrame({"id": [1, 2]}), "a")
    with psycopg.connect(postgres_url) as holder:
        holder.execute("LOCK TABLE orders IN SHARE MODE")  # the writer's DELETE waits
        thread, failures = _blocked_writer(postgres_url)
        thread.start()
        pid = _wait_for_lock_wait(postgres_url)
        query(postgres_url, "SELECT pg_terminate_backend(%s)", pid)
        thread.join(20)
    assert len(failures) == 1
    message = failures[0].format_message()  # type: ignore[attr-defined]
    assert "cannot write asset 'orders' partition 'a': the connection was lost" in message
    assert "Nothing was written: the transaction was rolled back." in message
    assert read(io, "a")["id"].tolist() == [1, 2]


def test_the_statement_timeout_is_said(postgres_url: str) -> None:
    io = manager(postgres_url)
    write(io, pd.DataFrame({"id": [1, 2]}), "a")
    with psycopg.connect(postgres_url) as holder:
        holder.execute("LOCK TABLE orders IN SHARE MODE")
        thread, failures = _blocked_writer(postgres_url, statement_timeout=0.3)
        thread.start()
        thread.join(20)
    assert len(failures) == 1
    message = failures[0].format_message()  # type: ignore[attr-defined]
    assert "longer than the statement timeout (0.3 s)" in message
    assert "Raise `statement_timeout`" in message
    assert read(io, "a")["id"].tolist() == [1, 2]


KILLED_WRITER = """
    import sys
    import numpy as np
    import pandas as pd
    from pathlib import Path
    from assetflow.io import IOSettings, WriteTarget, io_manager

    url, partition = sys.argv[1], sys.argv[2]
    rows = 3_000_000
    frame = pd.DataFrame({"id": np.arange(rows), "amount": np.ones(rows)})
    io = io_manager("postgres", IOSettings(options={"url": url}))
    print("loading", flush=True)
    io.write(frame, WriteTarget("orders", partition if partition != "-" else None, Path("/x")))
    print("done", flush=True)
"""


@pytest.mark.parametrize("partition", ["a", None])
def test_a_writer_killed_mid_load_leaves_the_old_rows(
    postgres_url: str, tmp_path: Path, partition: str | None
) -> None:
    io = manager(postgres_url)
    write(io, pd.DataFrame({"id": [1, 2], "amount": [0.5, 0.5]}), partition)
    script = tmp_path / "writer.py"
    script.write_text(textwrap.dedent(KILLED_WRITER))
    process = subprocess.Popen(
        [sys.executable, str(script), postgres_url, partition or "-"],
        cwd=REPO,
        env={"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin"},
        stdout=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            copying = query(
                postgres_url,
                "SELECT count(*) FROM pg_stat_activity WHERE query LIKE 'COPY %%' "
                "AND state = 'active'",
            )
            if copying[0][0]:
                break
            time.sleep(0.01)
        else:
            raise AssertionError("the writer never started its COPY")
        time.sleep(0.1)
        process.kill()  # SIGKILL: no chance to roll back on its side
    finally:
        process.wait(10)
    assert process.returncode == -9
    assert read(io, partition)["id"].tolist() == [1, 2]
    write(io, pd.DataFrame({"id": [3], "amount": [1.0]}), partition)  # nothing left locked
    assert read(io, partition)["id"].tolist() == [3]


def test_a_coarser_timestamp_unit_never_truncates_other_partitions(postgres_url: str) -> None:
    io = manager(postgres_url)
    at = pd.DatetimeIndex(["2000-01-01 00:00:00.000001"]).as_unit("us").tz_localize("UTC")
    write(io, pd.DataFrame({"at": at}), "a")
    empty = pd.DataFrame({"at": pd.DatetimeIndex([]).as_unit("s").tz_localize("UTC")})
    write(io, empty, "b")  # an empty frame's timestamps come in seconds
    back = read(io, "a")
    assert back["at"].iloc[0] == at[0]
    assert str(back["at"].dtype) == "datetime64[us, UTC]"
