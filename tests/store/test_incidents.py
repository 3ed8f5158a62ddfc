"""Incidents and their members in the metadata store, on every backend (AlertStore)."""

from __future__ import annotations

import multiprocessing
import uuid
from datetime import datetime, timedelta, timezone
from multiprocessing.synchronize import Barrier
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from assetflow.errors import StoreError
from assetflow.store import (
    AlertStore,
    IncidentAlreadyOpen,
    IncidentKind,
    IncidentMember,
    IncidentRecord,
    MemoryStore,
    MetadataStore,
    SqliteStore,
)
from tests.store.builders import at
from tests.store.racing import PROCESS_TIMEOUT_S, race


def incident(
    incident_id: str = "inc-1",
    kind: IncidentKind = "run_failed",
    subject: str = "orders",
    opened: float = 0,
    **fields: object,
) -> IncidentRecord:
    """An incident opened ``opened`` seconds after T0 (and last seen then)."""
    values: dict[str, object] = {"opened_at": at(opened), "last_seen_at": at(opened), **fields}
    return IncidentRecord(incident_id, kind, subject, **values)  # type: ignore[arg-type]


def failed(partition: str = "", opened: float = 0, **fields: object) -> IncidentMember:
    """A failed member opened ``opened`` seconds after T0."""
    return IncidentMember(partition, at(opened), **fields)  # type: ignore[arg-type]


def skipped(asset: str, partition: str = "", opened: float = 0) -> IncidentMember:
    """A downstream asset-partition skipped because of the incident."""
    return IncidentMember(partition, at(opened), role="skipped", asset=asset)


def test_every_backend_is_an_alert_store(store: MetadataStore) -> None:
    assert isinstance(store, AlertStore)


def test_an_opened_incident_reads_back_with_its_members(store: MetadataStore) -> None:
    opened = incident(summary="ValueError: boom", run_id="run-1")
    store.open_incident(opened, [failed("2026-03-01", last_run_id="run-1"), skipped("report")])
    assert store.get_incident("inc-1") == opened
    assert store.open_incident_for("run_failed", "orders") == opened
    assert store.open_incident_for("overdue", "orders") is None
    assert store.open_incident_for("run_failed", "customers") is None
    assert store.incident_members(["inc-1", "unknown"]) == {
        "inc-1": [failed("2026-03-01", last_run_id="run-1"), skipped("report")],
        "unknown": [],
    }


def test_times_are_kept_in_utc(store: MetadataStore) -> None:
    berlin = timezone(timedelta(hours=1))
    store.open_incident(
        incident(opened_at=at(0).astimezone(berlin), last_seen_at=at(5).astimezone(berlin)),
        [IncidentMember("", at(0).astimezone(berlin))],
    )
    found = store.get_incident("inc-1")
    assert found is not None
    assert (found.opened_at, found.last_seen_at) == (at(0), at(5))
    assert found.opened_at.utcoffset() == timedelta(0)
    assert store.incident_members(["inc-1"])["inc-1"][0].opened_at == at(0)


def test_members_are_added_counted_and_reopened(store: MetadataStore) -> None:
    store.open_incident(incident(), [failed("a", last_run_id="run-1")])
    store.add_incident_members(
        "inc-1",
        [failed("a", 10, last_run_id="run-2"), failed("b", 10), skipped("x", "a", 10)],
        at(10),
    )
    found = store.get_incident("inc-1")
    assert found is not None
    assert (found.last_seen_at, found.occurrences) == (at(10), 3)
    members = store.incident_members(["inc-1"])["inc-1"]
    assert members == [
        failed("a", failures=2, last_run_id="run-2"),
        failed("b", 10),
        skipped("x", "a", 10),
    ]
    # "a" recovers, then fails again: it is reopened with its count going on.
    assert store.resolve_incident_members("run_failed", "orders", ["a"], at(20)) == []
    assert store.incident_members(["inc-1"])["inc-1"][0].resolved_at == at(20)
    store.add_incident_members("inc-1", [failed("a", 30)], at(30))
    assert store.incident_members(["inc-1"])["inc-1"][0] == failed(
        "a", failures=3, last_run_id="run-2"
    )
    assert store.get_incident("inc-1") == incident(last_seen_at=at(30), occurrences=4)


