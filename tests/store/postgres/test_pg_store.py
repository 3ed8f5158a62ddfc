"""The PostgreSQL store's own behaviour: its URL options, its errors, the use lock against
`migrate`, its pool, text with NUL characters, and how many statements the planner's read is."""

from __future__ import annotations

import multiprocessing
import threading
import time
from datetime import UTC, datetime, timedelta
from itertools import pairwise
from typing import Any

import psycopg
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from assetflow.errors import StoreError
from assetflow.services.planning import read_snapshot
from assetflow.store import Lease, MaterializationRecord, RunRecord, RunStatus, open_store
from assetflow.store.postgres import PostgresStore
from assetflow.store.postgres.connection import PgDatabase, escape_text, parse_pg_url
from assetflow.store.postgres.schema import LATEST_VERSION, USE_LOCK_KEY, migrate
from tests.postgres_server import PostgresServer
from tests.store.builders import at, materialization
from tests.store.conftest import empty_postgres_store
from tests.store.test_store_roundtrip import EVENTS, MATERIALIZATIONS, RUNS, TEXT


@pytest.fixture
def empty_url(postgres_url: str) -> str:
    """A database with no schema."""
    return postgres_url


@pytest.fixture
def migrated_url(postgres_url: str) -> str:
    """A fresh database with the store's schema."""
    database = PgDatabase(postgres_url)
    try:
        assert migrate(database).after == LATEST_VERSION
    finally:
        database.close()
    return postgres_url


def _sessions(url: str) -> list[tuple[int, str]]:
    """The other sessions connected to the database of ``url``: (pid, application name)."""
    with psycopg.connect(url, autocommit=True) as connection:
        rows = connection.execute(
            "SELECT pid, application_name FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()"
        ).fetchall()
    return [(int(pid), str(name)) for pid, name in rows]


# -- the URL and its options -----------------------------------------------------------------


def test_own_options_are_taken_out_and_libpq_options_pass_through() -> None:
    parsed = parse_pg_url(
        "postgresql://u:pw@h:5433/d?pool_min=0&pool_max=2&statement_timeout=1.5"
        "&sslmode=disable&application_name=nightly"
    )
    assert (parsed.options.pool_min, parsed.options.pool_max) == (0, 2)
    assert parsed.options.statement_timeout == 1.5
    assert parsed.libpq == (
        "postgresql://u:pw@h:5433/d?sslmode=disable&application_name=nightly&connect_timeout=10"
    )
    assert parsed.shown.startswith("postgresql://u:***@h:5433/d?")


def test_defaults() -> None:
    parsed = parse_pg_url("postgres://h/d")
    assert (parsed.options.pool_min, parsed.options.pool_max) == (1, 4)
    assert parsed.options.statement_timeout is None
    assert parsed.libpq == "postgres://h/d?connect_timeout=10&application_name=assetflow"


def test_an_unknown_option_is_named_with_the_known_ones() -> None:
    with pytest.raises(StoreError) as caught:
        open_store("postgresql://u:secret@127.0.0.1:1/d?pool_size=3")
    message = str(caught.value)
    assert "has the option 'pool_size', which neither assetflow nor libpq knows" in message
    assert "pool_min" in message
    assert "pool_max" in message
    assert "statement_timeout" in message
    assert "secret" not in message


@pytest.mark.parametrize(
    ("option", "said"),
    [
        ("pool_max=0", "has pool_max='0', which is not a whole number of at least 1."),
        ("pool_min=x", "has pool_min='x', which is not a whole number of at least 0."),
        ("pool_min=5", "has pool_min=5 above pool_max=4."),
        ("statement_timeout=-1", "has statement_timeout='-1', which is not a number of seconds"),
    ],
)
def test_a_bad_option_value_is_refused(option: str, said: str) -> None:
    with pytest.raises(StoreError, match="pool_min") as caught:
        parse_pg_url(f"postgresql://u:secret@h/d?{option}")
    assert said in str(caught.value)
    assert "secret" not in str(caught.value)


