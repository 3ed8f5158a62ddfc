"""Processes racing on one PostgreSQL store: each tick is claimed once, each run key starts
one run, one incident is open per subject, each alert is claimed by one deliverer, and one
scheduler holds the lease; every process sees the same winner."""

from __future__ import annotations

import multiprocessing
from collections import Counter
from datetime import timedelta
from multiprocessing.synchronize import Barrier
from typing import Any

import pytest

from assetflow.store import (
    AlertRecord,
    IncidentAlreadyOpen,
    IncidentMember,
    IncidentRecord,
    open_store,
)
from tests.store.builders import at
from tests.store.postgres.test_pg_copying import migrated
from tests.store.racing import PROCESS_TIMEOUT_S, race
from tests.store.ticks import tick

#: Processes racing (the tests' server allows many more connections than their pools hold).
RACERS = 4
#: Rounds in the default suite; the slow run races many more.
ROUNDS = 8
SLOW_ROUNDS = 60
#: A lease lasts this long, so that each round's instant (a minute apart) finds it lapsed.
LEASE_TTL = timedelta(seconds=30)


def _contend(url: str, worker: int, start: Barrier, results: multiprocessing.Queue[Any]) -> None:
    """Race for every contested record of each round (one queued alert each); put what
    this process won."""
    won: list[tuple[str, int]] = []
    errors: list[str] = []
    try:
        with open_store(url) as store:
            rounds = len(store.alerts(limit=10_000))
            for number in range(rounds):
                # Every round starts together, so that each record is contested.
                start.wait(PROCESS_TIMEOUT_S)
                if store.claim_tick(tick(scheduled=number)):
                    won.append(("tick", number))
                keyed = tick(f"sensor:{worker}", number, run_key=f"key-{number}")
                if store.save_sensor_evaluation(f"sensor:{worker}", f"c{number}", [keyed]) == [
                    True
                ]:
                    won.append(("run key", number))
                try:
                    store.open_incident(
                        IncidentRecord(
                            f"{worker}-{number}", "run_failed", f"a{number}", at(0), at(0)
                        ),
                        [IncidentMember("", at(0))],
                    )
                    won.append(("incident", number))
                except IncidentAlreadyOpen as already:
                    store.add_incident_members(
                        str(already.existing_id), [IncidentMember("", at(1))], at(1)
                    )
                if store.claim_alert(number + 1, f"deliverer-{worker}", at(5), at(65)):
                    won.append(("alert", number))
                now = at(60 * number)
                lease = store.acquire_scheduler_lease(f"s{worker}", worker, "h", now, LEASE_TTL)
                if lease.holder == f"s{worker}":
                    won.append(("lease", number))
    except Exception as error:  # reported to the test, which fails on it
        errors.append(f"{type(error).__name__}: {error}")
    results.put((worker, won, errors))


def _race(url: str, rounds: int) -> list[tuple[int, list[tuple[str, int]], list[str]]]:
    with open_store(migrated(url)) as store:
        store.open_incident(IncidentRecord("base", "run_failed", "base", at(0), at(0)), [])
        alerts = [AlertRecord(0, f"d{n}", "base", "run_failed", at(0)) for n in range(rounds)]
        assert store.queue_alerts(alerts) == [True] * rounds
    return race(_contend, url, RACERS)  # type: ignore[arg-type]


@pytest.mark.parametrize("rounds", [ROUNDS, pytest.param(SLOW_ROUNDS, marks=pytest.mark.slow)])
def test_each_contested_record_has_exactly_one_winner(postgres_url: str, rounds: int) -> None:
    outcomes = _race(postgres_url, rounds)
    assert [errors for _, _, errors in outcomes] == [[]] * RACERS
    wins = Counter(item for _, won, _ in outcomes for item in won)
    kinds = ("tick", "run key", "incident", "alert", "lease")
    assert wins == Counter({(kind, number): 1 for kind in kinds for number in range(rounds)})
    with open_store(postgres_url) as store:
        ticks = store.ticks(limit=10_000)
        assert len(ticks) == rounds * (RACERS + 1)
        for number in range(rounds):
            keyed = [t for t in ticks if t.run_key == f"key-{number}"]
            assert sorted(t.status for t in keyed) == ["claimed"] + ["skipped"] * (RACERS - 1)
            holder = next(t for t in keyed if t.status == "claimed")
            for skipped in (t for t in keyed if t.status == "skipped"):
                assert skipped.reason is not None
                assert f"(tick {holder.origin}@" in skipped.reason
        # One incident per subject, which every process joined.
        found = [i for i in store.open_incidents() if i.subject != "base"]
        assert len(found) == rounds
        members = store.incident_members(i.incident_id for i in found)
        assert {m[0].failures for m in members.values()} == {RACERS}
        assert {alert.status for alert in store.alerts(limit=10_000)} == {"sending"}