def test_resolving_some_members_leaves_the_incident_open_and_the_last_resolves_it(
    store: MetadataStore,
) -> None:
    store.open_incident(incident(), [failed("a"), failed("b"), failed("c"), skipped("report")])
    assert store.resolve_incident_members(None, "orders", ["a", "b", "zzz"], at(10)) == []
    assert store.get_incident("inc-1") == incident()
    resolved = store.resolve_incident_members("run_failed", "orders", {"c"}, at(20))
    assert resolved == [incident(resolved_at=at(20))]
    assert store.get_incident("inc-1") == incident(resolved_at=at(20))
    assert store.open_incident_for("run_failed", "orders") is None
    members = store.incident_members(["inc-1"])["inc-1"]
    assert [m.resolved_at for m in members] == [at(10), at(10), at(20), at(20)]


def test_skipped_members_do_not_keep_an_incident_open(store: MetadataStore) -> None:
    store.open_incident(incident(), [failed("a")])
    store.add_incident_members("inc-1", [skipped("report", "a"), skipped("mart", "a")], at(5))
    assert store.get_incident("inc-1") == incident(last_seen_at=at(5))  # skips are no occurrence
    assert store.resolve_incident_members(None, "orders", ["a"], at(10)) == [
        incident(last_seen_at=at(5), resolved_at=at(10))
    ]
    assert all(m.resolved_at == at(10) for m in store.incident_members(["inc-1"])["inc-1"])


def test_resolving_members_looks_only_at_the_kind_and_subject_asked(
    store: MetadataStore,
) -> None:
    store.open_incident(incident("inc-1"), [failed("a")])
    store.open_incident(incident("inc-2", "overdue", opened=1), [failed("a")])
    store.open_incident(incident("inc-3", subject="customers", opened=2), [failed("a")])
    assert store.resolve_incident_members("check_failed", "orders", ["a"], at(5)) == []
    assert [
        i.incident_id for i in store.resolve_incident_members("overdue", "orders", ["a"], at(6))
    ] == ["inc-2"]
    assert [i.incident_id for i in store.open_incidents()] == ["inc-3", "inc-1"]
    # None: every kind about the subject.
    assert [
        i.incident_id for i in store.resolve_incident_members(None, "orders", ["a"], at(7))
    ] == ["inc-1"]
    assert [i.incident_id for i in store.open_incidents()] == ["inc-3"]


def test_a_second_open_incident_of_one_kind_and_subject_is_refused(
    store: MetadataStore,
) -> None:
    store.open_incident(incident("inc-1"), [failed()])
    with pytest.raises(
        IncidentAlreadyOpen,
        match=r"a run_failed incident about 'orders' .*"
        r"one is open already \('inc-1'\)",
    ) as raised:
        store.open_incident(incident("inc-2", opened=5), [failed()])
    assert (raised.value.kind, raised.value.subject, raised.value.existing_id) == (
        "run_failed",
        "orders",
        "inc-1",
    )
    assert isinstance(raised.value, StoreError)
    assert store.get_incident("inc-2") is None
    # Another kind or subject is another incident.
    store.open_incident(incident("inc-3", "overdue"), [failed()])
    store.open_incident(incident("inc-4", subject="customers"), [failed()])
    # Once resolved, a new one may open.
    assert store.resolve_incident("inc-1", at(10)) == incident("inc-1", resolved_at=at(10))
    store.open_incident(incident("inc-2", opened=20), [failed()])
    assert store.open_incident_for("run_failed", "orders") == incident("inc-2", opened=20)


def test_an_incident_id_is_unique(store: MetadataStore) -> None:
    store.open_incident(incident("inc-1"), [failed()])
    store.resolve_incident("inc-1", at(1))
    with pytest.raises(StoreError, match=r"cannot open incident 'inc-1' in .*: the id is taken"):
        store.open_incident(incident("inc-1", opened=5), [failed()])