def test_libpq_options_reach_the_server(migrated_url: str) -> None:
    with open_store(f"{migrated_url}?application_name=nightly-report") as store:
        assert isinstance(store, PostgresStore)
        assert "nightly-report" in {name for _, name in _sessions(migrated_url)}


def test_server_options_in_the_url_join_the_stores_own(migrated_url: str) -> None:
    url = f"{migrated_url}?options=-c%20work_mem%3D5MB&statement_timeout=7"
    with PostgresStore(url) as store, store.unit_of_work() as unit:
        settings = unit.execute(
            "read settings",
            "SELECT current_setting('work_mem'), current_setting('statement_timeout'), "
            "current_setting('TimeZone')",
        )
    assert settings == [("5MB", "7s", "UTC")]


# -- connecting --------------------------------------------------------------------------------


def test_an_unreachable_server_fails_at_once_naming_host_and_user() -> None:
    started = time.monotonic()
    with pytest.raises(StoreError) as caught:
        open_store("postgresql://deploy@127.0.0.1:1/meta")
    assert time.monotonic() - started < 5
    assert str(caught.value).startswith(
        "cannot connect to the PostgreSQL metadata store (host 127.0.0.1:1, database meta, "
        'user deploy): connection failed: connection to server at "127.0.0.1", port 1 failed: '
        "Connection refused"
    )
    assert "Check that the server is up and reachable" in caught.value.hint


def test_a_wrong_password_says_so_without_showing_it(
    postgres_server: PostgresServer, migrated_url: str
) -> None:
    wrong = migrated_url.replace(postgres_server.password, "not-the-password")
    with pytest.raises(StoreError) as caught:
        open_store(wrong)
    text = str(caught.value)
    assert 'password authentication failed for user "assetflow"' in text
    assert "not-the-password" not in text
    assert postgres_server.password not in text
    assert ":***@" in caught.value.hint


def test_a_database_without_the_schema_says_to_migrate(empty_url: str) -> None:
    with pytest.raises(StoreError) as caught:
        open_store(empty_url)
    assert "has no assetflow schema yet: run `assetflow store migrate`" in str(caught.value)
    assert _sessions(empty_url) == []  # nothing left connected


def test_a_newer_schema_is_refused(migrated_url: str) -> None:
    with psycopg.connect(migrated_url, autocommit=True) as connection:
        connection.execute(
            "INSERT INTO schema_version VALUES (%s, 'from the future', now())",
            (LATEST_VERSION + 1,),
        )
    with pytest.raises(StoreError) as caught:
        open_store(migrated_url)
    assert (
        f"has schema version {LATEST_VERSION + 1}, but this assetflow only knows versions up "
        f"to {LATEST_VERSION}: a newer assetflow migrated it."
    ) in str(caught.value)
    assert "Upgrade assetflow" in caught.value.hint


def test_a_statement_past_the_timeout_is_cancelled_with_advice(migrated_url: str) -> None:
    with open_store(f"{migrated_url}?statement_timeout=0.2") as store:
        assert isinstance(store, PostgresStore)
        with pytest.raises(StoreError) as caught, store.unit_of_work() as unit:
            unit.execute("wait", "SELECT pg_sleep(3)")
        assert str(caught.value).startswith(
            "cannot wait: a statement ran longer than the statement timeout (0.2 s) of the "
            "PostgreSQL metadata store postgresql://assetflow:***@"
        )
        assert "?statement_timeout=SECONDS" in caught.value.hint
        store.create_run(RunRecord(run_id="r1", started_at=at(0)))  # the store goes on
        assert store.get_run("r1") is not None


def test_a_closed_store_says_so(migrated_url: str) -> None:
    store = open_store(migrated_url)
    store.close()
    store.close()
    with pytest.raises(StoreError, match="is closed"):
        store.list_runs()


# -- the use lock and migrate ------------------------------------------------------------------


def test_migrate_is_idempotent(migrated_url: str) -> None:
    database = PgDatabase(migrated_url)
    try:
        result = migrate(database)
    finally:
        database.close()
    assert (result.before, result.after) == (LATEST_VERSION, LATEST_VERSION)


