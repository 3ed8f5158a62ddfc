"""The MetadataStore contract, run against every backend."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from assetflow.errors import StoreError
from assetflow.store import CheckRecord, EventKind, MetadataStore, RunStatus
from tests.store.builders import at, event, materialization, run


def test_every_backend_is_a_metadata_store(store: MetadataStore) -> None:
    assert isinstance(store, MetadataStore)


def test_a_created_run_reads_back_unchanged(store: MetadataStore) -> None:
    created = run("r-1", trigger="schedule", selection="clean_records+", pid=4242)
    store.create_run(created)
    assert store.get_run("r-1") == created
    assert store.get_run("r-2") is None


def test_creating_a_run_twice_is_refused(store: MetadataStore) -> None:
    store.create_run(run("r-1"))
    with pytest.raises(StoreError, match="a run with id 'r-1' already exists"):
        store.create_run(run("r-1", started=5))
    assert store.get_run("r-1") == run("r-1")


def test_finish_run_sets_status_and_end(store: MetadataStore) -> None:
    store.create_run(run("r-1"))
    store.finish_run("r-1", RunStatus.FAILED, at(60))
    finished = store.get_run("r-1")
    assert finished is not None
    assert (finished.status, finished.finished_at) == (RunStatus.FAILED, at(60))


def test_finish_run_if_running_finishes_once_and_records_its_events(
    store: MetadataStore,
) -> None:
    store.create_run(run("r-1"))
    why = event(EventKind.FAILED, time=60, run_id="r-1", message="run crashed")
    assert store.finish_run_if_running("r-1", RunStatus.CRASHED, at(60), [why]) is True
    finished = store.get_run("r-1")
    assert finished is not None
    assert (finished.status, finished.finished_at) == (RunStatus.CRASHED, at(60))
    assert store.run_events("r-1") == [why]
    # A second sweeper finds it finished: nothing is written twice.
    later = event(EventKind.FAILED, time=90, run_id="r-1", message="again")
    assert store.finish_run_if_running("r-1", RunStatus.CRASHED, at(90), [later]) is False
    assert store.get_run("r-1") == finished
    assert store.run_events("r-1") == [why]


def test_finish_run_if_running_leaves_finished_and_unknown_runs_alone(
    store: MetadataStore,
) -> None:
    store.create_run(run("r-1"))
    store.finish_run("r-1", RunStatus.SUCCESS, at(30))
    assert store.finish_run_if_running("r-1", RunStatus.CRASHED, at(60)) is False
    assert store.get_run("r-1") == run("r-1", status=RunStatus.SUCCESS, finished_at=at(30))
    assert store.finish_run_if_running("nope", RunStatus.CRASHED, at(60)) is False


def test_run_checks_are_in_time_order_and_of_that_run_only(store: MetadataStore) -> None:
    def result(run_id: str, name: str, seconds: float) -> CheckRecord:
        return CheckRecord(run_id=run_id, asset="a", check=name, passed=True, at=at(seconds))

    late, early = result("run-1", "late", 9), result("run-1", "early", 1)
    other = result("r2", "x", 0)
    store.record(checks=[late, early, other])
    assert store.run_checks("run-1") == [early, late]
    assert store.run_checks("r2") == [other]
    assert store.run_checks("run-3") == []


def test_finishing_an_unknown_run_is_an_error(store: MetadataStore) -> None:
    with pytest.raises(StoreError, match="cannot finish run 'nope': there is no such run"):
        store.finish_run("nope", RunStatus.SUCCESS, at(1))


def test_get_run_accepts_a_unique_prefix(store: MetadataStore) -> None:
    store.create_run(run("3f9a1c"))
    store.create_run(run("3f0000"))
    store.create_run(run("b7"))
    assert store.get_run("3f9") == run("3f9a1c")
    assert store.get_run("b") == run("b7")
    assert store.get_run("c") is None
    assert store.get_run("") is None


def test_an_ambiguous_prefix_lists_the_candidates(store: MetadataStore) -> None:
    store.create_run(run("3f9a1c"))
    store.create_run(run("3f0000"))
    with pytest.raises(StoreError, match=r"prefix '3f' is ambiguous.*3f0000, 3f9a1c") as caught:
        store.get_run("3f")
    assert "Give more characters" in caught.value.hint
    assert caught.value.candidates == ("3f0000", "3f9a1c")
    assert caught.value.exit_code == 2  # the user's input is wrong, not the store


def test_an_ambiguous_prefix_with_many_candidates_lists_ten(store: MetadataStore) -> None:
    for number in range(12):
        store.create_run(run(f"run-{number:02d}"))
    with pytest.raises(StoreError, match=r"run-00, .*, run-09 and more\.\n"):
        store.get_run("run-")


def test_an_exact_id_wins_over_longer_ids_it_prefixes(store: MetadataStore) -> None:
    store.create_run(run("abc"))
    store.create_run(run("abcd"))
    assert store.get_run("abc") == run("abc")


def test_list_runs_is_newest_first_with_limit_and_status(store: MetadataStore) -> None:
    for number, started in enumerate([30, 10, 20, 40]):
        store.create_run(run(f"r-{number}", started=started))
    store.finish_run("r-2", RunStatus.FAILED, at(25))
    assert [r.run_id for r in store.list_runs()] == ["r-3", "r-0", "r-2", "r-1"]
    assert [r.run_id for r in store.list_runs(limit=2)] == ["r-3", "r-0"]
    assert [r.run_id for r in store.list_runs(status=RunStatus.FAILED)] == ["r-2"]
    assert store.list_runs(status=RunStatus.CANCELLED) == []
    assert store.list_runs(limit=0) == []


def test_runs_started_at_the_same_time_list_last_written_first(store: MetadataStore) -> None:
    for run_id in ["b", "a", "c"]:
        store.create_run(run(run_id, started=0))
    assert [r.run_id for r in store.list_runs()] == ["c", "a", "b"]


def test_run_events_are_in_time_order_and_of_that_run_only(store: MetadataStore) -> None:
    late = event(EventKind.MATERIALIZED, "a", time=9)
    early = event(EventKind.STARTED, "a", time=1)
    same_time_first = event(EventKind.STARTED, "b", time=5)
    same_time_second = event(EventKind.FAILED, "b", time=5, message="boom")
    other_run = event(EventKind.STARTED, "a", time=0, run_id="run-2")
    store.record(events=[late, early, same_time_first])
    store.record(events=[same_time_second, other_run])
    assert store.run_events("run-1") == [early, same_time_first, same_time_second, late]
    assert store.run_events("run-2") == [other_run]
    assert store.run_events("run-3") == []


def test_an_attempt_keeps_its_start_and_the_worker_it_ran_on(store: MetadataStore) -> None:
    retried = event(
        EventKind.RETRIED, "a", time=3, started_at=at(1), host="worker-2", pid=31337, attempt=1
    )
    final = event(EventKind.MATERIALIZED, "a", time=7, started_at=at(4), host="worker-2", pid=4)
    plain = event(EventKind.SKIPPED, "b", time=8)
    store.record(events=[retried, final, plain])
    assert store.run_events("run-1") == [retried, final, plain]
    assert (plain.started_at, plain.host, plain.pid) == (None, None, None)
    assert store.latest_attempts([("a", None)])[("a", None)] == final
    paris = timezone(timedelta(hours=1))
    store.record(events=[event(EventKind.FAILED, "c", time=9, started_at=at(8).astimezone(paris))])
    (failed,) = store.attempts("c")
    assert failed.started_at is not None
    assert (failed.started_at, failed.started_at.utcoffset()) == (at(8), timedelta(0))


def test_asset_history_is_newest_first_by_partition(store: MetadataStore) -> None:
    day1_old = materialization("clean", "2026-03-01", finished=10)
    day1_new = materialization("clean", "2026-03-01", finished=30)
    day2 = materialization("clean", "2026-03-02", finished=20)
    store.record([day1_new, day2, day1_old, materialization("other", finished=40)])
    assert store.asset_history("clean") == [day1_new, day2, day1_old]
    assert store.asset_history("clean", "2026-03-01") == [day1_new, day1_old]
    assert store.asset_history("clean", limit=1) == [day1_new]
    assert store.asset_history("clean", "2026-03-09") == []
    assert store.asset_history("missing") == []
    assert store.asset_history("clean", limit=0) == []


def test_latest_materializations_is_the_newest_per_asset_partition(store: MetadataStore) -> None:
    newest_a = materialization("a", finished=20, data_version="a2")
    day1 = materialization("b", "2026-03-01", finished=5)
    day2 = materialization("b", "2026-03-02", finished=6)
    # Written before an older record: "newest" is by time, not by write order.
    store.record([newest_a, day1])
    store.record([materialization("a", finished=10, data_version="a1"), day2])
    assert store.latest_materializations() == {
        ("a", None): newest_a,
        ("b", "2026-03-01"): day1,
        ("b", "2026-03-02"): day2,
    }


def test_latest_materializations_filters_by_asset(store: MetadataStore) -> None:
    store.record([materialization(name, finished=1) for name in ["a", "b", "c"]])
    assert set(store.latest_materializations(["a", "c", "never"])) == {("a", None), ("c", None)}
    assert store.latest_materializations([]) == {}
    # A single name is one asset, not an iterable of one-letter names.
    assert set(store.latest_materializations("b")) == {("b", None)}
    assert set(store.latest_materializations(iter(["b"]))) == {("b", None)}


def test_latest_materialization_ties_go_to_the_last_written(store: MetadataStore) -> None:
    first = materialization("a", finished=5, data_version="first")
    second = materialization("a", finished=5, data_version="second")
    store.record([first])
    store.record([second])
    assert store.latest_materializations() == {("a", None): second}
    assert store.asset_history("a") == [second, first]


def test_latest_failures_is_the_newest_failed_event_per_asset_partition(
    store: MetadataStore,
) -> None:
    old = event(EventKind.FAILED, "a", "p1", time=1, message="old")
    new = event(EventKind.FAILED, "a", "p1", time=2, message="new")
    other_partition = event(EventKind.FAILED, "a", "p2", time=1)
    store.record(
        events=[
            new,
            old,
            other_partition,
            event(EventKind.RETRIED, "a", "p1", time=3),
            event(EventKind.MATERIALIZED, "b", time=3),
            event(EventKind.FAILED, None, time=4, message="the run itself failed"),
        ]
    )
    assert store.latest_failures() == {("a", "p1"): new, ("a", "p2"): other_partition}
    assert store.latest_failures(["b"]) == {}
    assert store.latest_failures([]) == {}


def test_record_writes_materializations_and_events_together(store: MetadataStore) -> None:
    done = materialization("a", finished=3)
    materialized = event(EventKind.MATERIALIZED, "a", time=3)
    store.record(materializations=[done], events=[materialized])
    store.record()
    assert store.asset_history("a") == [done]
    assert store.run_events("run-1") == [materialized]


def test_a_batch_with_an_invalid_record_writes_nothing(store: MetadataStore) -> None:
    naive = materialization("b", finished_at=datetime(2026, 3, 1, 7, 0))
    store.record([materialization("a")], [event(EventKind.STARTED, "a")])
    with pytest.raises(StoreError, match=r"materialization of 'b' finished_at is a naive datetime"):
        store.record([materialization("a2"), naive])
    with pytest.raises(StoreError, match="naive datetime"):
        store.record(
            [materialization("c")], [event(EventKind.STARTED, "c", at=datetime(2026, 1, 1))]
        )
    assert set(store.latest_materializations()) == {("a", None)}
    assert len(store.run_events("run-1")) == 1


def test_naive_times_are_refused_everywhere(store: MetadataStore) -> None:
    naive = datetime(2026, 3, 1)
    with pytest.raises(StoreError, match=r"run 'r-1' started_at is a naive datetime.*\n\n.*UTC"):
        store.create_run(run("r-1", started_at=naive))
    store.create_run(run("r-1"))
    with pytest.raises(StoreError, match="run 'r-1' finished_at is a naive datetime"):
        store.finish_run("r-1", RunStatus.SUCCESS, naive)
    with pytest.raises(StoreError, match="failed event of run 'run-1' started_at is a naive"):
        store.record(events=[event(EventKind.FAILED, "a", started_at=naive)])


def test_times_in_other_timezones_come_back_in_utc(store: MetadataStore) -> None:
    paris = timezone(timedelta(hours=1))
    local = datetime(2026, 3, 1, 8, 0, tzinfo=paris)
    store.create_run(run("r-1", started_at=local))
    store.record([materialization("a", finished_at=local)])
    stored_run = store.get_run("r-1")
    assert stored_run is not None
    assert stored_run.started_at == local
    assert stored_run.started_at.utcoffset() == timedelta(0)
    assert store.asset_history("a")[0].finished_at.isoformat() == "2026-03-01T07:00:00+00:00"


def test_nan_durations_are_refused(store: MetadataStore) -> None:
    with pytest.raises(StoreError, match="duration_s is NaN"):
        store.record([materialization("a", duration_s=float("nan"))])


def test_integers_beyond_64_bits_are_refused(store: MetadataStore) -> None:
    with pytest.raises(StoreError, match="rows is 9223372036854775808, which does not fit"):
        store.record([materialization("a", rows=2**63)])


def test_text_that_is_not_valid_unicode_is_refused(store: MetadataStore) -> None:
    # What Python makes of the bytes b"/data/caf\xe9" decoded with surrogateescape.
    path = "/data/caf\udce9"
    with pytest.raises(StoreError, match=r"materialization of 'a' path is not valid Unicode"):
        store.record([materialization("a", path=path)])
    with pytest.raises(StoreError, match="selection is not valid Unicode") as caught:
        store.create_run(run("r-1", selection="caf\udce9"))
    assert "surrogateescape" in caught.value.hint
    with pytest.raises(StoreError, match="source is not valid Unicode"):
        store.save_code("v1", "caf\udce9")
    assert store.latest_materializations() == {}


def test_a_message_that_is_not_valid_unicode_is_kept_readable(store: MetadataStore) -> None:
    # A failure must be recorded even when the exception text holds undecodable bytes.
    store.record(events=[event(EventKind.FAILED, "a", message="no file caf\udce9 here")])
    assert store.run_events("run-1")[0].message == "no file caf\ufffd here"


def test_save_code_keeps_the_first_source_of_a_version(store: MetadataStore) -> None:
    store.save_code("v1", "def a():\n    return 1\n")
    store.save_code("v1", "def a():\n    return 1\n")
    store.save_code("v1", "def a():\n    return 2\n")
    store.save_code("v2", "def a():\n    return 1\n")
    assert store.get_code("v1") == "def a():\n    return 1\n"
    assert store.get_code("v2") == "def a():\n    return 1\n"
    assert store.get_code("v3") is None


def test_a_closed_store_refuses_use(store: MetadataStore) -> None:
    store.close()
    with pytest.raises(StoreError, match="is closed"):
        store.list_runs()
    store.close()


def test_the_context_manager_closes_the_store(store: MetadataStore) -> None:
    with store as entered:
        assert entered is store
    with pytest.raises(StoreError, match="is closed"):
        store.get_code("v1")


def test_asset_names_with_a_nul_are_refused_and_match_nothing(store: MetadataStore) -> None:
    store.record([materialization("a")], [event(EventKind.FAILED, "a")])
    with pytest.raises(StoreError, match="asset name with a NUL character"):
        store.record([materialization("a\x00b")])
    with pytest.raises(StoreError, match="asset name with a NUL character"):
        store.record(events=[event(EventKind.FAILED, "a\x00b")])
    assert store.latest_materializations(["a\x00b"]) == {}
    assert store.latest_failures(["a\x00b"]) == {}


def test_saved_codes_answers_for_many_versions_at_once(store: MetadataStore) -> None:
    store.save_codes({"v1": "def a():\n    return 1\n", "v2": "def b():\n    return 2\n"})
    assert store.saved_codes(["v1", "v2", "v3"]) == {"v1", "v2"}
    assert store.saved_codes([]) == set()


def test_step_counts_count_each_runs_step_events_by_kind(store: MetadataStore) -> None:
    for run_id in ("r1", "r2", "r3"):
        store.create_run(run(run_id))
    store.record(
        events=[
            event(EventKind.MATERIALIZED, "a", run_id="r1"),
            event(EventKind.MATERIALIZED, "b", run_id="r1"),
            event(EventKind.FAILED, "c", run_id="r1"),
            event(EventKind.FAILED, None, run_id="r1"),  # run-level: not a step
            event(EventKind.CANCELLED, "a", run_id="r2"),
        ]
    )
    assert store.step_counts(["r1", "r2", "r3", "unknown"]) == {
        "r1": {"materialized": 2, "failed": 1},
        "r2": {"cancelled": 1},
    }


def test_a_partition_key_with_a_nul_is_found_by_its_key(store: MetadataStore) -> None:
    keys = [("a", "x\x00y"), ("a", "x"), ("a", None)]
    store.record([materialization("a", partition=partition) for _, partition in keys])
    states = store.latest_states_of([*keys, ("a", "x\x00z")])
    assert set(states) == set(keys)
