"""Benchmark: the CPU an idle `assetflow scheduler` uses (target: under 1% of a core).

A real `assetflow scheduler` process on a temporary project with one schedule whose
next tick is hours away and no sensors. Once it leads (its start-up is not
counted), its CPU time (user + system, all threads, from /proc/PID/stat) is read
before and after a window of wall time (60 s by default), with how often its
threads woke up (voluntary context switches, from /proc/PID/task/*/status).

Baselines, measured over the same window at the same time:

- `sleep` (coreutils): a process that never wakes; its CPU is the floor (0, to the
  clock tick of 10 ms) and says how coarse the measurement is;
- a bare Python process that imports assetflow and wakes every 5 s to do nothing,
  as the scheduler does at most between two looks at the store (`MAX_SLEEP_S`):
  what the interpreter alone costs at that rhythm.

    python bench/bench_scheduler_idle.py [--seconds 60]

Linux only (it reads /proc).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent

ASSETS = """
from assetflow import asset

@asset
def nightly_table() -> dict:
    return {"ok": 1}
"""

#: A daily cron line whose tick is hours away: {hour} is filled in at start.
CONFIG = """
[tool.assetflow]
modules = ["assets"]

[tool.assetflow.schedules.later]
cron = "0 {hour} * * *"
select = "nightly_table"
"""

#: The Python baseline: what the scheduler does when idle, minus the scheduler.
PYTHON_IDLE = "import time, assetflow.cli\nwhile True:\n    time.sleep(5)\n"


@dataclass(frozen=True)
class Sample:
    """A process's CPU seconds and voluntary wake-ups, at a moment."""

    cpu_s: float
    wakeups: int


def sample(pid: int) -> Sample:
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rpartition(")")[2].split()
    # Counted from the state (field 3 of proc(5)): utime is field 14, stime field 15.
    cpu = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    wakeups = 0
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            text = (task / "status").read_text()
        except OSError:  # a thread that just ended
            continue
        for line in text.splitlines():
            if line.startswith("voluntary_ctxt_switches:"):
                wakeups += int(line.split()[1])
    return Sample(cpu, wakeups)


def start_scheduler(root: Path) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    process = subprocess.Popen(
        [sys.executable, "-m", "assetflow.cli", "--project", str(root), "scheduler"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
    )
    assert process.stdout is not None
    for line in process.stdout:  # wait until it leads: start-up is over
        if line.split(" ")[1:2] == ["leading"]:
            break
    else:
        raise SystemExit(f"the scheduler exited with {process.wait()} before leading")
    lines = process.stdout
    threading.Thread(target=lambda: [None for _ in lines], daemon=True).start()
    return process


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60.0, help="the measured window")
    seconds = parser.parse_args().seconds
    with tempfile.TemporaryDirectory() as name:
        root = Path(name) / "proj"
        root.mkdir()
        hour = (datetime.now(UTC) + timedelta(hours=3)).hour
        (root / "pyproject.toml").write_text(CONFIG.format(hour=hour))
        (root / "assets.py").write_text(ASSETS)
        env = {**os.environ, "PYTHONPATH": str(REPO)}
        scheduler = start_scheduler(root)
        floor = subprocess.Popen(["sleep", str(seconds + 30)])
        python = subprocess.Popen([sys.executable, "-c", PYTHON_IDLE], env=env)
        try:
            time.sleep(2)  # the scheduler's first cycle; the baselines' imports
            processes = {"scheduler": scheduler, "sleep": floor, "python, 5 s wakes": python}
            before = {label: sample(p.pid) for label, p in processes.items()}
            began = time.monotonic()
            time.sleep(seconds)
            after = {label: sample(p.pid) for label, p in processes.items()}
            wall = time.monotonic() - began
        finally:
            for process in (scheduler, floor, python):
                process.terminate()
            for process in (scheduler, floor, python):
                process.wait(30)
    print(f"idle CPU over {wall:.1f} s of wall time (after start-up):")
    for label in processes:
        used = after[label].cpu_s - before[label].cpu_s
        wakes = after[label].wakeups - before[label].wakeups
        print(
            f"  {label:<18} {used:6.2f} s of CPU = {used / wall * 100:5.2f}% of a core; "
            f"{wakes / wall * 60:6.0f} wake-ups a minute"
        )
    scheduler_share = (after["scheduler"].cpu_s - before["scheduler"].cpu_s) / wall
    print(f"scheduler: {scheduler_share * 100:.2f}% of a core (target < 1%)")
    print(f"scheduler exit code after SIGTERM: {scheduler.returncode}")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