def test_resolve_incident_resolves_every_member_once(store: MetadataStore) -> None:
    store.open_incident(incident(), [failed("a"), failed("b"), skipped("x")])
    store.resolve_incident_members(None, "orders", ["a"], at(5))
    assert store.resolve_incident("inc-1", at(10)) == incident(resolved_at=at(10))
    members = store.incident_members(["inc-1"])["inc-1"]
    assert [m.resolved_at for m in members] == [at(5), at(10), at(10)]
    assert store.resolve_incident("inc-1", at(20)) is None
    assert store.resolve_incident("unknown", at(20)) is None
    assert store.get_incident("inc-1") == incident(resolved_at=at(10))


def test_adding_members_to_an_unknown_or_resolved_incident_is_refused(
    store: MetadataStore,
) -> None:
    with pytest.raises(StoreError, match=r"cannot add members to incident 'nope': there is no"):
        store.add_incident_members("nope", [failed()], at(0))
    store.open_incident(incident(), [failed()])
    store.resolve_incident("inc-1", at(1))
    with pytest.raises(StoreError, match=r"incident 'inc-1' in .*: it is resolved"):
        store.add_incident_members("inc-1", [failed()], at(2))


def test_get_incident_takes_a_unique_prefix(store: MetadataStore) -> None:
    store.open_incident(incident("abc123"), [])
    store.open_incident(incident("abd456", "overdue"), [])
    assert store.get_incident("abc") == incident("abc123")
    assert store.get_incident("abc123") == incident("abc123")
    assert store.get_incident("x") is None
    assert store.get_incident("") is None
    with pytest.raises(StoreError, match=r"incident id prefix 'ab' is ambiguous .*abc123, abd456"):
        store.get_incident("ab")


def test_incidents_are_listed_newest_opened_first_and_filtered(store: MetadataStore) -> None:
    store.open_incident(incident("old", subject="a", opened=0), [failed()])
    store.open_incident(incident("mid", subject="b", opened=100), [failed()])
    store.open_incident(incident("new", subject="c", opened=200), [failed()])
    store.open_incident(incident("tie", subject="d", opened=200), [failed()])
    store.resolve_incident("old", at(150))
    store.resolve_incident("mid", at(120))
    ids = [i.incident_id for i in store.incidents()]
    assert ids == ["tie", "new", "mid", "old"]
    assert [i.incident_id for i in store.incidents(limit=2)] == ["tie", "new"]
    assert store.incidents(limit=0) == []
    assert [i.incident_id for i in store.incidents(open_only=True)] == ["tie", "new"]
    # since: opened or resolved at/after it, or still open.
    assert [i.incident_id for i in store.incidents(since=at(130))] == ["tie", "new", "old"]
    assert [i.incident_id for i in store.incidents(since=at(120))] == ["tie", "new", "mid", "old"]
    assert [i.incident_id for i in store.incidents(since=at(500))] == ["tie", "new"]


def test_open_incidents_by_kind(store: MetadataStore) -> None:
    store.open_incident(incident("a", "run_failed", opened=0), [failed()])
    store.open_incident(incident("b", "overdue", opened=1), [failed()])
    store.open_incident(incident("c", "scheduler_down", "scheduler", opened=2), [failed()])
    assert [i.incident_id for i in store.open_incidents()] == ["c", "b", "a"]
    assert [i.incident_id for i in store.open_incidents(["overdue", "run_failed"])] == ["b", "a"]
    assert store.open_incidents([]) == []


def test_incident_members_are_ordered_by_role_asset_and_partition(store: MetadataStore) -> None:
    store.open_incident(
        incident(),
        [skipped("z"), failed("b"), skipped("m", "2"), failed("a"), skipped("m", "1")],
    )
    members = store.incident_members(["inc-1"])["inc-1"]
    assert [(m.role, m.asset, m.partition) for m in members] == [
        ("failed", "", "a"),
        ("failed", "", "b"),
        ("skipped", "m", "1"),
        ("skipped", "m", "2"),
        ("skipped", "z", ""),
    ]


