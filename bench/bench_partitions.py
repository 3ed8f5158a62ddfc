"""Benchmark: planning a year of daily partitions over many assets, and backfill overhead.

1. 1,000 daily-partitioned assets (each reading up to 2 earlier ones by
   identity) x 365 partitions, fully fresh: time `assetflow.plan('*')` in
   process and its peak memory (targets: under 5 s, under 2 GB). The fresh
   state is recorded straight into the store in bulk (365,000 materializations
   through a real run would take minutes), with the code versions and input
   data versions a real run would record. Baseline: reading the same number of
   rows back from the same SQLite file with one plain query.
2. A backfill of 31 daily partitions of a 3-asset chain with trivial work, in
   process: the per-asset-partition overhead (target: under 20 ms), against
   pandas+pyarrow writing the same 93 tiny Parquet files by hand.

    python bench/bench_partitions.py [--assets 1000] [--days 365]
"""

from __future__ import annotations

import argparse
import os
import random
import resource
import sqlite3
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

import assetflow
from assetflow.clock import FixedClock
from assetflow.planner.keys import PartitionRequest
from assetflow.project import Project
from assetflow.services.planning import fingerprints_of
from assetflow.services.stores import open_project_store
from assetflow.store.records import MaterializationRecord, RunRecord, RunStatus

SEED = 11
BATCH = 20_000
START = datetime(2025, 1, 1, tzinfo=UTC)


def make_project(root: Path, count: int, days: int) -> Path:
    rng = random.Random(SEED)
    end = (START + timedelta(days=days)).date().isoformat()
    lines = [
        "from assetflow import DailyPartitions, asset",
        "",
        f'days = DailyPartitions(start="2025-01-01", end="{end}")',
        "",
    ]
    for i in range(count):
        parents = sorted({f"a{rng.randrange(i)}" for _ in range(2)}) if i else []
        lines += [
            "@asset(partitions=days)",
            f"def a{i}({', '.join(parents)}) -> dict:",
            "    return {'n': 1}",
            "",
        ]
    root.mkdir(parents=True, exist_ok=True)
    (root / "pyproject.toml").write_text('[tool.assetflow]\nmodules = ["big"]\n')
    (root / "big.py").write_text("\n".join(lines))
    return root


def write_file(project: Project, name: str, key: str) -> tuple[str, int, float]:
    """One partition's JSON file where a step would write it: its recorded path, size, mtime."""
    relative = f"data/{name}/partition={key}/part.json"
    path = project.state_dir / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    data = f'{{"n": "{name}-{key}"}}\n'.encode()
    path.write_bytes(data)
    return relative, len(data), path.stat().st_mtime


def record_fresh_state(project: Project, days: int, files: bool = False) -> None:
    """What a full materialization would have recorded, written in bulk; with `files`, a
    real file per partition too, so that planning verifies 365,000 stored files."""
    graph = project.graph
    versions = {name: fp.version for name, fp in fingerprints_of(project, graph.names).items()}
    keys = [(START + timedelta(days=d)).date().isoformat() for d in range(days)]
    at = START + timedelta(days=days + 1)
    batch: list[MaterializationRecord] = []
    with open_project_store(project) as store:
        store.create_run(RunRecord(run_id="seed", started_at=at, status=RunStatus.SUCCESS))
        for name in graph.topological_order():
            for key in keys:
                path, size, mtime = write_file(project, name, key) if files else (None, None, None)
                batch.append(
                    MaterializationRecord(
                        run_id="seed",
                        asset=name,
                        partition=key,
                        io="json",
                        path=path,
                        rows=None,
                        bytes=size,
                        file_mtime=mtime,
                        file_digest=None,
                        columns=(),
                        started_at=at,
                        finished_at=at,
                        duration_s=0.0,
                        code_version=versions[name],
                        data_version=f"{name}-{key}",
                        input_versions={f"{p}[{key}]": f"{p}-{key}" for p in graph.parents(name)},
                    )
                )
                if len(batch) >= BATCH:
                    store.record(materializations=batch)
                    batch = []
        store.record(materializations=batch)


