"""Benchmark: per-asset overhead of materializing trivial assets, and CLI start-up.

Times, in one process, chains of 100 and 500 trivial assets and a fan-out of 1 -> 200,
persisted to a real state dir (Parquet for tiny frames, JSON for small dicts),
against a baseline that writes the same outputs with pandas/pyarrow/json
directly (write beside, rename). The per-asset cost of a chain should not grow
with its length: the two chain lengths are printed side by side, with the ratio
of 500 to 100. Then times `assetflow --help` as a subprocess.

    python bench/bench_materialize.py            # everything
    python bench/bench_materialize.py --chains   # the chains of 100 and 500 only
"""

from __future__ import annotations

import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

import assetflow

REPEATS = 3


def chain_module(count: int, kind: str) -> str:
    lines = ["import pandas as pd", "from assetflow import asset", ""]
    for i in range(count):
        param = f"a{i - 1}" if i else ""
        lines += _asset(f"a{i}", param, kind)
    return "\n".join(lines)


def fan_module(count: int, kind: str) -> str:
    lines = ["import pandas as pd", "from assetflow import asset", ""]
    lines += _asset("root", "", kind)
    for i in range(count):
        lines += _asset(f"leaf{i}", "root", kind)
    return "\n".join(lines)


def _asset(name: str, param: str, kind: str) -> list[str]:
    if kind == "json":
        return ["@asset", f"def {name}({param}) -> dict:", "    return {'n': 1}", ""]
    return [
        "@asset",
        f"def {name}({param}) -> pd.DataFrame:",
        "    return pd.DataFrame({'n': [1, 2, 3]})",
        "",
    ]


def make_project(root: Path, module: str) -> Path:
    if root.exists():
        shutil.rmtree(root)
    root.mkdir(parents=True)
    (root / "pyproject.toml").write_text('[tool.assetflow]\nmodules = ["bench_assets"]\n')
    (root / "bench_assets.py").write_text(module)
    return root


def baseline(directory: Path, count: int, kind: str) -> float:
    """The same outputs written by hand: build the value, write beside, rename."""
    directory.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    for i in range(count):
        target = directory / f"a{i}.{'json' if kind == 'json' else 'parquet'}"
        temporary = target.with_name(target.name + ".tmp")
        if kind == "json":
            temporary.write_text(json.dumps({"n": 1}))
        else:
            table = pa.Table.from_pandas(pd.DataFrame({"n": [1, 2, 3]}), preserve_index=False)
            pq.write_table(table, temporary)
        os.replace(temporary, target)
    return time.perf_counter() - started


def measure(name: str, module: str, count: int, kind: str, work: Path) -> float:
    """Print the figures of one case; return its first run's milliseconds per asset."""
    first, second, loads, runs = [], [], [], []
    for attempt in range(REPEATS):
        root = make_project(work / f"{name}-{attempt}", module)
        started = time.perf_counter()
        project = assetflow.load(root)
        loads.append(time.perf_counter() - started)
        started = time.perf_counter()
        result = assetflow.materialize("*", project=project)
        first.append(time.perf_counter() - started)
        runs.append(result.duration_s)
        assert result.success, result.failures()
        started = time.perf_counter()
        again = assetflow.materialize("*", project=project)
        second.append(time.perf_counter() - started)
        assert again.plan.is_empty
    base = min(baseline(work / f"{name}-baseline-{i}", count, kind) for i in range(REPEATS))
    best_first, best_second = min(first), min(second)
    # The first run also plans, computing every asset's code version (a new project has
    # no cached ones); the run itself is the steps, from the run's own record.
    print(
        f"{name:<22} {count:>4} assets  load {min(loads) * 1000:7.1f} ms  "
        f"first run {best_first / count * 1000:6.2f} ms/asset "
        f"(the run itself {min(runs) / count * 1000:.2f})  "
        f"fresh re-plan {best_second / count * 1000:6.2f} ms/asset  "
        f"baseline {base / count * 1000:5.2f} ms/asset  "
        f"ratio {best_first / base:5.1f}x"
    )
    return best_first / count * 1000


def chains(work: Path) -> None:
    """Chains of 100 and 500 persisted assets: the per-asset cost should be flat in N."""
    for kind in ("json", "parquet"):
        per_asset = {
            count: measure(
                f"chain of {count} ({kind})", chain_module(count, kind), count, kind, work
            )
            for count in (100, 500)
        }
        print(
            f"chain ({kind}): {per_asset[100]:.2f} ms/asset at 100, "
            f"{per_asset[500]:.2f} ms/asset at 500 (500/100: {per_asset[500] / per_asset[100]:.2f})"
        )


def help_startup() -> None:
    times = []
    for _ in range(5):
        started = time.perf_counter()
        subprocess.run(
            [sys.executable, "-m", "assetflow.cli", "--help"], check=True, capture_output=True
        )
        times.append(time.perf_counter() - started)
    empty = []
    for _ in range(5):
        started = time.perf_counter()
        subprocess.run([sys.executable, "-c", "pass"], check=True)
        empty.append(time.perf_counter() - started)
    print(
        f"assetflow --help: median {statistics.median(times) * 1000:.0f} ms "
        f"(bare python start-up {statistics.median(empty) * 1000:.0f} ms)"
    )


def main() -> None:
    with tempfile.TemporaryDirectory() as scratch:
        work = Path(scratch)
        chains(work)
        if "--chains" in sys.argv[1:]:
            return
        measure("fan-out 1->200 (json)", fan_module(200, "json"), 201, "json", work)
        measure("fan-out 1->200 (pq)", fan_module(200, "parquet"), 201, "parquet", work)
    help_startup()


if __name__ == "__main__":
    main()