def test_naive_times_are_refused_with_the_field_named(store: MetadataStore) -> None:
    naive = datetime(2026, 3, 1, 6, 0)
    with pytest.raises(StoreError, match=r"incident 'inc-1' opened_at is a naive datetime"):
        store.open_incident(incident(opened_at=naive), [])
    with pytest.raises(
        StoreError, match=r"member '2026' of incident 'inc-1' opened_at is a naive datetime"
    ):
        store.open_incident(incident(), [IncidentMember("2026", naive)])
    assert store.incidents() == []
    store.open_incident(incident(), [])
    with pytest.raises(StoreError, match=r"adding members to incident 'inc-1' is a naive"):
        store.add_incident_members("inc-1", [], naive)
    with pytest.raises(StoreError, match=r"resolving incidents about 'orders' is a naive"):
        store.resolve_incident_members(None, "orders", [""], naive)


def test_unknown_kinds_roles_and_bad_texts_are_refused(store: MetadataStore) -> None:
    with pytest.raises(
        StoreError,
        match=r"incident 'inc-1' has incident kind 'exploded', which is not one of "
        r"run_failed, check_failed, overdue, scheduler_down",
    ):
        store.open_incident(incident(kind="exploded"), [])  # type: ignore[arg-type]
    with pytest.raises(StoreError, match=r"has role 'watching', which is not one of failed"):
        store.open_incident(incident(), [IncidentMember("", at(0), role="watching")])  # type: ignore[arg-type]
    with pytest.raises(StoreError, match=r"incident 'inc-1' has an empty subject"):
        store.open_incident(incident(subject=""), [])
    with pytest.raises(StoreError, match=r"incident 'inc-1' has a summary with a NUL character"):
        store.open_incident(incident(summary="a\x00b"), [])
    with pytest.raises(StoreError, match=r"which is not one of"):
        store.open_incidents(["nope"])  # type: ignore[list-item]
    with pytest.raises(StoreError, match=r"has failures 0, which is not a whole number from 1"):
        store.open_incident(incident(), [failed(failures=0)])
    assert store.incidents() == []


def _open_then_fail(store: MetadataStore) -> None:
    with store.unit_of_work():
        store.open_incident(incident(), [failed("a")])
        store.add_incident_members("inc-1", [failed("b")], at(1))
        raise RuntimeError("the step's events could not be recorded")


def test_incidents_opened_in_a_unit_that_fails_are_not_kept(store: MetadataStore) -> None:
    with pytest.raises(RuntimeError):
        _open_then_fail(store)
    assert store.incidents() == []
    assert store.incident_members(["inc-1"]) == {"inc-1": []}
    # A failing call inside a unit writes nothing of its own, and the unit goes on.
    with store.unit_of_work():
        store.open_incident(incident(), [failed("a")])
        with pytest.raises(IncidentAlreadyOpen):
            store.open_incident(incident("inc-2"), [failed("a")])
    assert [i.incident_id for i in store.incidents()] == ["inc-1"]


def test_a_sqlite_store_keeps_incidents_across_opening(tmp_path: Path) -> None:
    path = tmp_path / "meta.sqlite"
    with SqliteStore(path) as store:
        store.open_incident(incident(summary="é\n2"), [failed("a", last_run_id="r")])
    with SqliteStore(path, read_only=True) as store:
        assert store.get_incident("inc-1") == incident(summary="é\n2")
        assert store.incident_members(["inc-1"])["inc-1"] == [failed("a", last_run_id="r")]


# -- a random sequence of failures and recoveries --------------------------------------------

_PARTITIONS = ["", "p1", "p2", "p3"]
_steps = st.lists(
    st.tuples(
        st.sampled_from(["fail", "skip", "recover", "resolve"]),
        st.lists(st.sampled_from(_PARTITIONS), min_size=1, max_size=3),
    ),
    max_size=25,
)


