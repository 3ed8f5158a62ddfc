"""`store copy` with PostgreSQL: a real history goes from SQLite into PostgreSQL and back
unchanged, row for row and id for id; the copy goes on being written; a target that
holds history is refused, and a load that fails keeps nothing."""

from __future__ import annotations

import sqlite3
from dataclasses import replace
from pathlib import Path
from urllib.parse import urlsplit

import pytest

import assetflow
from assetflow.errors import StoreError
from assetflow.services.stores import copy_history, open_project_store
from assetflow.store import (
    AlertAttempt,
    AlertRecord,
    IncidentMember,
    IncidentRecord,
    MetadataStore,
    open_store,
)
from assetflow.store.copying import TABLES, CopyableStore
from assetflow.store.postgres.connection import PgDatabase
from assetflow.store.postgres.schema import migrate
from tests.store.builders import at
from tests.store.test_copying import with_history
from tests.store.ticks import tick

Rows = dict[str, list[tuple[str, ...]]]


def migrated(url: str) -> str:
    """``url``, once its database has the store's schema."""
    db = PgDatabase(url)
    try:
        migrate(db)
    finally:
        db.close()
    return url


def copyable(store: object) -> CopyableStore:
    assert isinstance(store, CopyableStore)
    return store


def table_rows(store: object) -> Rows:
    """Every table's rows in portable form, each value as its repr (so 1 and 1.0 and '1'
    differ), sorted."""
    found = {}
    for table in TABLES:
        columns = sorted(copyable(store).table_columns(table))
        rows = copyable(store).read_rows(table, columns)
        found[table] = sorted(tuple(map(repr, row)) for row in rows)
    return found


def counts(store: object) -> dict[str, int]:
    return {table: copyable(store).count_rows(table) for table in TABLES}


def run_ids(store: object) -> list[int]:
    return [int(row[0]) for row in copyable(store).read_rows("runs", ["id"])]


@pytest.fixture
def history(make_project) -> Path:
    """A project whose SQLite store holds every kind of record, alerts and a sensor too."""
    root = with_history(make_project)
    with open_project_store(assetflow.load(root)) as store:
        store.queue_alerts(
            [
                AlertRecord(0, "ops", "inc-1", "run_failed", at(3), hold_run_id="r-gone"),
                AlertRecord(0, "ops", "inc-1", "recovered", at(4)),
            ]
        )
        assert store.claim_alert(1, "deliverer", at(5), at(60)) is not None
        store.finish_alert_attempt(
            AlertAttempt(1, at(6), "retry", "503 busy", 0.25),
            "deliverer",
            status="pending",
            next_attempt_at=at(90),
        )
        store.save_sensor_evaluation(
            "sensor:files", "cursor \x00 with a NUL", [tick("sensor:files", 5, run_key="k\x00")]
        )
        store.see_origins({"sensor:files": "every 30s"}, at(5))
        outbox = store.lineage_outbox()
        outbox.queue("r-lineage", ['{"eventType": "START"}', '{"eventType": "COMPLETE"}'], at(5))
        claimed = outbox.claim("sender", at(6), at(60))
        outbox.retry("sender", claimed[0].event_id, "503 busy", at(7), at(120))
        # Orders that only the write order keeps (SQLite's rowid): keys as added, and
        # incidents opened at the same instant listed last written first.
        store.add_partition_keys("zones", ["z", "a", "m"], at(5))
        store.open_incident(IncidentRecord("inc-0", "overdue", "raw", at(2), at(2)), [])
    return root


def test_history_goes_to_postgresql_and_back_unchanged(
    history: Path, postgres_url: str, tmp_path: Path
) -> None:
    project = assetflow.load(history)
    result, _, target_shown = copy_history(project, migrated(postgres_url))
    password = urlsplit(postgres_url).password
    assert password
    assert password not in target_shown
    assert target_shown == postgres_url.replace(password, "***")
    assert all(source == target for source, target in result.counts.values())
    for table in TABLES:
        if table != "leases" and table != "scheduler_lease":
            assert result.counts[table][0] > 0, table
    back = tmp_path / "back.sqlite"
    copy_history(project, f"sqlite:{back}", from_url=postgres_url)
    with (
        open_project_store(project) as source,
        open_store(postgres_url) as copied,
        open_store(f"sqlite:{back}") as returned,
    ):
        expected = table_rows(source)
        assert table_rows(copied) == expected
        assert table_rows(returned) == expected
        # What the history answers is the same from either copy.
        for store in (copied, returned):
            _assert_same_answers(source, store)


