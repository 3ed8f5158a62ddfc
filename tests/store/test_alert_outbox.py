"""The alert outbox in the metadata store, on every backend: queuing once per key,
what is due, claiming for delivery (also across processes) and recording attempts."""

from __future__ import annotations

import multiprocessing
from datetime import datetime, timedelta, timezone
from multiprocessing.synchronize import Barrier
from pathlib import Path
from typing import Any, NamedTuple

import pytest

from assetflow.errors import StoreError
from assetflow.store import AlertAttempt, AlertEvent, AlertRecord, MetadataStore, SqliteStore
from assetflow.store.records import RunStatus
from assetflow.store.sqlite.schema import MIGRATIONS
from tests.store.builders import at, run
from tests.store.racing import PROCESS_TIMEOUT_S, race
from tests.store.sqlite.files import query


def alert(
    destination: str = "team-slack",
    incident_id: str = "inc-1",
    event: AlertEvent = "run_failed",
    created: float = 0,
    **fields: object,
) -> AlertRecord:
    """A pending alert queued ``created`` seconds after T0 (its id is the store's)."""
    values: dict[str, object] = {"alert_id": 0, "created_at": at(created), **fields}
    return AlertRecord(destination=destination, incident_id=incident_id, event=event, **values)  # type: ignore[arg-type]


def attempt(
    alert_id: int, time: float, outcome: str = "sent", detail: str = "200 OK"
) -> AlertAttempt:
    """An attempt at ``time`` seconds after T0."""
    return AlertAttempt(alert_id, at(time), outcome, detail, 0.25)  # type: ignore[arg-type]


def queued(store: MetadataStore, *alerts: AlertRecord) -> list[int]:
    """Queue ``alerts``; return their ids, oldest first."""
    assert store.queue_alerts(alerts) == [True] * len(alerts)
    found = store.alerts(limit=1000)
    return sorted(a.alert_id for a in found)[-len(alerts) :]


def test_an_alert_is_queued_once_per_destination_incident_and_event(
    store: MetadataStore,
) -> None:
    assert store.queue_alerts([alert()]) == [True]
    assert store.queue_alerts([alert(created=60)]) == [False]
    assert store.queue_alerts(
        [alert(event="recovered"), alert("oncall-mail"), alert("x"), alert("x")]
    ) == [True, True, True, False]
    stored = store.alerts()
    assert len(stored) == 4
    assert len({a.alert_id for a in stored}) == 4
    first = store.alerts(destination="team-slack", incident_id="inc-1")[-1]
    assert first == alert(alert_id=first.alert_id)  # the first one, as given


def test_alerts_are_listed_newest_first_and_filtered(store: MetadataStore) -> None:
    store.queue_alerts(
        [alert(created=0), alert("mail", created=10), alert(incident_id="inc-2", created=20)]
    )
    assert [(a.destination, a.incident_id) for a in store.alerts()] == [
        ("team-slack", "inc-2"),
        ("mail", "inc-1"),
        ("team-slack", "inc-1"),
    ]
    assert [a.incident_id for a in store.alerts(destination="team-slack")] == ["inc-2", "inc-1"]
    assert [a.destination for a in store.alerts(incident_id="inc-1")] == ["mail", "team-slack"]
    assert len(store.alerts(limit=1)) == 1
    assert store.alerts(limit=0) == []


def test_due_alerts_honour_next_attempt_at_oldest_first(store: MetadataStore) -> None:
    store.queue_alerts(
        [
            alert("later", created=5, next_attempt_at=at(100)),
            alert("now", created=10),
            alert("first", created=0),
            alert("sent", created=0, status="sent"),
            alert("failed", created=0, status="failed"),
        ]
    )
    assert [a.destination for a in store.due_alerts(at(50))] == ["first", "now"]
    assert [a.destination for a in store.due_alerts(at(100))] == ["first", "later", "now"]
    assert [a.destination for a in store.due_alerts(at(100), limit=1)] == ["first"]
    assert store.due_alerts(at(100), limit=0) == []