def test_migrate_refuses_while_stores_are_open_naming_them(migrated_url: str) -> None:
    with open_store(migrated_url), open_store(f"{migrated_url}?application_name=the-ui"):
        database = PgDatabase(migrated_url)
        try:
            with pytest.raises(StoreError) as caught:
                migrate(database)
        finally:
            database.close()
    text = str(caught.value)
    assert "cannot migrate the PostgreSQL metadata store" in text
    assert ": 2 other sessions have it open (pid " in text
    assert "(assetflow)" in text
    assert "(the-ui)" in text
    assert "--wait" in caught.value.hint
    database = PgDatabase(migrated_url)  # once they are closed, it goes ahead
    try:
        assert migrate(database).before == LATEST_VERSION
    finally:
        database.close()


def test_migrate_with_wait_waits_until_the_stores_close(migrated_url: str) -> None:
    store = open_store(migrated_url)
    closer = threading.Timer(1.0, store.close)
    closer.start()
    database = PgDatabase(migrated_url)
    started = time.monotonic()
    try:
        migrate(database, wait=True)
    finally:
        database.close()
        closer.join()
    assert time.monotonic() - started >= 0.9


def test_many_opens_and_closes_leave_no_connection_behind(migrated_url: str) -> None:
    for number in range(40):
        with open_store(f"{migrated_url}?pool_max=2") as store:
            store.create_run(RunRecord(run_id=f"r{number}", started_at=at(number)))
            assert len(store.list_runs(limit=100)) == number + 1
    assert _sessions(migrated_url) == []


