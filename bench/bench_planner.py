"""Benchmark: planning a large fresh project, and a no-op `materialize` in a new process.

1. A generated graph of 10,000 assets (about 2 parents each), fully
   materialized: time `assetflow.plan('*')` in process (selection, two bulk
   store queries, code versions of every asset, the planner), split into parts.
   Baseline: the same number of rows read back from the same SQLite file by
   one plain query, the least any planner must do.
2. A project of 1,000 fresh assets: `assetflow materialize '*'` as a new
   process, wall time (target: under 2 s), against `python -c 'import pandas'`.

    python bench/bench_planner.py [--assets 10000]
"""

from __future__ import annotations

import argparse
import random
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import assetflow
from assetflow.planner import plan_run
from assetflow.services.planning import fingerprints_of, read_snapshot, select
from assetflow.services.stores import open_project_store

PARENTS = 2
SEED = 7


def make_project(root: Path, count: int) -> Path:
    """A module of `count` trivial assets, each reading up to 2 earlier ones."""
    rng = random.Random(SEED)
    lines = ["from assetflow import asset", ""]
    for i in range(count):
        parents = sorted({f"a{rng.randrange(i)}" for _ in range(PARENTS)}) if i else []
        body = " + ".join(f"{p}['n']" for p in parents) or "1"
        lines += [
            "@asset",
            f"def a{i}({', '.join(parents)}) -> dict:",
            f"    return {{'n': ({body}) % 1000}}",
            "",
        ]
    root.mkdir(parents=True, exist_ok=True)
    (root / "pyproject.toml").write_text('[tool.assetflow]\nmodules = ["big"]\n')
    (root / "big.py").write_text("\n".join(lines))
    return root


def timed(fn):  # type: ignore[no-untyped-def]
    started = time.perf_counter()
    value = fn()
    return value, time.perf_counter() - started


def bench_plan(work: Path, count: int) -> None:
    root = make_project(work / f"plan{count}", count)
    project, load_s = timed(lambda: assetflow.load(root))
    result, build_s = timed(lambda: assetflow.materialize("*", project=project))
    assert result.success
    print(
        f"{count:,} assets: load {load_s:.2f} s; first materialize {build_s:.1f} s "
        f"({build_s / count * 1000:.2f} ms/asset)"
    )
    with open_project_store(project) as store:
        names, select_s = timed(lambda: select(project, "*"))
        snapshot, snap_s = timed(lambda: read_snapshot(store, names))
        fingerprints, code_s = timed(lambda: fingerprints_of(project, names))
        versions = {name: fp.version for name, fp in fingerprints.items()}
        plan, plan_s = timed(
            lambda: plan_run(project.graph, names, snapshot, versions, now=result.finished_at)
        )
        assert plan.is_empty
        full, total_s = timed(lambda: assetflow.plan("*", project=project, store=store))
        assert full.is_empty
    db = sqlite3.connect(root / ".assetflow" / "metadata.sqlite")
    _, base_s = timed(lambda: db.execute("select * from materializations").fetchall())
    db.close()
    print(
        f"  plan '*' fully fresh: {total_s:.3f} s total (target < 1 s) = select {select_s:.3f} "
        f"+ store snapshot {snap_s:.3f} + code versions {code_s:.3f} + planner {plan_s:.3f}"
    )
    print(
        f"  baseline (one plain SELECT of all materializations): {base_s:.3f} s; "
        f"ratio {total_s / base_s:.1f}x"
    )


def bench_new_process(work: Path, count: int) -> None:
    root = make_project(work / f"cli{count}", count)
    assert assetflow.materialize("*", project=root).success
    runs = []
    for _ in range(3):
        _, wall = timed(
            lambda: subprocess.run(
                [sys.executable, "-m", "assetflow.cli", "--project", str(root), "materialize"],
                check=True,
                capture_output=True,
                # `-m` puts the working directory first on the path: the project's, so
                # that assetflow is imported as this process imports it.
                cwd=root,
            )
        )
        runs.append(wall)
    _, pandas_s = timed(lambda: subprocess.run([sys.executable, "-c", "import pandas"], check=True))
    best = min(runs)
    print(
        f"{count:,} fresh assets, `assetflow materialize '*'` in a new process: "
        f"{best:.2f} s wall (target < 2 s); `python -c 'import pandas'` {pandas_s:.2f} s; "
        f"ratio {best / pandas_s:.1f}x"
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--assets", type=int, default=10_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        work = Path(scratch)
        bench_plan(work, args.assets)
        bench_new_process(work, 1_000)


if __name__ == "__main__":
    main()