def test_a_running_run_holds_its_alerts_until_it_ends(store: MetadataStore) -> None:
    store.create_run(run("run-1"))
    store.queue_alerts(
        [
            alert("held", hold_run_id="run-1"),
            alert("unknown-run", hold_run_id="never-created"),
            alert("free"),
        ]
    )
    assert [a.destination for a in store.due_alerts(at(10))] == ["unknown-run", "free"]
    [held] = store.alerts(destination="held")
    assert store.claim_alert(held.alert_id, "me", at(10), at(70)) is None
    store.finish_run("run-1", RunStatus.FAILED, at(20))
    assert [a.destination for a in store.due_alerts(at(30))] == ["held", "unknown-run", "free"]
    assert store.claim_alert(held.alert_id, "me", at(30), at(90)) is not None


def test_claiming_takes_an_alert_once_until_its_claim_expires(store: MetadataStore) -> None:
    [alert_id] = queued(store, alert())
    claimed = store.claim_alert(alert_id, "worker-a", at(10), at(70))
    assert claimed == alert(
        alert_id=alert_id, status="sending", claimed_by="worker-a", claimed_until=at(70)
    )
    assert store.claim_alert(alert_id, "worker-b", at(20), at(80)) is None
    assert store.due_alerts(at(69)) == []
    # Its claimer may extend it.
    extended = store.claim_alert(alert_id, "worker-a", at(30), at(75))
    assert extended is not None
    assert extended.claimed_until == at(75)
    # An expired claim (its process died) makes it due again, for anyone.
    assert store.due_alerts(at(75)) == [extended]
    taken = store.claim_alert(alert_id, "worker-b", at(75), at(135))
    assert taken is not None
    assert (taken.claimed_by, taken.claimed_until) == ("worker-b", at(135))
    # The first claimer lost it: it may not finish it.
    assert not store.finish_alert_attempt(attempt(alert_id, 80), "worker-a", status="sent")
    assert store.alert_attempts(alert_id) == []
    assert store.claim_alert(999, "worker-a", at(80), at(90)) is None


def test_an_alert_not_yet_due_or_finished_is_not_claimed(store: MetadataStore) -> None:
    later, done = queued(
        store, alert("later", next_attempt_at=at(100)), alert("done", status="sent")
    )
    assert store.claim_alert(later, "me", at(99), at(120)) is None
    assert store.claim_alert(later, "me", at(100), at(120)) is not None
    assert store.claim_alert(done, "me", at(100), at(120)) is None


def test_attempts_are_recorded_in_order_and_set_the_alert(store: MetadataStore) -> None:
    [alert_id] = queued(store, alert())
    assert not store.finish_alert_attempt(attempt(alert_id, 1), "me", status="sent")  # unclaimed
    store.claim_alert(alert_id, "me", at(10), at(70))
    retry = attempt(alert_id, 11, "retry", "503 Service Unavailable")
    assert store.finish_alert_attempt(retry, "me", status="pending", next_attempt_at=at(40))
    [after_retry] = store.alerts()
    assert after_retry == alert(
        alert_id=alert_id,
        attempts=1,
        next_attempt_at=at(40),
        last_error="503 Service Unavailable",
    )
    assert store.due_alerts(at(39)) == []
    assert store.claim_alert(alert_id, "me", at(40), at(100)) is not None
    assert store.finish_alert_attempt(attempt(alert_id, 41), "me", status="sent")
    [sent] = store.alerts()
    assert sent == alert(
        alert_id=alert_id,
        status="sent",
        attempts=2,
        last_error="503 Service Unavailable",
        sent_at=at(41),
    )
    assert store.alert_attempts(alert_id) == [retry, attempt(alert_id, 41)]
    assert store.due_alerts(at(1000)) == []
    # Finishing twice: the claim is gone.
    assert not store.finish_alert_attempt(attempt(alert_id, 42), "me", status="sent")
    assert len(store.alert_attempts(alert_id)) == 2