def _assert_same_answers(source: MetadataStore, copy: MetadataStore) -> None:
    run_ids = [run.run_id for run in source.list_runs()]
    assert [run.run_id for run in copy.list_runs()] == run_ids
    assert copy.run_events(run_ids[-1]) == source.run_events(run_ids[-1])
    assert copy.latest_states() == source.latest_states()
    assert copy.latest_check_results() == source.latest_check_results()
    assert copy.ticks() == source.ticks()
    assert copy.sensor_cursor("sensor:files") == "cursor \x00 with a NUL"
    assert copy.origin_states() == source.origin_states()
    assert copy.scheduler_lease() == source.scheduler_lease()
    assert copy.incidents() == source.incidents()
    assert copy.incident_members(["inc-1"]) == source.incident_members(["inc-1"])
    assert copy.alerts() == source.alerts()
    assert copy.alert_attempts(1) == source.alert_attempts(1)
    assert copy.partition_keys(["regions", "zones"]) == {
        "regions": ["eu", "us"],
        "zones": ["z", "a", "m"],
    }
    assert [incident.incident_id for incident in copy.incidents()] == ["inc-0", "inc-1"]


def test_the_copy_goes_on_with_fresh_ids(history: Path, postgres_url: str) -> None:
    project = assetflow.load(history)
    copy_history(project, migrated(postgres_url))
    with open_store(postgres_url) as copied:
        ids = run_ids(copied)
        template = copied.list_runs()[0]
        copied.create_run(replace(template, run_id="new-run"))
        assert set(run_ids(copied)) - set(ids) == {max(ids) + 1}
        assert copied.queue_alerts([AlertRecord(0, "ops", "inc-1", "overdue", at(9))]) == [True]
        assert [alert.alert_id for alert in copied.alerts()] == [3, 2, 1]
        assert copied.claim_tick(tick(scheduled=600)) is True
        copied.open_incident(
            IncidentRecord("inc-2", "run_failed", "raw", at(2), at(2)),
            [IncidentMember("a", at(2))],
        )
        # Same opening time: the one written last is listed first, as in SQLite.
        assert [i.incident_id for i in copied.incidents()] == ["inc-2", "inc-0", "inc-1"]
        copied.add_partition_keys("regions", ["asia"], at(9))
        assert copied.partition_keys(["regions"]) == {"regions": ["eu", "us", "asia"]}


def test_a_target_that_holds_history_is_refused_and_left_as_it_was(
    history: Path, postgres_url: str
) -> None:
    project = assetflow.load(history)
    copy_history(project, migrated(postgres_url))
    with open_store(postgres_url) as copied:
        before = table_rows(copied)
    with pytest.raises(StoreError) as refused:
        copy_history(project, postgres_url)
    message = refused.value.format_message()
    target = postgres_url.replace(urlsplit(postgres_url).password or "", "***")
    assert f"the target store {target} already holds history (" in message
    assert "a copy goes into an empty store only" in message
    assert urlsplit(postgres_url).password not in message
    with open_store(postgres_url) as copied:
        assert table_rows(copied) == before


def test_one_row_is_history_enough_to_refuse(history: Path, postgres_url: str) -> None:
    with open_store(migrated(postgres_url)) as target:
        target.save_sensor_evaluation("sensor:x", "c", [])
    with pytest.raises(StoreError, match=r"already holds history \(1 sensor_cursors\)"):
        copy_history(assetflow.load(history), postgres_url)
    with open_store(postgres_url) as target:
        assert sum(counts(target).values()) == 1


@pytest.mark.parametrize(
    ("column", "value", "expected"),
    [
        # Refused by assetflow, reading the time.
        ("attempted_at", "not a time", "a row holds a value its column cannot take"),
        # Refused by PostgreSQL, in the COPY.
        ("alert_id", "x", "InvalidTextRepresentation"),
    ],
)
def test_a_load_that_fails_keeps_nothing(
    history: Path, postgres_url: str, column: str, value: str, expected: str
) -> None:
    # The last table copied holds a value that SQLite took and PostgreSQL cannot.
    with sqlite3.connect(history / ".assetflow" / "metadata.sqlite") as connection:
        connection.execute(f"UPDATE alert_attempts SET {column} = ?", (value,))
    connection.close()
    with pytest.raises(StoreError) as failed:
        copy_history(assetflow.load(history), migrated(postgres_url))
    message = failed.value.format_message()
    assert "copy the table alert_attempts" in message
    assert expected in message
    assert urlsplit(postgres_url).password not in message
    with open_store(postgres_url) as target:
        assert counts(target) == dict.fromkeys(TABLES, 0)
