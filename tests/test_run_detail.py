"""One run reads back as a row per step event; a run is found by a prefix of its id."""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from assetflow.clock import FixedClock
from assetflow.execution.liveness import crash_message, sweep_orphaned_runs
from assetflow.run_detail import (
    RowState,
    UnknownRunError,
    event_rows,
    find_run,
    read_run,
)
from assetflow.store import (
    AmbiguousRunIdError,
    CheckRecord,
    EventKind,
    EventRecord,
    Lease,
    MetadataStore,
    RunRecord,
    RunStatus,
)
from assetflow.views.text import run_detail
from tests.store.conftest import BACKENDS, open_backend

T0 = datetime(2026, 3, 1, 6, 0, tzinfo=UTC)
LIVE, DEAD = 1111, 2222


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def only_live(pid: int) -> bool:
    return pid == LIVE


@pytest.fixture(params=BACKENDS)
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[MetadataStore]:
    with open_backend(request, tmp_path) as opened:
        yield opened


def running(run_id: str, pid: int | None, started: float = 0) -> RunRecord:
    return RunRecord(run_id=run_id, started_at=at(started), pid=pid)


# -- finding a run -------------------------------------------------------------------


def test_find_run_by_prefix(store: MetadataStore) -> None:
    store.create_run(running("3f9a1c", None))
    assert find_run(store, "3f9").run_id == "3f9a1c"


def test_an_unknown_run_id_says_how_to_list_runs(store: MetadataStore) -> None:
    store.create_run(running("3f9a1c2b77", None))
    with pytest.raises(UnknownRunError, match="no run has an id starting with 'zz'") as caught:
        find_run(store, "zz")
    assert caught.value.exit_code == 2
    assert "`assetflow runs` lists recent runs" in caught.value.hint
    assert "the newest is 3f9a1c2b (running)" in caught.value.hint


def test_an_ambiguous_run_id_lists_the_candidates(store: MetadataStore) -> None:
    store.create_run(running("3f9a1c", None))
    store.create_run(running("3f0000", None))
    with pytest.raises(AmbiguousRunIdError, match="3f0000, 3f9a1c") as caught:
        find_run(store, "3f")
    assert caught.value.exit_code == 2


# -- reading a run back ----------------------------------------------------------------

TRACEBACK = (
    "asset 'broken' raised KeyError: 'missing'\n\n"
    "Traceback (your code):\n"
    '  File "assets.py", line 10, in broken\n'
    '    return good["missing"]'
)


def event(kind: EventKind, asset: str | None, seconds: float, **fields: object) -> EventRecord:
    return EventRecord(
        **{"run_id": "r1", "kind": kind, "asset": asset, "at": at(seconds), **fields}
    )


def check(asset: str, name: str, passed: bool, **fields: object) -> CheckRecord:
    values = {"run_id": "r1", "asset": asset, "check": name, "passed": passed, "at": at(4)}
    return CheckRecord(**{**values, **fields})


def test_event_rows_name_each_steps_state_in_time_order() -> None:
    run = RunRecord(run_id="r1", started_at=at(0), status=RunStatus.CRASHED, finished_at=at(9))
    events = [
        event(EventKind.MATERIALIZED, "good", 1, duration_s=0.5),
        event(EventKind.RETRIED, "flaky", 2, partition="2026-03-01", message="Timeout\nmore"),
        event(EventKind.FAILED, "broken", 3, message=TRACEBACK, duration_s=0.1),
        event(EventKind.MATERIALIZED, "flaky", 3.5, partition="2026-03-01", attempt=2),
        event(EventKind.MATERIALIZED, "checked", 4),
        event(EventKind.SKIPPED, "after", 5, message="upstream failed: broken"),
        event(EventKind.STARTED, "slow", 6),
        event(EventKind.STARTED, "quick", 6.5),
        event(EventKind.MATERIALIZED, "quick", 7),
        event(EventKind.FAILED, None, 9, message=crash_message(42)),
    ]
    checks = [
        check("checked", "not_null(id)", True),
        check("checked", "unique(id)", False, blocking=True, message="2 duplicate rows"),
        check("checked", "rows > 10", False, severity="warn", message="only 3"),
    ]
    rows = event_rows(run, events, checks)
    assert [(row.label, row.state, row.attempt) for row in rows] == [
        ("good", RowState.MATERIALIZED, 1),
        ("flaky[2026-03-01]", RowState.RETRIED, 1),
        ("broken", RowState.FAILED, 1),
        ("flaky[2026-03-01]", RowState.MATERIALIZED, 2),
        ("checked", RowState.CHECK_FAILED, 1),
        ("after", RowState.SKIPPED, 1),
        ("slow", RowState.STARTED, 1),
        ("quick", RowState.MATERIALIZED, 1),
        ("(run)", RowState.FAILED, 1),
    ]
    by_label = {row.label: row for row in rows}
    assert by_label["broken"].summary == "asset 'broken' raised KeyError: 'missing'"
    assert by_label["broken"].message == TRACEBACK
    assert by_label["checked"].message == (
        "check 'unique(id)' failed: 2 duplicate rows\ncheck 'rows > 10' warned: only 3"
    )
    assert by_label["slow"].message == "no result was recorded: the run ended (crashed) first"