def test_a_final_failure_is_kept_with_its_error(store: MetadataStore) -> None:
    [alert_id] = queued(store, alert())
    store.claim_alert(alert_id, "me", at(0), at(60))
    answer = attempt(alert_id, 1, "undeliverable", "404 Not Found")
    assert store.finish_alert_attempt(answer, "me", status="undeliverable", next_attempt_at=at(99))
    [kept] = store.alerts()
    assert (kept.status, kept.last_error, kept.next_attempt_at, kept.claimed_by) == (
        "undeliverable",
        "404 Not Found",
        None,
        None,
    )
    assert store.due_alerts(at(1000)) == []


def test_last_alerts_prefers_the_latest_attempt(store: MetadataStore) -> None:
    tried, newer, mail = queued(
        store, alert(created=0), alert(incident_id="inc-2", created=50), alert("mail", created=5)
    )
    assert {d: a.alert_id for d, a in store.last_alerts(["team-slack", "mail", "x"]).items()} == {
        "team-slack": newer,  # none tried yet: the newest
        "mail": mail,
    }
    store.claim_alert(tried, "me", at(60), at(120))
    store.finish_alert_attempt(attempt(tried, 61, "retry", "500"), "me", status="pending")
    last = store.last_alerts(["team-slack"])
    assert last["team-slack"].alert_id == tried
    assert last["team-slack"].last_error == "500"
    assert store.last_alerts([]) == {}


def test_times_are_kept_in_utc(store: MetadataStore) -> None:
    tokyo = timezone(timedelta(hours=9))
    store.queue_alerts([alert(created_at=at(0).astimezone(tokyo))])
    [stored] = store.alerts()
    assert stored.created_at == at(0)
    assert stored.created_at.utcoffset() == timedelta(0)
    claimed = store.claim_alert(stored.alert_id, "me", at(1).astimezone(tokyo), at(9))
    assert claimed is not None
    assert claimed.claimed_until == at(9)


def test_bad_alerts_are_refused_with_what_is_wrong(store: MetadataStore) -> None:
    naive = datetime(2026, 3, 1, 6, 0)
    with pytest.raises(
        StoreError,
        match=r"alert 'run_failed' to 'team-slack' about incident 'inc-1' created_at is a "
        r"naive datetime",
    ):
        store.queue_alerts([alert(created_at=naive)])
    with pytest.raises(
        StoreError,
        match=r"has event 'exploded', which is not one of run_failed, check_failed, overdue, "
        r"scheduler_down, recovered",
    ):
        store.queue_alerts([alert(), alert(event="exploded")])  # type: ignore[arg-type]
    with pytest.raises(StoreError, match=r"has status 'lost', which is not one of pending"):
        store.queue_alerts([alert(status="lost")])  # type: ignore[arg-type]
    with pytest.raises(StoreError, match=r"has an empty destination"):
        store.queue_alerts([alert("")])
    with pytest.raises(StoreError, match=r"has a last_error with a NUL character"):
        store.queue_alerts([alert(last_error="a\x00b")])
    assert store.alerts() == []  # a bad alert queues none of its batch
    [alert_id] = queued(store, alert())
    with pytest.raises(StoreError, match=r"claim on alert \d+ now is a naive datetime"):
        store.claim_alert(alert_id, "me", naive, at(60))
    with pytest.raises(StoreError, match=r"claim on alert \d+ by 'me' ends at .*, not after now"):
        store.claim_alert(alert_id, "me", at(60), at(60))
    with pytest.raises(StoreError, match=r"claim on alert \d+ has an empty claimer"):
        store.claim_alert(alert_id, "", at(0), at(60))
    store.claim_alert(alert_id, "me", at(0), at(60))
    with pytest.raises(StoreError, match=r"would leave the alert 'sending', which only a claim"):
        store.finish_alert_attempt(attempt(alert_id, 1), "me", status="sending")
    with pytest.raises(StoreError, match=r"has outcome 'maybe', which is not one of sent"):
        store.finish_alert_attempt(attempt(alert_id, 1, "maybe"), "me", status="sent")
    with pytest.raises(StoreError, match=r"attempt at alert \d+ at is a naive datetime"):
        store.finish_alert_attempt(AlertAttempt(alert_id, naive, "sent"), "me", status="sent")
    assert store.alert_attempts(alert_id) == []


