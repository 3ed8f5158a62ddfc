"""End to end with real `assetflow scheduler` processes: how they stop, and idling.

SIGTERM or Ctrl-C while a run the scheduler started is going: with `on_stop =
"cancel"` the run is recorded cancelled and the process exits 0 within seconds;
with `on_stop = "finish"` the run completes first. Either way the tick stays
`started` and linked to its run, the lease is released, a `stopped` line is
logged, and a restarted scheduler does not run the tick again. An idle scheduler
(its next tick hours away, no sensors) uses under 1% of a core.

Each scenario runs its processes once (a module fixture); several tests read it.
"""

from __future__ import annotations

import json
import os
import signal
import textwrap
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner

from assetflow.api import load, open_project_store
from assetflow.cli import cli
from assetflow.store import RunStatus
from assetflow.store.automation import TickRecord
from assetflow.store.records import RunRecord
from tests.e2e.processes import scheduler, wait_for

#: How long a test waits for a process to reach a point before it gives up.
WAIT_S = 60.0
#: How soon a scheduler told to stop (cancelling its run) must have exited.
STOP_S = 8.0

CONFIG = """
[tool.assetflow]
modules = ["assets"]
executor = "{executor}"

[tool.assetflow.scheduler]
on_stop = "{on_stop}"

[tool.assetflow.schedules.often]
every = "6h"
select = "*"
"""


def chain(steps: int, seconds: float) -> str:
    """A chain of `steps` assets, each working `seconds`; the first says it has started
    by touching a file. A cancelled run stops between two of them."""
    parts = [
        "import time\n\nfrom assetflow import asset\n",
        "@asset\ndef step_0(context) -> dict:\n"
        '    (context.project_dir / "started").touch()\n'
        f"    time.sleep({seconds})\n"
        '    return {"i": 0}\n',
    ]
    for i in range(1, steps):
        parts.append(
            f"@asset\ndef step_{i}(step_{i - 1}: dict) -> dict:\n"
            f"    time.sleep({seconds})\n"
            f'    return {{"i": {i}}}\n'
        )
    return "\n\n".join(parts)


def write_project(root: Path, assets: str, config: str) -> Path:
    root.mkdir(parents=True)
    (root / "pyproject.toml").write_text(textwrap.dedent(config))
    (root / "assets.py").write_text(assets)
    return root


@dataclass
class Stopped:
    """One scheduler stopped by a signal while its run was going, as recorded."""

    code: int
    #: seconds from the signal to the process's exit
    took: float
    output: str
    ticks: list[TickRecord]
    runs: list[RunRecord]
    lease_left: bool


def stop_mid_run(root: Path, signum: int) -> Stopped:
    """Start a scheduler, send `signum` once its run is going and wait for the exit."""
    with scheduler(root) as (process, lines):
        lines.wait_for("leading")
        wait_for(root / "started", timeout=WAIT_S)
        lines.wait_for("run_started")
        sent = time.monotonic()
        process.send_signal(signum)
        code = process.wait(WAIT_S)
        took = time.monotonic() - sent
        output = lines.text()
    return Stopped(code, took, output, *recorded(root))


def recorded(root: Path) -> tuple[list[TickRecord], list[RunRecord], bool]:
    """The schedule's ticks, every run, and whether a scheduler lease is left."""
    with open_project_store(load(root)) as store:
        return (
            store.ticks("schedule:often", limit=100),
            store.list_runs(limit=100),
            store.scheduler_lease() is not None,
        )


