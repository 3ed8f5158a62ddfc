"""Benchmark: what alerting costs a run, and a scheduler cycle's share of it.

1. A run of 100 trivial assets of which 10 fail (each with one downstream
   asset, skipped) and 80 materialize, with two alert destinations: the same
   run with and without the incident recorder, each on a fresh store, best of
   several rounds, on the default executor (worker processes; target: alerting
   adds under 5%) and in-process (the worst case: nothing but bookkeeping).
   Nothing is delivered: the run's own cost is measured; delivery comes after.
2. The alerts' share of one scheduler cycle over 1,000 assets with a freshness
   policy, half of them late: finding what is late, and opening (first cycle) or
   confirming (later cycles) their incidents (target: under 50 ms a cycle once
   the incidents are open). Baseline: the store's `latest_states` read of the
   same 1,000 assets, which a cycle's freshness look cannot do without.

    python bench/bench_alerts.py
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import assetflow
from assetflow.alerts.setup import alerting
from assetflow.alerts.watch import sync_overdue
from assetflow.request import RunRequest
from assetflow.services.freshness import overdue
from assetflow.services.running import materialize
from assetflow.services.stores import open_project_store
from assetflow.store import MaterializationRecord

ROUNDS = 7

ALERTS = """
[tool.assetflow.alerts.team-hook]
kind = "webhook"
url = "http://127.0.0.1:9/hook"

[tool.assetflow.alerts.oncall]
kind = "command"
command = ["true"]
on = ["run_failed", "recovered"]
"""


def write_run_project(root: Path) -> Path:
    root.mkdir(parents=True)
    lines = ["from assetflow import asset", ""]
    for i in range(100):
        # a0, a10, ... a90 fail; a1, a11, ... read them and are skipped; the rest run.
        parent = f"a{i - 1}: dict" if i % 10 == 1 else ""
        body = "raise ValueError('broken source')" if i % 10 == 0 else "return {'n': 1}"
        lines += ["@asset", f"def a{i}({parent}) -> dict:", f"    {body}", ""]
    (root / "assets.py").write_text("\n".join(lines))
    config = '[tool.assetflow]\nmodules = ["assets"]\n' + ALERTS
    (root / "pyproject.toml").write_text(config)
    return root


def timed_run(root: Path, with_alerts: bool, executor: str) -> float:
    import shutil

    shutil.rmtree(root / ".assetflow", ignore_errors=True)
    project = assetflow.load(root)
    listeners = [alerting(project).recorder()] if with_alerts else []
    began = time.perf_counter()
    result = materialize(project, RunRequest(executor=executor), listeners=listeners)
    took = time.perf_counter() - began
    assert not result.success
    return took


def bench_run(tmp: Path, executor: str) -> tuple[float, float]:
    root = tmp / f"run-{executor}"
    if not root.exists():
        write_run_project(root)
    timed_run(root, True, executor)  # warm: imports, code caches
    plain, alerted = [], []
    for _ in range(ROUNDS):
        plain.append(timed_run(root, False, executor))
        alerted.append(timed_run(root, True, executor))
    project = assetflow.load(root)
    store = open_project_store(project)
    incidents = store.incidents()
    assert len(incidents) == 10, incidents
    store.close()
    return min(plain), min(alerted)


def write_fresh_project(root: Path, count: int) -> Path:
    root.mkdir(parents=True)
    lines = ["from assetflow import asset", ""]
    for i in range(count):
        lines += ["@asset(freshness='6h')", f"def f{i}() -> dict:", "    return {'n': 1}", ""]
    (root / "assets.py").write_text("\n".join(lines))
    config = '[tool.assetflow]\nmodules = ["assets"]\n' + ALERTS
    (root / "pyproject.toml").write_text(config)
    return root


def bench_cycle(tmp: Path, count: int = 1000) -> tuple[float, float, float, int]:
    root = write_fresh_project(tmp / "fresh", count)
    project = assetflow.load(root)
    setup = alerting(project)
    store = open_project_store(project)
    now = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)
    # Half of the assets materialized an hour ago (fresh), half 10 hours ago (late).
    records = []
    for i in range(count):
        at = now - timedelta(hours=1 if i % 2 else 10)
        records.append(
            MaterializationRecord(
                run_id="bench",
                asset=f"f{i}",
                io="json",
                path=f"f{i}.json",
                started_at=at,
                finished_at=at,
                duration_s=0.01,
                data_version=f"v{i}",
            )
        )
    store.record(materializations=records)
    began = time.perf_counter()
    late = overdue(project, store, now)
    sync_overdue(store, setup.routes, late, now)
    first_s = time.perf_counter() - began
    cycles = []
    for round_ in range(ROUNDS):
        moment = now + timedelta(seconds=10 * (round_ + 1))
        began = time.perf_counter()
        late = overdue(project, store, moment)
        changes = sync_overdue(store, setup.routes, late, moment)
        cycles.append(time.perf_counter() - began)
        assert not changes.opened
        assert not changes.resolved
    baseline = []
    for _ in range(ROUNDS):
        began = time.perf_counter()
        store.latest_states([f"f{i}" for i in range(count)])
        baseline.append(time.perf_counter() - began)
    opened = len(store.open_incidents(["overdue"]))
    store.close()
    return first_s, statistics.median(cycles), statistics.median(baseline), opened


def main() -> None:
    with tempfile.TemporaryDirectory() as name:
        tmp = Path(name)
        for executor, note in (("multiprocess", " (target < 5%)"), ("inprocess", "")):
            plain, alerted = bench_run(tmp, executor)
            print(
                f"run of 100 assets, 10 failing, {executor}: {alerted:.3f} s with alerting, "
                f"{plain:.3f} s without (baseline); alerting adds "
                f"{(alerted / plain - 1) * 100:+.1f}%{note}; ratio {alerted / plain:.3f}x"
            )
        first, cycle, baseline, opened = bench_cycle(tmp)
        print(
            f"scheduler cycle, 1,000 freshness policies ({opened} late): "
            f"{cycle * 1000:.1f} ms a cycle (target < 50 ms), {first * 1000:.1f} ms for the "
            f"first one that opens the incidents; baseline latest_states of the 1,000: "
            f"{baseline * 1000:.1f} ms; ratio {cycle / baseline:.1f}x"
        )
    sys.stdout.flush()


if __name__ == "__main__":
    main()
