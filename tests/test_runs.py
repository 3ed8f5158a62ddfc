"""Orphaned runs are marked crashed; one run reads back as a row per step event."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from assetflow import api
from assetflow.clock import FixedClock
from assetflow.runs import (
    RowState,
    UnknownRunError,
    crash_message,
    event_rows,
    find_run,
    is_process_alive,
    read_run,
    sweep_orphaned_runs,
)
from assetflow.store import (
    AmbiguousRunIdError,
    CheckRecord,
    EventKind,
    EventRecord,
    MemoryStore,
    MetadataStore,
    RunRecord,
    RunStatus,
    open_store,
)
from assetflow.views.text import run_detail

T0 = datetime(2026, 3, 1, 6, 0, tzinfo=UTC)
LIVE, DEAD = 1111, 2222

#: The default probe never reports a process gone on Windows (see assetflow.runs).
probes_pids = pytest.mark.skipif(sys.platform == "win32", reason="no pid probe on Windows")


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def only_live(pid: int) -> bool:
    return pid == LIVE


@pytest.fixture(params=["memory", "sqlite"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[MetadataStore]:
    with open_store(request.param, tmp_path / "meta.sqlite") as opened:
        yield opened


@pytest.fixture(scope="module")
def dead_pid() -> int:
    """The pid of a process that has ended (and been reaped)."""
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid


def running(run_id: str, pid: int | None, started: float = 0) -> RunRecord:
    return RunRecord(run_id=run_id, started_at=at(started), pid=pid)


# -- the sweep ---------------------------------------------------------------------------


def test_a_running_run_whose_process_is_gone_is_marked_crashed(store: MetadataStore) -> None:
    store.create_run(running("dead", DEAD))
    crashed = sweep_orphaned_runs(store, now=at(300), is_alive=only_live)
    record = store.get_run("dead")
    assert crashed == [record]
    assert record is not None
    assert (record.status, record.finished_at) == (RunStatus.CRASHED, at(300))
    [event] = store.run_events("dead")
    assert (event.kind, event.asset, event.partition, event.at) == (
        EventKind.FAILED,
        None,
        None,
        at(300),
    )
    assert event.message == (
        f"run crashed: its process (pid {DEAD}) is gone; nothing it was writing is visible, "
        "since outputs are written atomically"
    )


def test_the_steps_a_crashed_run_was_running_are_recorded_failed(store: MetadataStore) -> None:
    from assetflow.runs import INTERRUPTED_STEP
    from assetflow.store.records import Lease

    store.create_run(running("crashed", DEAD))
    store.create_run(running("alive", LIVE))
    for run_id, asset in (("crashed", "orders"), ("crashed", "totals"), ("alive", "other")):
        lease = Lease(asset, "2026-03-01", run_id, 1, "host", at(1), at(600))
        assert store.acquire_lease(lease, now=at(1)) is None
    sweep_orphaned_runs(store, now=at(5), is_alive=only_live)
    steps = [e for e in store.run_events("crashed") if e.asset is not None]
    assert sorted((e.asset, e.partition, e.kind, e.message) for e in steps) == [
        ("orders", "2026-03-01", EventKind.FAILED, INTERRUPTED_STEP),
        ("totals", "2026-03-01", EventKind.FAILED, INTERRUPTED_STEP),
    ]
    # The failures make the next plan rebuild them; the live run keeps its lease.
    failures = store.latest_failures(["orders", "totals"])
    assert set(failures) == {("orders", "2026-03-01"), ("totals", "2026-03-01")}
    assert [(lease.asset, lease.run_id) for lease in store.leases()] == [("other", "alive")]


def test_live_finished_and_pidless_runs_are_left_alone(store: MetadataStore) -> None:
    store.create_run(running("live", LIVE))
    store.create_run(running("no-pid", None))
    store.create_run(running("done", DEAD))
    store.finish_run("done", RunStatus.SUCCESS, at(10))
    before = {run.run_id: run for run in store.list_runs()}
    assert sweep_orphaned_runs(store, now=at(300), is_alive=only_live) == []
    assert {run.run_id: run for run in store.list_runs()} == before
    assert all(store.run_events(run_id) == [] for run_id in before)


def test_a_second_sweep_changes_nothing(store: MetadataStore) -> None:
    store.create_run(running("dead", DEAD))
    assert len(sweep_orphaned_runs(store, now=at(300), is_alive=only_live)) == 1
    assert sweep_orphaned_runs(store, now=at(600), is_alive=lambda pid: False) == []
    assert store.get_run("dead").finished_at == at(300)  # type: ignore[union-attr]
    assert len(store.run_events("dead")) == 1


def test_every_orphaned_run_is_swept_and_only_running_ones_are_probed(
    store: MetadataStore,
) -> None:
    for number in range(30):  # more than list_runs' default limit
        store.create_run(running(f"r{number:02d}", DEAD + number, started=number))
    store.create_run(running("ok", LIVE))
    store.finish_run("ok", RunStatus.SUCCESS, at(1))
    probed: list[int] = []

    def is_alive(pid: int) -> bool:
        probed.append(pid)
        return False

    crashed = sweep_orphaned_runs(store, now=at(300), is_alive=is_alive)
    assert len(crashed) == 30
    assert sorted(probed) == [DEAD + number for number in range(30)]
    assert store.list_runs(limit=100, status=RunStatus.RUNNING) == []


def test_a_crash_is_never_recorded_before_the_run_started(store: MetadataStore) -> None:
    store.create_run(running("dead", DEAD, started=500))
    sweep_orphaned_runs(store, now=at(100), is_alive=only_live)  # a clock behind the run's
    assert store.get_run("dead").finished_at == at(500)  # type: ignore[union-attr]


@probes_pids
def test_a_real_dead_process_is_gone_and_this_one_is_alive(
    store: MetadataStore, dead_pid: int
) -> None:
    store.create_run(running("dead", dead_pid))
    store.create_run(running("me", os.getpid()))
    crashed = sweep_orphaned_runs(store, now=at(300))
    assert [run.run_id for run in crashed] == ["dead"]
    assert store.get_run("me").status is RunStatus.RUNNING  # type: ignore[union-attr]


@probes_pids
def test_is_process_alive(dead_pid: int) -> None:
    assert is_process_alive(os.getpid())
    assert not is_process_alive(dead_pid)
    assert not is_process_alive(0)  # would signal our own process group
    assert not is_process_alive(-1)  # would signal every process we may signal
    assert not is_process_alive(2**40)  # beyond any pid


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="needs a non-root user")
def test_a_process_of_another_user_is_alive() -> None:
    assert is_process_alive(1)  # init: os.kill says PermissionError, not "no such process"


@probes_pids
@pytest.mark.parametrize(
    ("error", "is_alive"),
    [(PermissionError, True), (ProcessLookupError, False), (OSError, True)],
)
def test_what_the_pid_probe_says(
    monkeypatch: pytest.MonkeyPatch, error: type[OSError], is_alive: bool
) -> None:
    def kill(pid: int, signal: int) -> None:
        raise error

    monkeypatch.setattr(os, "kill", kill)
    assert is_process_alive(4242) is is_alive


def _dead_run_store(dead_pid: int) -> MemoryStore:
    store = MemoryStore()
    store.create_run(RunRecord(run_id="orphan", started_at=at(0), pid=dead_pid))
    return store


@probes_pids
@pytest.mark.parametrize("call", ["materialize", "plan", "status"])
def test_the_api_sweeps_before_it_plans(make_project, dead_pid: int, call: str) -> None:
    root = make_project("from assetflow import asset\n\n@asset\ndef a() -> dict:\n    return {}\n")
    store = _dead_run_store(dead_pid)
    getattr(api, call)("*", project=root, store=store, clock=FixedClock(at(900)))
    orphan = store.get_run("orphan")
    assert orphan is not None
    assert (orphan.status, orphan.finished_at) == (RunStatus.CRASHED, at(900))


@probes_pids
@pytest.mark.parametrize("command", [["runs"], ["plan"], ["status"]])
def test_whichever_command_notices_a_crash_deletes_its_temp_files(
    make_project, dead_pid: int, command: list[str]
) -> None:
    from click.testing import CliRunner

    from assetflow.cli import cli

    root = make_project("from assetflow import asset\n\n@asset\ndef a() -> dict:\n    return {}\n")
    with open_store("sqlite", root / ".assetflow" / "metadata.sqlite") as store:
        store.create_run(RunRecord(run_id="orphan", started_at=at(0), pid=dead_pid))
    data = root / ".assetflow" / "data"
    data.mkdir()
    orphan = data / f".a.json.{dead_pid}.0a1b.tmp"  # left by a writer killed mid-write
    orphan.write_text("half")
    result = CliRunner().invoke(cli, ["--project", str(root), *command])
    assert result.exit_code == 0, result.output
    assert not orphan.exists()


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
    return EventRecord.model_validate(
        {"run_id": "r1", "kind": kind, "asset": asset, "at": at(seconds), **fields}
    )


def check(asset: str, name: str, passed: bool, **fields: object) -> CheckRecord:
    values = {"run_id": "r1", "asset": asset, "check": name, "passed": passed, "at": at(4)}
    return CheckRecord.model_validate({**values, **fields})


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
    sweep_orphaned_runs(store, now=at(4), is_alive=only_live)
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


def test_a_zombie_process_counts_as_gone():
    import time

    from assetflow.runs import is_process_alive

    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    assert is_process_alive(child.pid)
    child.kill()
    deadline = time.monotonic() + 10
    while is_process_alive(child.pid):  # killed, not yet reaped: a zombie
        assert time.monotonic() < deadline, "the zombie still counts as alive"
        time.sleep(0.01)
    assert Path(f"/proc/{child.pid}").exists()  # not reaped: it was a zombie, not gone
    child.wait()