def bench_plan(work: Path, count: int, days: int, files: bool = False) -> None:
    root = make_project(work / "plan", count, days)
    project = assetflow.load(root)
    started = time.perf_counter()
    record_fresh_state(project, days, files)
    seeded = time.perf_counter() - started
    kept = "a file per partition, each verified by the plan" if files else "no files"
    print(f"{count:,} assets x {days} days ({kept}): recorded the fresh state in {seeded:.1f} s")
    clock = FixedClock(START + timedelta(days=days + 2))
    assetflow.plan("*", project=project, clock=clock)  # warm the code version cache
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    started = time.perf_counter()
    plan = assetflow.plan("*", project=project, clock=clock)
    elapsed = time.perf_counter() - started
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    assert plan.is_empty, plan.steps[:3]
    assert len(plan.fresh) == count * days
    db = sqlite3.connect(project.state_dir / "metadata.sqlite")
    started = time.perf_counter()
    rows = db.execute(
        "SELECT asset, partition_key, code_version, data_version, input_versions_json "
        "FROM materializations"
    ).fetchall()
    baseline = time.perf_counter() - started
    db.close()
    print(
        f"  plan '*' fully fresh ({len(plan.fresh):,} asset-partitions): {elapsed:.2f} s "
        f"(target < 5 s); peak RSS {peak_mb:,.0f} MB (before planning {before / 1024:,.0f} MB; "
        f"target < 2,048 MB)"
    )
    print(
        f"  baseline (one plain SELECT of {len(rows):,} rows): {baseline:.2f} s; "
        f"ratio {elapsed / baseline:.1f}x"
    )
    middle = (START + timedelta(days=days // 2)).date().isoformat()
    started = time.perf_counter()
    one_day = assetflow.plan(
        "*", project=project, clock=clock, partitions=PartitionRequest.one(middle)
    )
    print(
        f"  plan '*' --partition {middle}: {time.perf_counter() - started:.2f} s "
        f"({len(one_day.fresh):,} fresh)"
    )


CHAIN = """
import pandas as pd
from assetflow import DailyPartitions, asset

days = DailyPartitions(start="2026-03-01", end="2026-04-01")

@asset(partitions=days)
def first(context) -> pd.DataFrame:
    return pd.DataFrame({"day": [context.partition_key], "n": [1]})

@asset(partitions=days)
def second(first: pd.DataFrame) -> pd.DataFrame:
    return first.assign(n=first["n"] + 1)

@asset(partitions=days)
def third(second: pd.DataFrame) -> pd.DataFrame:
    return second.assign(n=second["n"] * 2)
"""


def bench_backfill(work: Path) -> None:
    root = work / "chain"
    root.mkdir()
    (root / "pyproject.toml").write_text('[tool.assetflow]\nmodules = ["chain"]\n')
    (root / "chain.py").write_text(CHAIN)
    project = assetflow.load(root)
    request = PartitionRequest("2026-03-01", "2026-03-31")
    started = time.perf_counter()
    result = assetflow.materialize("*", project=project, partitions=request)
    elapsed = time.perf_counter() - started
    assert result.success, result.failures()
    assert len(result.results) == 93, result.counts()
    started = time.perf_counter()
    again = assetflow.materialize("*", project=project, partitions=request)
    noop = time.perf_counter() - started
    assert again.plan.is_empty

    out = work / "baseline"
    started = time.perf_counter()
    for day in range(1, 32):
        key = f"2026-03-{day:02d}"
        frame = pd.DataFrame({"day": [key], "n": [1]})
        for name in ("first", "second", "third"):
            frame = frame.assign(n=frame["n"] + 1)
            target = out / name / f"partition={key}" / "part.parquet"
            target.parent.mkdir(parents=True, exist_ok=True)
            temporary = target.with_name("part.tmp")
            pq.write_table(pa.Table.from_pandas(frame, preserve_index=False), temporary)
            os.replace(temporary, target)
    baseline = time.perf_counter() - started
    print(
        f"backfill 31 days x 3 assets: {elapsed:.2f} s = {elapsed / 93 * 1000:.1f} ms per "
        f"asset-partition (target < 20 ms); baseline {baseline / 93 * 1000:.1f} ms; "
        f"ratio {elapsed / baseline:.1f}x; re-run with nothing to do {noop * 1000:.0f} ms"
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--assets", type=int, default=1_000)
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument(
        "--files",
        action="store_true",
        help="write a real file per partition (about 1.5 GB of small files), so that the "
        "plan's verification of each stored output is measured",
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        work = Path(scratch)
        bench_backfill(work)
        bench_plan(work, args.assets, args.days, args.files)


if __name__ == "__main__":
    main()