def test_threads_share_a_small_pool(migrated_url: str) -> None:
    with open_store(f"{migrated_url}?pool_max=2") as store:

        def write(worker: int) -> None:
            for number in range(20):
                store.create_run(RunRecord(run_id=f"w{worker}-{number}", started_at=at(number)))

        threads = [threading.Thread(target=write, args=(worker,)) for worker in range(6)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert len(store.list_runs(limit=1000)) == 120
        # the session connection, and at most pool_max pooled ones
        assert len(_sessions(migrated_url)) <= 3


# -- text as PostgreSQL keeps it -----------------------------------------------------------------


def test_nul_and_its_escape_character_round_trip(migrated_url: str) -> None:
    tricky = ["a\x00b", "a\x01b", "\x01\x02", "\x00", "a\x01\x01", "plain"]
    with open_store(migrated_url) as store:
        for number, text in enumerate(tricky):
            store.create_run(RunRecord(run_id=text, started_at=at(number), trigger=text))
        for text in tricky:
            found = store.get_run(text)
            assert found is not None
            assert (found.run_id, found.trigger) == (text, text)
        by_prefix = store.get_run("a\x00")
        assert by_prefix is not None
        assert by_prefix.run_id == "a\x00b"
    # Escaping keeps code point order, so prefixes and sorting agree with SQLite's.
    assert sorted(tricky) == sorted(tricky, key=escape_text)


def test_a_lookup_with_invalid_text_is_a_store_error(migrated_url: str) -> None:
    with open_store(migrated_url) as store:
        with pytest.raises(StoreError, match=r"cannot look up a run in the PostgreSQL") as caught:
            store.get_run("caf\udce9")
        assert "is not valid Unicode text" in str(caught.value)
        with store.unit_of_work(), pytest.raises(StoreError, match="not valid Unicode"):
            store.latest_states(["caf\udce9"])


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(materialization_=MATERIALIZATIONS, failure=EVENTS, run=RUNS, code=TEXT)
def test_any_record_round_trips(
    migrated_postgres_url: str,
    materialization_: MaterializationRecord,
    failure: Any,
    run: RunRecord,
    code: str,
) -> None:
    empty_postgres_store(migrated_postgres_url)
    with open_store(migrated_postgres_url) as store:
        store.record([materialization_], [failure])
        key = (materialization_.asset, materialization_.partition)
        assert store.asset_history(materialization_.asset) == [materialization_]
        assert store.latest_materializations([materialization_.asset]) == {key: materialization_}
        assert store.run_events(failure.run_id) == [failure]
        store.create_run(run)
        assert store.get_run(run.run_id) == run
        store.save_code(code, code + "\x00source")
        assert store.get_code(code) == code + "\x00source"


@settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(materializations=st.lists(MATERIALIZATIONS, max_size=8), in_one_batch=st.booleans())
def test_latest_is_the_newest_of_each_asset_partition(
    migrated_postgres_url: str,
    materializations: list[MaterializationRecord],
    in_one_batch: bool,
) -> None:
    empty_postgres_store(migrated_postgres_url)
    with open_store(migrated_postgres_url) as store:
        if in_one_batch:
            store.record(materializations)
        else:
            for one in materializations:
                store.record([one])
        # The model: the last written of the latest finish time, per key.
        expected: dict[tuple[str, str | None], MaterializationRecord] = {}
        for one in materializations:
            key = (one.asset, one.partition)
            if key not in expected or one.finished_at >= expected[key].finished_at:
                expected[key] = one
        assert store.latest_materializations() == expected
        states = store.latest_states_of(expected)
        assert {key: state.run_id for key, state in states.items()} == {
            key: one.run_id for key, one in expected.items()
        }


# -- statements per planner read ----------------------------------------------------------------


class _StatementCounter:
    """Counts the statements psycopg sends (every execute, executemany and copy), but the
    empty statement the pool checks an idle connection with."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.count = 0
        for name in ("execute", "executemany", "copy"):
            original = getattr(psycopg.Cursor, name)
            monkeypatch.setattr(psycopg.Cursor, name, self._counting(original))

    def _counting(self, original: Any) -> Any:
        def counted(cursor: Any, query: Any, *args: Any, **kwargs: Any) -> Any:
            if query != "":  # the pool's check of a connection that was idle or new
                self.count += 1
            return original(cursor, query, *args, **kwargs)

        return counted


def test_a_planner_read_of_6000_states_is_three_statements(
    migrated_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    assets = [f"asset_{number}" for number in range(20)]
    partitions = [f"2026-01-{day:03d}" for day in range(300)]
    with open_store(migrated_url) as store:
        store.record(
            [
                materialization(asset, partition, finished=day)
                for asset in assets
                for day, partition in enumerate(partitions)
            ]
        )
        counter = _StatementCounter(monkeypatch)
        snapshot = read_snapshot(store, assets)
        whole_read = counter.count
        counter.count = 0
        keys = [(asset, partition) for asset in assets for partition in partitions]
        states = store.latest_states_of(keys)
        keyed_read = counter.count
    assert len(snapshot.latest) == len(states) == 6000
    # latest states, latest failures, latest check results
    assert whole_read == 3
    assert keyed_read == 1
    assert snapshot.latest[("asset_0", partitions[-1])].finished_at == at(299)


# -- races settled by the server -----------------------------------------------------------------

RACERS = 4
ATTEMPTS_PER_RACER = 15
CONTESTED = ("clean", "2026-03-01")


def test_racing_stores_never_hold_one_lease_at_once(migrated_url: str) -> None:
    start = threading.Barrier(RACERS)
    holds: list[tuple[int, int]] = []
    refused: list[int] = []
    errors: list[str] = []

    def racer(worker: int) -> None:
        run_id = f"racer-{worker}"
        try:
            with open_store(migrated_url) as store:
                store.create_run(RunRecord(run_id=run_id, started_at=datetime.now(UTC), pid=1))
                start.wait(30)
                for _ in range(ATTEMPTS_PER_RACER):
                    now = datetime.now(UTC)
                    wanted = Lease(*CONTESTED, run_id, 1, "here", now, now + timedelta(minutes=1))
                    if store.acquire_lease(wanted, now=now) is None:
                        began = time.monotonic_ns()
                        time.sleep(0.002)
                        holds.append((began, time.monotonic_ns()))
                        store.release_leases(run_id, [CONTESTED])
                    else:
                        refused.append(worker)
        except StoreError as error:
            errors.append(error.message)

    threads = [threading.Thread(target=racer, args=(worker,)) for worker in range(RACERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    ordered = sorted(holds)
    assert [(a, b) for a, b in pairwise(ordered) if b[0] < a[1]] == []
    assert len(holds) + len(refused) == RACERS * ATTEMPTS_PER_RACER
    assert refused  # the race was real


def test_two_stores_finishing_one_run_finish_it_once(migrated_url: str) -> None:
    with open_store(migrated_url) as first, open_store(migrated_url) as second:
        first.create_run(RunRecord(run_id="r1", started_at=at(0)))
        start = threading.Barrier(2)
        outcomes: list[bool] = []

        def finish(store: Any) -> None:
            start.wait(10)
            outcomes.append(store.finish_run_if_running("r1", RunStatus.CRASHED, at(5)))

        threads = [threading.Thread(target=finish, args=(s,)) for s in (first, second)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert sorted(outcomes) == [False, True]


def test_units_of_work_take_turns_across_stores(migrated_url: str) -> None:
    with open_store(migrated_url) as first, open_store(migrated_url) as second:
        inside = threading.Event()
        moments: dict[str, float] = {}

        def slow_unit() -> None:
            with first.unit_of_work():
                first.create_run(RunRecord(run_id="first", started_at=at(0)))
                inside.set()
                time.sleep(0.5)
                moments["first ends"] = time.monotonic()

        thread = threading.Thread(target=slow_unit)
        thread.start()
        inside.wait(10)
        with second.unit_of_work():
            moments["second begins"] = time.monotonic()
            assert second.get_run("first") is not None  # committed before it began
        thread.join()
    assert moments["second begins"] >= moments["first ends"]


def _use_after_fork(store: PostgresStore, results: Any) -> None:
    store.create_run(RunRecord(run_id="child", started_at=at(1)))
    results.put(sorted(run.run_id for run in store.list_runs()))


def test_a_forked_child_makes_its_own_connections(migrated_url: str) -> None:
    context = multiprocessing.get_context("fork")
    with PostgresStore(migrated_url) as store:
        store.create_run(RunRecord(run_id="parent", started_at=at(0)))
        results = context.Queue()
        child = context.Process(target=_use_after_fork, args=(store, results))
        child.start()
        assert results.get(timeout=30) == ["child", "parent"]
        child.join(30)
        assert child.exitcode == 0
        # The parent's own connections were left alone by the child.
        store.create_run(RunRecord(run_id="parent-again", started_at=at(2)))
        assert len(store.list_runs()) == 3


def test_a_connection_the_server_closed_is_replaced_after_idling(
    migrated_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from assetflow.store.postgres import connection as pg_connection

    with open_store(migrated_url) as store:
        store.create_run(RunRecord(run_id="r1", started_at=at(0)))
        with psycopg.connect(migrated_url, autocommit=True) as admin:
            admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
        monkeypatch.setattr(pg_connection, "IDLE_CHECK_S", 0.0)  # every connection is idle
        assert [run.run_id for run in store.list_runs()] == ["r1"]


def test_opening_waits_for_a_migration_and_says_so(
    migrated_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    migrating = psycopg.connect(migrated_url, autocommit=True)
    migrating.execute("SELECT pg_advisory_lock(%s)", (USE_LOCK_KEY,))
    releaser = threading.Timer(0.5, migrating.close)
    releaser.start()
    started = time.monotonic()
    with open_store(migrated_url) as store:
        assert store.list_runs() == []
    releaser.join()
    assert time.monotonic() - started >= 0.4
    assert "is being migrated by another process: waiting for the migration to end" in (caplog.text)


def test_an_older_schema_says_to_migrate(
    migrated_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from assetflow.store.postgres import schema

    monkeypatch.setattr(schema, "LATEST_VERSION", LATEST_VERSION + 1)
    with pytest.raises(StoreError) as caught:
        open_store(migrated_url)
    assert (
        f"has schema version {LATEST_VERSION} and this assetflow needs version "
        f"{LATEST_VERSION + 1}: run `assetflow store migrate` to upgrade it."
    ) in str(caught.value)
    assert "--wait" in caught.value.hint
