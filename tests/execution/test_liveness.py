"""Liveness: orphaned runs are marked crashed, by pid on this host, by heartbeat on another."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from assetflow import api
from assetflow.clock import FixedClock
from assetflow.execution.liveness import (
    HEARTBEAT_INTERVAL,
    HEARTBEAT_TIMEOUT,
    INTERRUPTED_STEP,
    heartbeating,
    is_process_alive,
    running_leases,
    sweep_orphaned_runs,
)
from assetflow.store import (
    EventKind,
    Lease,
    MemoryStore,
    MetadataStore,
    RunRecord,
    RunStatus,
    open_store,
)
from tests.store.conftest import BACKENDS, open_backend
from tests.unprivileged import unprivileged

T0 = datetime(2026, 3, 1, 6, 0, tzinfo=UTC)
LIVE, DEAD = 1111, 2222

#: The default probe never reports a process gone on Windows (see assetflow.execution.liveness).
probes_pids = pytest.mark.skipif(sys.platform == "win32", reason="no pid probe on Windows")


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def only_live(pid: int) -> bool:
    return pid == LIVE


@pytest.fixture(params=BACKENDS)
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[MetadataStore]:
    with open_backend(request, tmp_path) as opened:
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
    crashed = sweep_orphaned_runs(store, clock=FixedClock(at(300)), is_alive=only_live)
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
    from assetflow.store.records import Lease

    store.create_run(running("crashed", DEAD))
    store.create_run(running("alive", LIVE))
    for run_id, asset in (("crashed", "orders"), ("crashed", "totals"), ("alive", "other")):
        lease = Lease(asset, "2026-03-01", run_id, 1, "host", at(1), at(600))
        assert store.acquire_lease(lease, now=at(1)) is None
    sweep_orphaned_runs(store, clock=FixedClock(at(5)), is_alive=only_live)
    steps = [e for e in store.run_events("crashed") if e.asset is not None]
    assert sorted((e.asset, e.partition, e.kind, e.message) for e in steps) == [
        ("orders", "2026-03-01", EventKind.FAILED, INTERRUPTED_STEP),
        ("totals", "2026-03-01", EventKind.FAILED, INTERRUPTED_STEP),
    ]
    # The failures make the next plan rebuild them; the live run keeps its lease.
    failures = store.latest_failures(["orders", "totals"])
    assert set(failures) == {("orders", "2026-03-01"), ("totals", "2026-03-01")}
    assert [(lease.asset, lease.run_id) for lease in store.leases()] == [("other", "alive")]


def test_the_crash_hook_writes_with_the_mark_or_not_at_all(store: MetadataStore) -> None:
    from assetflow.store.records import Lease

    store.create_run(running("broken", DEAD))
    store.create_run(running("dead", DEAD, started=1))  # newer: swept first
    lease = Lease("orders", None, "dead", 1, "host", at(1), at(600))
    assert store.acquire_lease(lease, now=at(1)) is None
    heard: list[tuple[str, list[str | None]]] = []

    def hook(run: RunRecord, events, hooked: MetadataStore) -> None:
        assert hooked is store
        heard.append((run.run_id, [event.asset for event in events]))
        hooked.save_code(f"heard-{run.run_id}", run.status)
        if run.run_id == "broken":
            raise RuntimeError("the outbox is full")

    with pytest.raises(RuntimeError, match="the outbox is full"):
        sweep_orphaned_runs(store, clock=FixedClock(at(300)), is_alive=only_live, on_crashed=hook)
    # The hook's write committed with the mark of its run; the run whose hook raised is
    # not marked, and neither is what its hook wrote.
    assert sorted(heard) == [("broken", [None]), ("dead", [None, "orders"])]
    assert store.get_code("heard-dead") == "crashed"
    assert store.get_code("heard-broken") is None
    assert store.get_run("broken").status is RunStatus.RUNNING  # type: ignore[union-attr]
    heard.clear()
    assert sweep_orphaned_runs(store, clock=FixedClock(at(300)), is_alive=only_live) != []
    assert heard == []  # a run is told of once: "dead" was marked already


def test_live_finished_and_pidless_runs_are_left_alone(store: MetadataStore) -> None:
    store.create_run(running("live", LIVE))
    store.create_run(running("no-pid", None))
    store.create_run(running("done", DEAD))
    store.finish_run("done", RunStatus.SUCCESS, at(10))
    before = {run.run_id: run for run in store.list_runs()}
    assert sweep_orphaned_runs(store, clock=FixedClock(at(300)), is_alive=only_live) == []
    assert {run.run_id: run for run in store.list_runs()} == before
    assert all(store.run_events(run_id) == [] for run_id in before)


def test_a_second_sweep_changes_nothing(store: MetadataStore) -> None:
    store.create_run(running("dead", DEAD))
    assert len(sweep_orphaned_runs(store, clock=FixedClock(at(300)), is_alive=only_live)) == 1
    assert sweep_orphaned_runs(store, clock=FixedClock(at(600)), is_alive=lambda pid: False) == []
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

    crashed = sweep_orphaned_runs(store, clock=FixedClock(at(300)), is_alive=is_alive)
    assert len(crashed) == 30
    assert sorted(probed) == [DEAD + number for number in range(30)]
    assert store.list_runs(limit=100, status=RunStatus.RUNNING) == []


def test_a_crash_is_never_recorded_before_the_run_started(store: MetadataStore) -> None:
    store.create_run(running("dead", DEAD, started=500))
    sweep_orphaned_runs(
        store, clock=FixedClock(at(100)), is_alive=only_live
    )  # a clock behind the run's
    assert store.get_run("dead").finished_at == at(500)  # type: ignore[union-attr]


@probes_pids
def test_a_real_dead_process_is_gone_and_this_one_is_alive(
    store: MetadataStore, dead_pid: int
) -> None:
    store.create_run(running("dead", dead_pid))
    store.create_run(running("me", os.getpid()))
    crashed = sweep_orphaned_runs(store, clock=FixedClock(at(300)))
    assert [run.run_id for run in crashed] == ["dead"]
    assert store.get_run("me").status is RunStatus.RUNNING  # type: ignore[union-attr]


@probes_pids
def test_is_process_alive(dead_pid: int) -> None:
    assert is_process_alive(os.getpid())
    assert not is_process_alive(dead_pid)
    assert not is_process_alive(0)  # would signal our own process group
    assert not is_process_alive(-1)  # would signal every process we may signal
    assert not is_process_alive(2**40)  # beyond any pid


@pytest.mark.skipif(os.name != "posix", reason="users and signals")
def test_a_process_of_another_user_is_alive() -> None:
    # Asked by a user who may not signal it (as root, CI's user, an unprivileged one):
    # os.kill says PermissionError, not "no such process". Pid 1 is root's init.
    def probe() -> tuple[bool, bool]:
        try:
            os.kill(1, 0)
        except PermissionError:
            refused = True
        else:
            refused = False
        return refused, is_process_alive(1)

    refused, alive = unprivileged(probe)
    if not refused and os.geteuid() != 0:  # a container whose pid 1 is this user's
        pytest.skip("pid 1 belongs to this user here: no other user's process to probe")
    assert refused, "the unprivileged user may signal pid 1: the case is not tried"
    assert alive


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


def test_a_zombie_process_counts_as_gone() -> None:
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    assert is_process_alive(child.pid)
    child.kill()
    deadline = time.monotonic() + 10
    while is_process_alive(child.pid):  # killed, not yet reaped: a zombie
        assert time.monotonic() < deadline, "the zombie still counts as alive"
        time.sleep(0.01)
    assert Path(f"/proc/{child.pid}").exists()  # not reaped: it was a zombie, not gone
    child.wait()


# -- runs on another host: judged by their heartbeat ------------------------------------

HERE, THERE = "this-host", "that-host"


def _remote(run_id: str, heartbeat: float | None, started: float = 0) -> RunRecord:
    beat = None if heartbeat is None else at(heartbeat)
    return RunRecord(run_id=run_id, started_at=at(started), pid=DEAD, host=THERE, heartbeat_at=beat)


def _sweep(store: MetadataStore, now: float) -> list[str]:
    crashed = sweep_orphaned_runs(store, clock=FixedClock(at(now)), is_alive=only_live, host=HERE)
    return [run.run_id for run in crashed]


def test_the_timeout_is_three_missed_heartbeats() -> None:
    assert timedelta(seconds=5) == HEARTBEAT_INTERVAL
    assert HEARTBEAT_TIMEOUT == 3 * HEARTBEAT_INTERVAL


def test_a_run_on_another_host_with_a_fresh_heartbeat_is_alive(store: MetadataStore) -> None:
    # Its pid is dead here, which means nothing for a process on another machine.
    store.create_run(_remote("remote", heartbeat=100))
    assert _sweep(store, 100 + HEARTBEAT_TIMEOUT.total_seconds()) == []
    assert store.get_run("remote").status is RunStatus.RUNNING  # type: ignore[union-attr]
    assert store.run_events("remote") == []


def test_a_run_on_another_host_with_a_stale_heartbeat_is_crashed(store: MetadataStore) -> None:
    store.create_run(_remote("remote", heartbeat=100))
    assert _sweep(store, 100 + HEARTBEAT_TIMEOUT.total_seconds() + 1) == ["remote"]
    record = store.get_run("remote")
    assert record is not None
    assert (record.status, record.finished_at) == (RunStatus.CRASHED, at(116))
    [event] = store.run_events("remote")
    assert event.message == (
        f"run crashed: its process (pid {DEAD} on that-host) has been silent since its "
        "last heartbeat at 2026-03-01 06:01:40 UTC, longer than 15 s; nothing it was "
        "writing is visible, since outputs are written atomically"
    )


def test_a_remote_run_that_never_beat_is_judged_from_its_start(store: MetadataStore) -> None:
    store.create_run(_remote("young", heartbeat=None, started=100))
    store.create_run(_remote("old", heartbeat=None, started=0))
    assert _sweep(store, 110) == ["old"]
    [event] = store.run_events("old")
    assert "silent since its last start (and no heartbeat since) at 2026-03-01 06:00:00" in (
        event.message
    )


def test_a_run_on_this_host_is_judged_by_its_pid_not_its_heartbeat(
    store: MetadataStore,
) -> None:
    fresh = {"host": HERE, "heartbeat_at": at(299)}
    store.create_run(RunRecord(run_id="dead", started_at=at(0), pid=DEAD, **fresh))
    store.create_run(RunRecord(run_id="live", started_at=at(0), pid=LIVE, host=HERE))
    assert _sweep(store, 300) == ["dead"]  # the live one's heartbeat is long stale


def test_a_run_recorded_without_a_host_is_judged_by_its_pid(store: MetadataStore) -> None:
    store.create_run(running("old-dead", DEAD))
    store.create_run(running("old-live", LIVE))
    assert _sweep(store, 300) == ["old-dead"]


def test_the_heartbeat_thread_beats_and_reports_a_cancel_once(tmp_path: Path) -> None:
    import threading

    from assetflow.store import SqliteStore

    cancelled = threading.Event()
    calls: list[str] = []

    def on_cancel() -> None:
        calls.append("cancel")
        cancelled.set()

    clock = FixedClock(at(50))
    with SqliteStore(tmp_path / "meta.sqlite") as store:
        store.create_run(RunRecord(run_id="r-1", started_at=at(0), host=HERE))
        interval = timedelta(milliseconds=10)
        with heartbeating(store, "r-1", clock, on_cancel, interval=interval):
            store.request_cancel("r-1", at(40))
            assert cancelled.wait(10), "the heartbeat never reported the cancel"
            time.sleep(5 * interval.total_seconds())  # more beats: no second call
        assert calls == ["cancel"]
        assert store.get_run("r-1").heartbeat_at == at(50)  # type: ignore[union-attr]


# -- the steps being run now -------------------------------------------------------------


def test_running_leases_are_those_of_live_running_runs(store: MetadataStore) -> None:
    store.create_run(running("alive", LIVE))
    store.create_run(running("dead", DEAD))  # not swept yet (a read-only store never is)
    store.create_run(RunRecord(run_id="far", started_at=at(0), host="etl-9", heartbeat_at=at(1)))
    store.create_run(running("done", LIVE))
    for run_id, asset, expires in [
        ("alive", "a", 60),
        ("alive", "expired", 5),
        ("dead", "b", 60),
        ("far", "c", 60),
        ("done", "d", 60),
    ]:
        lease = Lease(asset, None, run_id, LIVE, "here", at(0), at(expires))
        assert store.acquire_lease(lease, now=at(0)) is None
    store.finish_run("done", RunStatus.SUCCESS, at(2))

    def names(now: float) -> list[str]:
        found = running_leases(store, at(now), host="here", is_alive=only_live)
        return sorted(lease.asset for lease in found)

    assert names(10) == ["a", "c"]  # the other host's heartbeat is 9 s old
    assert names(30) == ["a"]  # now 29 s old: that run is taken as crashed