def _queue_then_fail(store: MetadataStore) -> None:
    with store.unit_of_work():
        store.queue_alerts([alert()])
        raise RuntimeError("the event that caused it was not recorded")


def test_an_alert_commits_with_its_unit_of_work_or_not_at_all(store: MetadataStore) -> None:
    with pytest.raises(RuntimeError):
        _queue_then_fail(store)
    assert store.alerts() == []
    with store.unit_of_work():
        store.create_run(run("run-1"))
        assert store.queue_alerts([alert(hold_run_id="run-1")]) == [True]
    assert store.due_alerts(at(5)) == []
    assert len(store.alerts()) == 1


def test_a_sqlite_store_at_version_13_migrates_to_14(tmp_path: Path) -> None:
    path = tmp_path / "meta.sqlite"
    SqliteStore(path, migrations=MIGRATIONS[:13]).close()
    tables = {row[0] for row in query(path, "SELECT name FROM sqlite_master")}
    assert "alerts" not in tables
    with SqliteStore(path) as store:
        assert store.queue_alerts([alert()]) == [True]
    assert query(path, "SELECT version, description FROM schema_version WHERE version = 14") == [
        (14, "incidents, the alert outbox and delivery attempts")
    ]
    tables = {row[0] for row in query(path, "SELECT name FROM sqlite_master")}
    assert {"incidents", "incident_members", "alerts", "alert_attempts"} <= tables


# -- two processes delivering one outbox -----------------------------------------------------

#: Alerts the racing processes deliver.
RACED_ALERTS = 60


class Deliveries(NamedTuple):
    worker: int
    claimed: list[int]
    errors: list[str]


def _deliver_all(
    path: str, worker: int, start: Barrier, results: multiprocessing.Queue[Any]
) -> None:
    """Claim and finish as sent every due alert, as a deliverer would, from either end."""
    claimed: list[int] = []
    errors: list[str] = []
    claimer = f"worker-{worker}"
    try:
        with SqliteStore(path) as store:
            start.wait(PROCESS_TIMEOUT_S)
            ids = [a.alert_id for a in store.due_alerts(at(10), limit=RACED_ALERTS)]
            for alert_id in ids if worker % 2 == 0 else reversed(ids):
                if store.claim_alert(alert_id, claimer, at(10), at(3600)) is None:
                    continue
                claimed.append(alert_id)
                done = AlertAttempt(alert_id, at(11), "sent", claimer)
                if not store.finish_alert_attempt(done, claimer, status="sent"):
                    errors.append(f"could not finish alert {alert_id}")
    except Exception as error:  # reported to the test, which fails on it
        errors.append(f"{type(error).__name__}: {error}")
    results.put(Deliveries(worker, claimed, errors))


def test_two_processes_delivering_claim_each_alert_exactly_once(tmp_path: Path) -> None:
    path = tmp_path / "meta.sqlite"
    with SqliteStore(path) as store:
        store.queue_alerts([alert(f"dest-{n}", created=n) for n in range(RACED_ALERTS)])
    outcomes: list[Deliveries] = race(_deliver_all, path, 2)
    assert [o.errors for o in outcomes] == [[], []]
    claimed = [alert_id for o in outcomes for alert_id in o.claimed]
    assert sorted(claimed) == list(range(1, RACED_ALERTS + 1))
    with SqliteStore(path, read_only=True) as store:
        stored = store.alerts(limit=1000)
        assert all(a.status == "sent" and a.attempts == 1 for a in stored)
        winner = {alert_id: f"worker-{o.worker}" for o in outcomes for alert_id in o.claimed}
        for found in stored:
            assert [a.detail for a in store.alert_attempts(found.alert_id)] == [
                winner[found.alert_id]
            ]
