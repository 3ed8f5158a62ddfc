"""End to end: Ctrl-C and SIGTERM cancel a real `assetflow materialize` cleanly."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from assetflow.store import EventKind, RunStatus, open_store
from tests.e2e.processes import assetflow, wait_for

SLOW = """
    import signal
    import time
    from pathlib import Path

    from assetflow import asset

    HERE = Path(__file__).parent

    @asset
    def quick() -> dict:
        return {"version": 1}

    @asset
    def slow(quick: dict) -> dict:
        print("slow: starting the long part")
        (HERE / "slow.started").touch()
        if (HERE / "stubborn").exists():
            # Like a call into C code that does not return: no signal gets through.
            signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM, signal.SIGALRM})
        time.sleep(60)
        return {"version": 1}

    @asset
    def after(slow: dict) -> dict:
        return slow
"""


def start(root: Path, *args: str) -> subprocess.Popen[str]:
    """`assetflow materialize` in its own process group, as a terminal would run it."""
    return subprocess.Popen(
        assetflow(root, "materialize", *args),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )


def runs_of(root: Path):
    with open_store("sqlite", root / ".assetflow" / "metadata.sqlite") as store:
        return {run.run_id: (run, store.run_events(run.run_id)) for run in store.list_runs()}


@pytest.mark.parametrize("executor", ["multiprocess", "inprocess"])
def test_ctrl_c_cancels_the_run_and_writes_nothing_half_done(make_project, executor):
    root = make_project(SLOW)
    process = start(root, "--executor", executor)
    wait_for(root / "slow.started")
    started = time.monotonic()
    os.killpg(process.pid, signal.SIGINT)  # what Ctrl-C does: the whole foreground group
    output, _ = process.communicate(timeout=30)
    assert time.monotonic() - started < 10
    assert process.returncode == 130, output
    assert "Cancelling: stopping the running steps" in output
    assert "slow   cancelled while running; nothing of it was written" in output
    assert "was cancelled in" in output
    assert "1 cancelled" in output or "2 cancelled" in output
    data = root / ".assetflow" / "data"
    assert json.loads((data / "quick.json").read_text()) == {"version": 1}
    assert not (data / "slow.json").exists()
    assert not [p for p in data.iterdir() if p.name.startswith(".")]  # no temp files left
    ((run, events),) = runs_of(root).values()
    assert run.status is RunStatus.CANCELLED
    kinds = {(e.asset, e.kind) for e in events if e.asset}
    assert ("slow", EventKind.CANCELLED) in kinds
    assert ("quick", EventKind.MATERIALIZED) in kinds
    # What the step printed before it was stopped is kept.
    with open_store("sqlite", root / ".assetflow" / "metadata.sqlite") as store:
        (log,) = store.step_logs(run.run_id)
    assert (log.asset, log.text) == ("slow", "slow: starting the long part\n")
    # The next run starts where this one stopped.
    (root / "assets.py").write_text((root / "assets.py").read_text().replace("60", "0"))
    finished = subprocess.run(
        assetflow(root, "materialize"),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert finished.returncode == 0, finished.stdout + finished.stderr
    assert "2 materialized" in finished.stdout  # slow and after; quick is fresh


def test_sigterm_cancels_like_ctrl_c_with_its_own_exit_code(make_project):
    root = make_project(SLOW)
    process = start(root)
    wait_for(root / "slow.started")
    process.send_signal(signal.SIGTERM)  # only the coordinator, as a service manager would
    output, _ = process.communicate(timeout=30)
    assert process.returncode == 128 + signal.SIGTERM, output
    ((run, _),) = runs_of(root).values()
    assert run.status is RunStatus.CANCELLED
    assert not (root / ".assetflow" / "data" / "slow.json").exists()


def test_a_second_ctrl_c_exits_at_once(make_project):
    root = make_project(SLOW, extra_files={"stubborn": ""})
    process = start(root)
    wait_for(root / "slow.started")
    os.killpg(process.pid, signal.SIGINT)
    time.sleep(0.5)  # the step does not stop: the run waits for it
    assert process.poll() is None
    started = time.monotonic()
    os.killpg(process.pid, signal.SIGINT)
    output, _ = process.communicate(timeout=10)
    assert time.monotonic() - started < 3
    assert process.returncode == 130, output
    assert "Stopped at once" in output
    # The worker went with it, and the next command marks the run crashed.
    listed = subprocess.run(
        assetflow(root, "runs"),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert listed.returncode == 0, listed.stderr
    ((run, _),) = runs_of(root).values()
    assert run.status is RunStatus.CRASHED
    assert "crashed" in listed.stdout


def test_a_cancelled_runs_summary_and_runs_count_the_same_and_name_what_never_started(
    make_project,
):
    root = make_project(SLOW)
    process = start(root, "--executor", "inprocess")
    wait_for(root / "slow.started")
    os.killpg(process.pid, signal.SIGINT)
    output, _ = process.communicate(timeout=30)
    assert process.returncode == 130, output
    assert ": 1 cancelled, 1 materialized, 1 not started." in output
    assert "Not started: after." in output
    listed = subprocess.run(assetflow(root, "runs"), capture_output=True, text=True, timeout=60)
    assert "1 ok, 1 cancelled, 1 not started" in listed.stdout, listed.stdout
    ((run, events),) = runs_of(root).values()
    [never] = [e for e in events if e.asset == "after"]
    assert (never.kind, never.attempt) == (EventKind.CANCELLED, 0)
    shown = subprocess.run(
        assetflow(root, "runs", "show", run.run_id[:8]), capture_output=True, text=True, timeout=60
    )
    row = next(line for line in shown.stdout.splitlines() if line.startswith("after"))
    assert row.split()[1:4] == ["not", "started", "-"]
    assert "  steps      1 materialized, 1 cancelled, 1 not started" in shown.stdout
    status = subprocess.run(
        assetflow(root, "status", "--json"), capture_output=True, text=True, timeout=60
    )
    attempts = {entry["asset"]: entry["attempt"] for entry in json.loads(status.stdout)["assets"]}
    assert attempts["slow"]["outcome"] == "cancelled"
    assert attempts["slow"]["summary"] == "cancelled while running; nothing of it was written"
    assert attempts["after"]["outcome"] == "cancelled"
    assert attempts["after"]["summary"] == "not started: the run was cancelled"
    assert attempts["quick"]["outcome"] == "materialized"


def test_the_json_stream_names_the_steps_a_cancelled_run_never_started(make_project):
    root = make_project(SLOW)
    process = start(root, "--executor", "inprocess", "--json")
    wait_for(root / "slow.started")
    os.killpg(process.pid, signal.SIGINT)
    output, _ = process.communicate(timeout=30)
    finished = [json.loads(line) for line in output.splitlines() if '"run_finished"' in line]
    assert finished[0]["not_started"] == [{"asset": "after", "partition": None}]