def _run_steps(store: MetadataStore, steps: list[tuple[str, list[str]]]) -> None:
    """Apply ``steps`` as an alert engine would, checking after each that an incident is
    open exactly while one of its failed members is, and that at most one is open."""
    # The failed partitions not yet recovered, as the model has them.
    failing: set[str] = set()
    for number, (action, partitions) in enumerate(steps):
        now = at(number)
        current = store.open_incident_for("run_failed", "orders")
        if action == "fail":
            members = [failed(p, number) for p in partitions]
            if current is None:
                store.open_incident(incident(uuid.uuid4().hex, opened=number), members)
            else:
                store.add_incident_members(current.incident_id, members, now)
            failing |= set(partitions)
        elif action == "skip" and current is not None:
            store.add_incident_members(
                current.incident_id, [skipped("report", p, number) for p in partitions], now
            )
        elif action == "recover":
            store.resolve_incident_members("run_failed", "orders", partitions, now)
            failing -= set(partitions)
        elif action == "resolve" and current is not None:
            store.resolve_incident(current.incident_id, now)
            failing = set()
        open_now = store.open_incidents(["run_failed"])
        assert len(open_now) <= 1
        assert bool(open_now) == bool(failing)
        if open_now:
            members = store.incident_members([open_now[0].incident_id])[open_now[0].incident_id]
            still_failing = {
                m.partition for m in members if m.role == "failed" and not m.resolved_at
            }
            assert still_failing == failing


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(steps=_steps)
def test_an_incident_is_open_exactly_while_a_failed_member_is(
    steps: list[tuple[str, list[str]]],
) -> None:
    with MemoryStore() as store:
        _run_steps(store, steps)


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(steps=_steps)
def test_the_sqlite_store_keeps_incidents_as_the_memory_one_does(
    tmp_path_factory: pytest.TempPathFactory, steps: list[tuple[str, list[str]]]
) -> None:
    path = tmp_path_factory.mktemp("incidents") / "meta.sqlite"
    with SqliteStore(path) as sqlite, MemoryStore() as memory:
        _run_steps(sqlite, steps)
        _run_steps(memory, steps)
        assert [replace_id(i) for i in sqlite.incidents(limit=100)] == [
            replace_id(i) for i in memory.incidents(limit=100)
        ]


def replace_id(found: IncidentRecord) -> tuple[object, ...]:
    """An incident without its (random) id."""
    return (
        found.kind,
        found.subject,
        found.opened_at,
        found.last_seen_at,
        found.resolved_at,
        found.occurrences,
    )


# -- processes racing to open one incident ---------------------------------------------------

#: Subjects the racing processes each try to open an incident about.
RACED_SUBJECTS = 30


def _open_all(path: str, worker: int, start: Barrier, results: multiprocessing.Queue[Any]) -> None:
    """Open a run_failed incident about each raced subject, or join the open one."""
    opened: list[int] = []
    errors: list[str] = []
    try:
        with SqliteStore(path) as store:
            start.wait(PROCESS_TIMEOUT_S)
            for number in range(RACED_SUBJECTS):
                try:
                    store.open_incident(
                        incident(f"{worker}-{number}", subject=f"asset-{number}"),
                        [failed(last_run_id=f"run-{worker}")],
                    )
                    opened.append(number)
                except IncidentAlreadyOpen as already:
                    store.add_incident_members(
                        str(already.existing_id), [failed(last_run_id=f"run-{worker}")], at(1)
                    )
    except Exception as error:  # reported to the test, which fails on it
        errors.append(f"{type(error).__name__}: {error}")
    results.put((worker, opened, errors))


def test_processes_racing_open_one_incident_per_subject(tmp_path: Path) -> None:
    path = tmp_path / "meta.sqlite"
    SqliteStore(path).close()
    outcomes = race(_open_all, path, 2)
    assert [errors for _, _, errors in outcomes] == [[], []]
    assert sorted(n for _, opened, _ in outcomes for n in opened) == list(range(RACED_SUBJECTS))
    with SqliteStore(path, read_only=True) as store:
        found = store.open_incidents()
        assert len(found) == RACED_SUBJECTS
        assert {i.occurrences for i in found} == {2}
        members = store.incident_members(i.incident_id for i in found)
        assert {len(m) for m in members.values()} == {1}
        assert {m[0].failures for m in members.values()} == {2}
