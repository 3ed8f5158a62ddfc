"""Benchmark: the scheduler's cycle, tick bookkeeping, and a simulated year of ticks.

1. One cycle over 1,000 schedules (cron lines in several time zones, every one
   with a tick due) and 200 sensors that return nothing: recording the ticks,
   evaluating the sensors; runs are not started (target: under 0.5 s).
   Baseline: one `plan('*')` of the same small project in the same process.
2. Tick bookkeeping: claim and then link 1,000 ticks one at a time on a SQLite
   store (target: under 2 ms per tick). Baseline: `create_run` + `finish_run`.
3. A year of daily ticks (catch-up `all`) over the example project, planned but
   not run: 365 decisions and 365 plans (target: under 10 s).

    python bench/bench_scheduler.py
"""

from __future__ import annotations

import shutil
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import assetflow
from assetflow.automation.loading import load_automation
from assetflow.automation.scheduler import Scheduler
from assetflow.automation.ticking import due_ticks
from assetflow.clock import FixedClock
from assetflow.services.planning import make_plan
from assetflow.services.stores import open_project_store
from assetflow.store import RunRecord, RunStatus
from assetflow.store.automation import OriginState, TickRecord

ZONES = ("UTC", "Europe/Berlin", "America/New_York", "Australia/Sydney", "Asia/Kolkata")
EXAMPLE = Path(__file__).resolve().parent.parent / "example_project"


def write_project(root: Path, schedules: int, sensors: int) -> Path:
    root.mkdir(parents=True)
    lines = ["from assetflow import asset, sensor", ""]
    for i in range(20):
        parent = f"a{i - 1}: dict" if i else ""
        lines += ["@asset", f"def a{i}({parent}) -> dict:", "    return {'n': 1}", ""]
    for i in range(sensors):
        lines += ["@sensor(interval='30s')", f"def s{i}(context):", "    return None", ""]
    (root / "assets.py").write_text("\n".join(lines))
    config = ["[tool.assetflow]", 'modules = ["assets"]', 'executor = "inprocess"', ""]
    for i in range(schedules):
        config += [
            f"[tool.assetflow.schedules.s{i}]",
            f'cron = "{i % 60} * * * *"',
            f'timezone = "{ZONES[i % len(ZONES)]}"',
            f'select = "a{i % 20}"',
            'start = "2026-03-01T00:00:00Z"',
            "",
        ]
    (root / "pyproject.toml").write_text("\n".join(config))
    return root


def bench_cycle(tmp: Path) -> tuple[float, float]:
    root = write_project(tmp / "many", 1000, 200)
    project = assetflow.load(root)
    automation = load_automation(project)
    store = open_project_store(project)
    clock = FixedClock(datetime(2026, 3, 2, 12, 0, 30, tzinfo=UTC))
    daemon = Scheduler(project, automation, store, clock)
    daemon.launcher.submit = lambda tick: None  # type: ignore[method-assign]  # record only
    daemon.cycle()  # first sight: every schedule's ticks since its start
    clock.advance(3600)
    began = time.perf_counter()
    report = daemon.cycle()  # one hour later: each schedule has one tick due
    cycle_s = time.perf_counter() - began
    assert sum(ok for _, ok in report.recorded) >= 1000, len(report.recorded)
    began = time.perf_counter()
    make_plan(project, store, clock=clock)
    plan_s = time.perf_counter() - began
    store.close()
    return cycle_s, plan_s


def bench_ticks(tmp: Path, count: int = 1000) -> tuple[float, float]:
    root = write_project(tmp / "ticks", 0, 0)
    project = assetflow.load(root)
    store = open_project_store(project)
    start = datetime(2026, 3, 1, tzinfo=UTC)
    began = time.perf_counter()
    for i in range(count):
        at = start + timedelta(minutes=i)
        tick = TickRecord(
            origin="schedule:bench",
            scheduled_at=at,
            evaluated_at=at,
            status="claimed",
            run_id=uuid.uuid4().hex,
            run_key=f"k{i}",
            request={"version": 1},
        )
        store.claim_tick(tick)
        store.update_tick(tick.origin, at, status="started", evaluated_at=at, run_id=tick.run_id)
    tick_s = (time.perf_counter() - began) / count
    began = time.perf_counter()
    for i in range(count):
        at = start + timedelta(minutes=i)
        run_id = uuid.uuid4().hex
        store.create_run(
            RunRecord(
                run_id=run_id,
                trigger="bench",
                selection="*",
                status=RunStatus.RUNNING,
                started_at=at,
            )
        )
        store.finish_run(run_id, RunStatus.SUCCESS, at)
    run_s = (time.perf_counter() - began) / count
    store.close()
    return tick_s, run_s


def bench_year(tmp: Path) -> tuple[float, int]:
    root = tmp / "example"
    shutil.copytree(EXAMPLE, root, ignore=shutil.ignore_patterns(".assetflow", "__pycache__"))
    with (root / "pyproject.toml").open("a") as config:
        config.write(
            '\n[tool.assetflow.schedules.year]\ncron = "0 3 * * *"\n'
            'timezone = "Europe/Berlin"\nselect = "raw_records+"\n'
            'partition = "previous"\ncatchup = "all"\nmax_catchup = 400\n'
            'start = "2026-03-01T00:00:00+01:00"\n'
        )
    project = assetflow.load(root)
    automation = load_automation(project)
    [target] = [t for t in automation.schedules if t.name == "year"]
    store = open_project_store(project)
    now = datetime(2027, 3, 1, 3, 0, 30, tzinfo=UTC)
    state = OriginState(origin=target.origin, first_seen_at=now)
    began = time.perf_counter()
    decisions = due_ticks(target, state, None, now)
    runs = [d for d in decisions if d.request is not None]
    for decision in runs:
        assert decision.request is not None
        make_plan(project, store, decision.request, clock=FixedClock(now), check_inputs=False)
    year_s = time.perf_counter() - began
    store.close()
    return year_s, len(runs)


def main() -> None:
    with tempfile.TemporaryDirectory() as name:
        tmp = Path(name)
        cycle_s, plan_s = bench_cycle(tmp)
        print(
            f"cycle, 1,000 schedules + 200 sensors: {cycle_s:.3f} s (target < 0.5 s); "
            f"baseline plan('*') of the 20 assets: {plan_s * 1000:.1f} ms; "
            f"ratio {cycle_s / plan_s:.1f}x"
        )
        tick_s, run_s = bench_ticks(tmp)
        print(
            f"tick bookkeeping (claim + link): {tick_s * 1000:.3f} ms per tick "
            f"(target < 2 ms); baseline create_run + finish_run: {run_s * 1000:.3f} ms; "
            f"ratio {tick_s / run_s:.2f}x"
        )
        year_s, count = bench_year(tmp)
        print(
            f"a year of daily ticks over the example project: {count} ticks decided and "
            f"planned in {year_s:.2f} s (target < 10 s); {year_s / count * 1000:.1f} ms "
            "per tick"
        )
    sys.stdout.flush()


if __name__ == "__main__":
    main()