def cli_runs(root: Path) -> list[dict]:
    result = CliRunner().invoke(cli, ["--project", str(root), "runs", "--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.output)["runs"]


def assert_stopped_cleanly(stopped: Stopped, status: RunStatus) -> None:
    """One tick, started and linked to the one run, which ended with `status`; the
    lease is released and the last line says the scheduler stopped."""
    [tick] = stopped.ticks
    [run] = stopped.runs
    assert tick.status == "started", stopped.output
    assert tick.run_id == run.run_id
    assert run.status is status, stopped.output
    assert run.trigger.startswith("schedule:often@")
    assert not stopped.lease_left
    events = [line.split(" ")[1] for line in stopped.output.splitlines() if line[:2] == "20"]
    assert events[-1] == "stopped", stopped.output
    assert "Traceback" not in stopped.output


# -- SIGTERM with on_stop = "cancel", then a restart -----------------------------------------


@dataclass
class CancelledThenRestarted:
    stopped: Stopped
    root: Path
    restart_code: int
    restart_output: str
    after_restart: tuple[list[TickRecord], list[RunRecord], bool]


@pytest.fixture(scope="module")
def cancelled(tmp_path_factory) -> CancelledThenRestarted:
    root = write_project(
        tmp_path_factory.mktemp("cancel") / "proj",
        chain(40, 0.5),
        CONFIG.format(executor="inprocess", on_stop="cancel"),
    )
    stopped = stop_mid_run(root, signal.SIGTERM)
    (root / "started").unlink()
    with scheduler(root) as (process, lines):
        lines.wait_for("leading")
        time.sleep(2)  # its first cycle, and a second look at the store after a sleep
        process.send_signal(signal.SIGTERM)
        code = process.wait(WAIT_S)
        output = lines.text()
    return CancelledThenRestarted(stopped, root, code, output, recorded(root))


def test_sigterm_cancels_the_run_and_exits_0_within_seconds(cancelled):
    stopped = cancelled.stopped
    assert stopped.code == 0, stopped.output
    assert stopped.took < STOP_S, stopped.output
    assert_stopped_cleanly(stopped, RunStatus.CANCELLED)
    [run] = cli_runs(cancelled.root)
    assert run["status"] == "cancelled"


def test_the_cancelled_run_is_logged_as_finished_cancelled(cancelled):
    [line] = [line for line in cancelled.stopped.output.splitlines() if " run_finished " in line]
    assert line.endswith(" status=cancelled"), line


def test_a_restart_after_sigterm_does_not_run_the_tick_again(cancelled):
    assert cancelled.restart_code == 0, cancelled.restart_output
    assert " run_started " not in cancelled.restart_output
    assert " leading " in cancelled.restart_output
    assert cancelled.restart_output.splitlines()[-1].split(" ")[1] == "stopped"
    assert not (cancelled.root / "started").exists()
    ticks, runs, lease_left = cancelled.after_restart
    assert [(t.status, t.run_id) for t in ticks] == [
        (t.status, t.run_id) for t in cancelled.stopped.ticks
    ]
    assert [r.run_id for r in runs] == [r.run_id for r in cancelled.stopped.runs]
    assert not lease_left


# -- SIGTERM with on_stop = "finish"; Ctrl-C ------------------------------------------------


@pytest.fixture(scope="module")
def finished(tmp_path_factory) -> Stopped:
    root = write_project(
        tmp_path_factory.mktemp("finish") / "proj",
        chain(3, 1.0),
        CONFIG.format(executor="inprocess", on_stop="finish"),
    )
    return stop_mid_run(root, signal.SIGTERM)


def test_sigterm_with_on_stop_finish_lets_the_run_succeed_first(finished):
    assert finished.code == 0, finished.output
    assert finished.took < WAIT_S
    assert_stopped_cleanly(finished, RunStatus.SUCCESS)
    [ended] = [line for line in finished.output.splitlines() if " run_finished " in line]
    assert ended.endswith(" status=success"), finished.output
    events = [line.split(" ")[1] for line in finished.output.splitlines() if line[:2] == "20"]
    assert events.index("run_finished") < events.index("stopped")


def test_ctrl_c_stops_it_cleanly_too(tmp_path):
    root = write_project(
        tmp_path / "proj", chain(40, 0.5), CONFIG.format(executor="inprocess", on_stop="cancel")
    )
    stopped = stop_mid_run(root, signal.SIGINT)
    assert stopped.code == 0, stopped.output
    assert stopped.took < STOP_S, stopped.output
    assert_stopped_cleanly(stopped, RunStatus.CANCELLED)


def test_sigterm_interrupts_a_long_step_of_the_configured_multiprocess_executor(tmp_path):
    root = write_project(
        tmp_path / "proj", chain(1, 6), CONFIG.format(executor="multiprocess", on_stop="cancel")
    )
    stopped = stop_mid_run(root, signal.SIGTERM)
    assert stopped.code == 0, stopped.output
    assert_stopped_cleanly(stopped, RunStatus.CANCELLED)
    assert stopped.took < 4, stopped.output


def test_a_second_signal_exits_at_once_and_the_next_command_finds_the_run_crashed(tmp_path):
    root = write_project(
        tmp_path / "proj", chain(40, 0.5), CONFIG.format(executor="inprocess", on_stop="finish")
    )
    with scheduler(root) as (process, lines):
        lines.wait_for("run_started")
        process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + WAIT_S
        while not any(line.startswith("Stopping the scheduler") for line in list(lines.lines)):
            assert time.monotonic() < deadline, lines.text()
            time.sleep(0.05)
        sent = time.monotonic()
        process.send_signal(signal.SIGTERM)
        code = process.wait(WAIT_S)
        took = time.monotonic() - sent
        output = lines.text()
    assert code == 128 + signal.SIGTERM, output
    assert took < STOP_S, output
    assert "Traceback" not in output
    assert output.splitlines()[-1].split()[1] == "stopped", output
    with open_project_store(load(root)) as store:
        assert store.scheduler_lease() is None  # a standby need not wait out the lease
    [run] = cli_runs(root)  # the crash sweep of the next command finishes its record
    assert run["status"] == "crashed", run


def test_a_standby_stopped_by_sigterm_exits_0_and_leaves_the_leader_alone(tmp_path):
    root = write_project(
        tmp_path / "proj", chain(40, 0.5), CONFIG.format(executor="inprocess", on_stop="cancel")
    )
    with scheduler(root) as (leader, leading):
        leading.wait_for("leading")
        with scheduler(root) as (standby, waiting):
            line = waiting.wait_for("standby")
            assert f"leader_pid={leader.pid}" in line
            standby.send_signal(signal.SIGTERM)
            assert standby.wait(STOP_S) == 0, waiting.text()
        assert leader.poll() is None, leading.text()
        leader.send_signal(signal.SIGTERM)
        assert leader.wait(WAIT_S) == 0, leading.text()
    assert " run_started " not in waiting.text()
    assert not recorded(root)[2]


# -- idle CPU ---------------------------------------------------------------------------------

IDLE_ASSETS = """
from assetflow import asset

@asset
def nightly_table() -> dict:
    return {"ok": 1}
"""

IDLE_CONFIG = """
[tool.assetflow]
modules = ["assets"]

[tool.assetflow.schedules.later]
cron = "{cron}"
select = "nightly_table"
"""


def cron_hours_away(hours: int, now: datetime | None = None) -> str:
    """A daily cron line (UTC) whose next tick is about `hours` hours after now."""
    at = (now or datetime.now(UTC)) + timedelta(hours=hours)
    return f"0 {at.hour} * * *"


def test_cron_hours_away_names_the_hour_hours_ahead():
    assert cron_hours_away(3, datetime(2026, 3, 2, 22, 30, tzinfo=UTC)) == "0 1 * * *"


def cpu_seconds(pid: int) -> float:
    """The CPU time (user + system) a process has used so far, from /proc."""
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rpartition(")")[2].split()
    # Counted from the state (field 3 of proc(5)): utime is field 14, stime field 15.
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads /proc")
def test_an_idle_scheduler_uses_under_one_percent_of_a_core(make_project):
    root = make_project(IDLE_ASSETS, config=IDLE_CONFIG.format(cron=cron_hours_away(3)))
    with scheduler(root) as (process, lines):
        lines.wait_for("leading")
        time.sleep(1)  # past start-up and the first cycle
        used, began = cpu_seconds(process.pid), time.monotonic()
        time.sleep(10)
        used, wall = cpu_seconds(process.pid) - used, time.monotonic() - began
        process.send_signal(signal.SIGTERM)
        assert process.wait(WAIT_S) == 0
        output = lines.text()
    assert used / wall < 0.01, f"{used:.3f} s of CPU in {wall:.1f} s: {output}"
    assert " run_started " not in output