def test_a_check_run_has_a_row_per_checked_step() -> None:
    run = RunRecord(run_id="r1", trigger="check", started_at=at(0), status=RunStatus.FAILED)
    checks = [
        check("a", "not_null(id)", True),
        check("b", "unique(id)", False, blocking=True, message="2 duplicate rows"),
    ]
    rows = event_rows(run, [], checks)
    assert [(row.label, row.state, row.message) for row in rows] == [
        ("a", RowState.CHECKED, ""),
        ("b", RowState.CHECK_FAILED, "check 'unique(id)' failed: 2 duplicate rows"),
    ]


def test_run_detail_text(store: MetadataStore) -> None:
    store.create_run(
        RunRecord(run_id="0123456789abcdef", started_at=at(0), selection="good+", pid=77)
    )
    store.record(
        events=[
            event(EventKind.MATERIALIZED, "good", 1, run_id="0123456789abcdef", duration_s=0.25),
            event(EventKind.FAILED, "broken", 2, run_id="0123456789abcdef", message=TRACEBACK),
            event(
                EventKind.SKIPPED,
                "after",
                3,
                run_id="0123456789abcdef",
                message="upstream failed: broken",
            ),
        ]
    )
    sweep_orphaned_runs(store, clock=FixedClock(at(4)), is_alive=only_live)
    text = run_detail(read_run(store, "0123"))
    assert text == (
        "Run 0123456789abcdef\n"
        "  status     crashed\n"
        "  trigger    cli\n"
        "  selection  good+\n"
        "  partitions -\n"
        "  started    2026-03-01 06:00:00 UTC\n"
        "  duration   4.0 s (until the crash was noticed)\n"
        "  process    pid 77\n"
        "  steps      1 materialized, 1 failed, 1 skipped\n"
        "\n"
        "STEP    STATE         ATTEMPT  DURATION  MESSAGE\n"
        "good    materialized  1        250 ms\n"
        "broken  failed        1        -         asset 'broken' raised KeyError: 'missing'\n"
        "after   skipped       1        -         upstream failed: broken\n"
        "(run)   failed        1        -         run crashed: its process (pid 77) is gone; "
        "nothing it was writing is visible, s…\n"
        "\n"
        "broken failed (attempt 1):\n"
        "    asset 'broken' raised KeyError: 'missing'\n"
        "\n"
        "    Traceback (your code):\n"
        '      File "assets.py", line 10, in broken\n'
        '        return good["missing"]\n'
        "\n"
        "(run) failed (attempt 1):\n"
        "    run crashed: its process (pid 77) is gone; nothing it was writing is visible, "
        "since outputs are written atomically"
    )


def test_a_run_still_going_says_how_long_so_far(store: MetadataStore) -> None:
    store.create_run(RunRecord(run_id="r1", started_at=at(0), pid=os.getpid()))
    text = run_detail(read_run(store, "r1"), now=at(75))
    assert "  duration   1m15s so far\n" in text
    assert text.endswith("No step events recorded.")


def test_each_row_names_its_attempts_worker_and_start(store: MetadataStore) -> None:
    store.create_run(RunRecord(run_id="r1", started_at=at(0), host="etl-1", pid=77))
    store.record(
        events=[
            event(
                EventKind.RETRIED,
                "flaky",
                2,
                started_at=at(1),
                duration_s=1.0,
                host="etl-1",
                pid=901,
                message="raised ConnectionError",
            ),
            event(
                EventKind.MATERIALIZED,
                "flaky",
                5,
                attempt=2,
                started_at=at(4),
                duration_s=1.0,
                host="etl-2",
                pid=902,
            ),
            event(EventKind.SKIPPED, "after", 6, message="not needed"),
        ]
    )
    store.finish_run("r1", RunStatus.SUCCESS, at(6))
    detail = read_run(store, "r1")
    assert [(row.state, row.started_at, row.worker("etl-1")) for row in detail.rows] == [
        (RowState.RETRIED, at(1), "pid 901"),
        (RowState.MATERIALIZED, at(4), "etl-2:902"),
        (RowState.SKIPPED, None, ""),
    ]
    text = run_detail(detail)
    assert "STEP   STATE         ATTEMPT  WORKER     DURATION  MESSAGE\n" in text
    assert "flaky  retried       1        pid 901    1.0 s     raised ConnectionError\n" in text
    assert "flaky  materialized  2        etl-2:902  1.0 s\n" in text
    assert "after  skipped       1        -          -         not needed" in text


def test_a_running_runs_leased_steps_are_started_rows(store: MetadataStore) -> None:
    store.create_run(RunRecord(run_id="r1", started_at=at(0), pid=os.getpid()))
    store.create_run(RunRecord(run_id="r2", started_at=at(0), pid=os.getpid()))
    for run_id, asset in [("r1", "done"), ("r1", "going"), ("r2", "other")]:
        lease = Lease(asset, "2026-03-01", run_id, os.getpid(), "etl-1", at(1), at(60))
        assert store.acquire_lease(lease, now=at(1)) is None
    store.record(events=[event(EventKind.MATERIALIZED, "done", 2, partition="2026-03-01")])
    rows = read_run(store, "r1").rows
    assert [(row.label, row.state, row.message) for row in rows] == [
        ("going[2026-03-01]", RowState.STARTED, "running"),
        ("done[2026-03-01]", RowState.MATERIALIZED, ""),
    ]
    assert rows[0].started_at == at(1)
    # Once the run is over its leases say nothing (a crashed run's are not running).
    store.finish_run("r1", RunStatus.CRASHED, at(9))
    assert [row.label for row in read_run(store, "r1").rows] == ["done[2026-03-01]"]
