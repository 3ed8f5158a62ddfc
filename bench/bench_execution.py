"""Benchmark: the multiprocess executor (steps in forked worker processes).

1. 8 independent assets that each sleep 1 s, `assetflow materialize --workers 2
   --executor multiprocess` as a new process: wall time (target: under 4.5 s),
   against the ideal 4.0 s (8 x 1 s / 2 workers).
2. 200 trivial independent assets (each returns a tiny dict, stored as JSON):
   `assetflow.api.materialize(executor="multiprocess", workers=2)` in this
   process after `assetflow.load`, wall / 200 = the per-asset overhead, worker
   start-up included once (target: under 20 ms), against the same 200 functions
   called and their dicts written as JSON files by a plain loop. Also the wall
   time of the same run as an `assetflow materialize` process.
3. raw_orders -> clean_orders -> customer_totals on 5,000,000 rows, Parquet
   outputs: `assetflow materialize` as a new process (multiprocess, default
   workers) against a plain pandas + pyarrow run of the same functions in this
   process (generate, write, clean, write, aggregate, write); target: under
   1.3x. One warm-up of each, then one timed run of each.

Every project is built in a temporary directory and removed afterwards. The
command run is the `assetflow` console script next to this interpreter (not a
pyenv shim, which would add its own start-up), with `--json` so that the run's
own duration can be shown beside the wall time of the process.

    python bench/bench_execution.py [--quick] [--rows N]
"""

from __future__ import annotations

import argparse
import gc
import importlib.util
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

import assetflow
import assetflow.api
from assetflow.io.parquet import PARQUET_COMPRESSION

#: Benchmark 1: how far over the ideal (sleep x assets / workers) the whole command may be.
SLEEP_SLACK_S = 0.5
#: Benchmark 2: the per-asset overhead of the multiprocess executor.
TARGET_MS_PER_ASSET = 20.0
#: Benchmark 3: assetflow end to end against the plain script.
TARGET_PIPELINE_RATIO = 1.3
WORKERS = 2
SEED = 20260301


@dataclass(frozen=True)
class Sizes:
    sleepers: int
    sleep_s: float
    trivial: int
    rows: int
    repeats: int
    warm_up: bool


FULL = Sizes(sleepers=8, sleep_s=1.0, trivial=200, rows=5_000_000, repeats=3, warm_up=True)
QUICK = Sizes(sleepers=4, sleep_s=0.25, trivial=40, rows=200_000, repeats=1, warm_up=False)


# --- projects ------------------------------------------------------------------------


def make_project(root: Path, assets: str) -> Path:
    """A project directory: assetflow.toml naming the module `assets`, and assets.py."""
    root.mkdir(parents=True)
    (root / "assetflow.toml").write_text('modules = ["assets"]\n')
    (root / "assets.py").write_text(assets)
    return root


def sleepers_module(count: int, seconds: float) -> str:
    lines = ["import time", "", "from assetflow import asset", ""]
    for i in range(count):
        lines += [
            "",
            "@asset",
            f"def sleeper_{i}() -> dict:",
            f"    time.sleep({seconds!r})",
            f"    return {{'n': {i}}}",
            "",
        ]
    return "\n".join(lines)


def trivial_module(count: int) -> str:
    lines = ["from assetflow import asset", ""]
    for i in range(count):
        lines += ["", "@asset", f"def tiny_{i}() -> dict:", f"    return {{'n': {i}}}", ""]
    return "\n".join(lines)


PIPELINE_MODULE = '''\
"""raw_orders -> clean_orders -> customer_totals, every output a Parquet file."""

import numpy as np
import pandas as pd

from assetflow import asset

ROWS = {rows}
SEED = {seed}
CUSTOMERS = 100_000
#: Country codes as a careless source spells them: clean_orders normalises them.
COUNTRIES = np.array(
    ["us", "US", " us", "de", "DE ", "De", "fr", "FR", " gb", "GB", "nl", "NL ", "es", "it"],
    dtype=object,
)


@asset
def raw_orders() -> pd.DataFrame:
    """Orders with ids, customers, amounts (some missing, some negative), countries
    (some missing) and timestamps over 90 days."""
    rng = np.random.default_rng(SEED)
    amount = rng.gamma(2.0, 30.0, ROWS).round(2)
    amount[rng.random(ROWS) < 0.02] *= -1.0
    amount[rng.random(ROWS) < 0.01] = np.nan
    country = COUNTRIES[rng.integers(0, len(COUNTRIES), ROWS)]
    country[rng.random(ROWS) < 0.005] = None
    start = np.datetime64("2026-01-01T00:00:00", "s")
    ordered_at = start + rng.integers(0, 90 * 86_400, ROWS).astype("timedelta64[s]")
    return pd.DataFrame(
        {{
            "id": np.arange(ROWS, dtype=np.int64),
            "customer": rng.integers(0, CUSTOMERS, ROWS),
            "amount": amount,
            "country": pd.array(country, dtype="str"),
            "ordered_at": ordered_at,
        }}
    )


@asset
def clean_orders(raw_orders: pd.DataFrame) -> pd.DataFrame:
    """Orders with an amount and a country, refunds left out, countries upper case."""
    clean = raw_orders.dropna(subset=["amount", "country"])
    clean = clean[clean["amount"] > 0]
    clean = clean.assign(country=clean["country"].str.strip().str.upper())
    return clean.reset_index(drop=True)


@asset
def customer_totals(clean_orders: pd.DataFrame) -> pd.DataFrame:
    """Revenue per customer."""
    return clean_orders.groupby("customer", as_index=False)["amount"].sum()
'''


def import_file(path: Path, name: str) -> ModuleType:
    """Import a project's assets.py under another name, to call its functions directly."""
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# --- running assetflow ---------------------------------------------------------------


def assetflow_command() -> list[str]:
    """The console script of this interpreter's environment, else `python -m assetflow.cli`."""
    script = Path(sys.executable).parent / "assetflow"
    if script.exists():
        return [str(script)]
    return [sys.executable, "-m", "assetflow.cli"]


@dataclass(frozen=True)
class CliRun:
    wall_s: float
    run_s: float  # the run's own duration, as `run_finished` reports it
    steps: dict[str, float]  # asset -> duration_s of its step


def child_env() -> dict[str, str]:
    """This environment with bytecode caching on, as on any installed machine (some shells
    turn it off, and every start would then compile assetflow from source)."""
    return {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}


def run_cli(root: Path, *options: str) -> CliRun:
    """`assetflow --project ROOT materialize OPTIONS --json` as a new process, timed."""
    command = [*assetflow_command(), "--project", str(root), "materialize", *options, "--json"]
    started = time.perf_counter()
    done = subprocess.run(command, cwd=root, capture_output=True, text=True, env=child_env())
    wall = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(
            f"{' '.join(command)} exited with {done.returncode}:\n{done.stdout}\n{done.stderr}"
        )
    events = [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]
    finished = next(e for e in events if e["event"] == "run_finished")
    steps = {e["asset"]: e["duration_s"] for e in events if e["event"] == "step_finished"}
    assert finished["status"] == "success", finished
    return CliRun(wall, finished["duration_s"], steps)


def timed(fn: Callable[[], Any]) -> tuple[Any, float]:
    started = time.perf_counter()
    value = fn()
    return value, time.perf_counter() - started


def spread(values: list[float], scale: float = 1.0, unit: str = "s", digits: int = 2) -> str:
    if len(values) < 2:
        return ""
    shown = ", ".join(f"{v * scale:.{digits}f}" for v in values)
    return f"  [runs: {shown} {unit}]"


def verdict(ok: bool) -> str:
    return "OK" if ok else "MISSED"


# --- 1. sleeping assets --------------------------------------------------------------


def bench_sleepers(work: Path, sizes: Sizes) -> None:
    ideal = sizes.sleepers * sizes.sleep_s / WORKERS
    target = ideal + SLEEP_SLACK_S
    module = sleepers_module(sizes.sleepers, sizes.sleep_s)
    options = ("--workers", str(WORKERS), "--executor", "multiprocess")
    if sizes.warm_up:
        run_cli(make_project(work / "sleepers-warm-up", module), *options)
    runs = [
        run_cli(make_project(work / f"sleepers-{i}", module), *options)
        for i in range(sizes.repeats)
    ]
    wall = statistics.median(r.wall_s for r in runs)
    run_s = statistics.median(r.run_s for r in runs)
    print(
        f"1. {sizes.sleepers} sleeping assets ({sizes.sleep_s:g} s each), --workers {WORKERS}: "
        f"{wall:.2f} s wall (target < {target:.1f} s; ideal {ideal:.2f} s, "
        f"ratio {wall / ideal:.2f}) {verdict(wall < target)}" + spread([r.wall_s for r in runs])
    )
    print(
        f"   of which the run itself {run_s:.2f} s, process start-up and exit {wall - run_s:.2f} s"
    )


# --- 2. trivial assets ---------------------------------------------------------------


def baseline_trivial(module: ModuleType, count: int, directory: Path) -> float:
    """Call the same functions and write their dicts as JSON files (beside, then rename)."""
    directory.mkdir(parents=True)
    functions = [getattr(module, f"tiny_{i}") for i in range(count)]
    started = time.perf_counter()
    for i, function in enumerate(functions):
        target = directory / f"tiny_{i}.json"
        temporary = target.with_name(target.name + ".tmp")
        temporary.write_text(json.dumps(function()))
        os.replace(temporary, target)
    return time.perf_counter() - started


def bench_trivial(work: Path, sizes: Sizes) -> None:
    count = sizes.trivial
    module = trivial_module(count)
    options = ("--workers", str(WORKERS), "--executor", "multiprocess")
    loads, walls, runs = [], [], []
    for i in range(sizes.repeats):
        root = make_project(work / f"trivial-{i}", module)
        project, load_s = timed(lambda root=root: assetflow.load(root))
        result, wall = timed(
            lambda project=project: assetflow.api.materialize(
                "*", project=project, executor="multiprocess", workers=WORKERS
            )
        )
        assert result.success, result.failures()
        assert len(result.results) == count, len(result.results)
        loads.append(load_s)
        walls.append(wall)
        runs.append(result.duration_s)
    functions = import_file(work / "trivial-0" / "assets.py", "_bench_trivial_assets")
    base = min(baseline_trivial(functions, count, work / f"trivial-baseline-{i}") for i in range(3))
    cli = [
        run_cli(make_project(work / f"trivial-cli-{i}", module), *options)
        for i in range(sizes.repeats)
    ]

    wall = statistics.median(walls)
    per_asset_ms = wall / count * 1000
    base_ms = base / count * 1000
    print(
        f"2. {count} trivial JSON assets, multiprocess, workers {WORKERS}, API call: "
        f"{per_asset_ms:.2f} ms per asset (target < {TARGET_MS_PER_ASSET:g} ms) "
        f"{verdict(per_asset_ms < TARGET_MS_PER_ASSET)}" + spread(walls, 1000 / count, "ms", 2)
    )
    print(
        f"   call {wall:.3f} s (run's own duration {statistics.median(runs):.3f} s; "
        f"assetflow.load before it {statistics.median(loads) * 1000:.0f} ms, not counted)"
    )
    print(
        f"   baseline (same functions, plain loop writing JSON): {base_ms:.3f} ms per asset, "
        f"ratio {per_asset_ms / base_ms:.0f}x"
    )
    cli_wall = statistics.median(r.wall_s for r in cli)
    print(
        f"   whole `assetflow materialize --workers {WORKERS}` process: {cli_wall:.2f} s wall "
        f"({cli_wall / count * 1000:.1f} ms per asset; no target), of which the run itself "
        f"{statistics.median(r.run_s for r in cli):.2f} s" + spread([r.wall_s for r in cli])
    )


# --- 3. the 5M-row pipeline -----------------------------------------------------------


def write_parquet(frame: Any, target: Path) -> None:
    """What assetflow's Parquet output amounts to, by hand: convert, write beside, rename."""
    table = pa.Table.from_pandas(frame, preserve_index=None)
    temporary = target.with_name(target.name + ".tmp")
    pq.write_table(table, temporary, compression=PARQUET_COMPRESSION)
    os.replace(temporary, target)


def baseline_pipeline(module: ModuleType, directory: Path) -> dict[str, float]:
    """The same three functions in this process, each output written as Parquet."""
    directory.mkdir(parents=True)
    marks = [("", time.perf_counter())]
    raw = module.raw_orders()
    marks.append(("generate", time.perf_counter()))
    write_parquet(raw, directory / "raw_orders.parquet")
    marks.append(("write raw", time.perf_counter()))
    clean = module.clean_orders(raw_orders=raw)
    marks.append(("clean", time.perf_counter()))
    del raw
    write_parquet(clean, directory / "clean_orders.parquet")
    marks.append(("write clean", time.perf_counter()))
    totals = module.customer_totals(clean_orders=clean)
    marks.append(("aggregate", time.perf_counter()))
    write_parquet(totals, directory / "customer_totals.parquet")
    marks.append(("write totals", time.perf_counter()))
    phases = {name: at - marks[i][1] for i, (name, at) in enumerate(marks[1:])}
    phases["total"] = marks[-1][1] - marks[0][1]
    return phases


PLAIN_MAIN = """

def write_parquet(frame, target):
    table = pa.Table.from_pandas(frame, preserve_index=None)
    temporary = target.with_name(target.name + ".tmp")
    pq.write_table(table, temporary, compression={compression!r})
    os.replace(temporary, target)


if __name__ == "__main__":
    directory = Path(sys.argv[1])
    directory.mkdir(parents=True)
    raw = raw_orders()
    write_parquet(raw, directory / "raw_orders.parquet")
    clean = clean_orders(raw_orders=raw)
    del raw
    write_parquet(clean, directory / "clean_orders.parquet")
    write_parquet({aggregate}(clean_orders=clean), directory / "{aggregate}.parquet")
"""


def plain_script(module_text: str, work: Path, aggregate: str = "customer_totals") -> float:
    """The plain script as users run it, `python pipeline.py`: a new process with the same
    three functions (without assetflow's decorator, nor assetflow imported) that writes
    their Parquet files as assetflow does; `aggregate` names the third function."""
    body = module_text.replace("from assetflow import asset\n", "").replace("@asset\n", "")
    assert "assetflow" not in body.replace('"""raw_orders', "")
    header = "import os\nimport sys\nfrom pathlib import Path\n\n"
    header += "import pyarrow as pa\nimport pyarrow.parquet as pq\n"
    work.mkdir(parents=True, exist_ok=True)
    script = work / "pipeline.py"
    main = PLAIN_MAIN.format(compression=PARQUET_COMPRESSION, aggregate=aggregate)
    script.write_text(header + body + main)
    command = [sys.executable, str(script), str(work / "pipeline-script")]
    started = time.perf_counter()
    subprocess.run(command, check=True, env=child_env())
    return time.perf_counter() - started


def bench_pipeline(work: Path, sizes: Sizes) -> None:
    module_text = PIPELINE_MODULE.format(rows=sizes.rows, seed=SEED)
    functions = import_file(
        make_project(work / "pipeline-functions", module_text) / "assets.py",
        "_bench_pipeline_assets",
    )
    warm_up = None
    if sizes.warm_up:
        cold = baseline_pipeline(functions, work / "pipeline-baseline-warm-up")
        gc.collect()
        warm_up = (run_cli(make_project(work / "pipeline-warm-up", module_text)), cold)
    base = baseline_pipeline(functions, work / "pipeline-baseline")
    gc.collect()
    # The two sides take turns, so that a busy moment of the machine hits both alike;
    # the medians are compared.
    scripts, runs = [], []
    for turn in range(sizes.repeats):
        scripts.append(plain_script(module_text, work / f"script-{turn}"))
        runs.append(run_cli(make_project(work / f"pipeline-{turn}", module_text)))
    script = statistics.median(scripts)
    run = sorted(runs, key=lambda r: r.wall_s)[len(runs) // 2]

    ratio = run.wall_s / script
    print(
        f"3. {sizes.rows:,}-row pipeline raw -> clean -> aggregate, Parquet: "
        f"`assetflow materialize` {run.wall_s:.2f} s wall vs the plain pandas+pyarrow script "
        f"{script:.2f} s wall (each a new process; medians), ratio {ratio:.2f}x "
        f"(target < {TARGET_PIPELINE_RATIO:g}x) {verdict(ratio < TARGET_PIPELINE_RATIO)}"
        + spread([r.wall_s for r in runs])
        + spread(scripts).replace("runs:", "script runs:")
    )
    print(
        f"   against the same work repeated warm inside this process ({base['total']:.2f} s, "
        f"no start-up, memory already touched): {run.wall_s / base['total']:.2f}x"
    )
    steps = ", ".join(f"{name} {seconds:.2f} s" for name, seconds in run.steps.items())
    print(
        f"   assetflow: run itself {run.run_s:.2f} s ({steps}); "
        f"process start-up and exit {run.wall_s - run.run_s:.2f} s"
    )
    phases = ", ".join(
        f"{name} {seconds:.2f} s" for name, seconds in base.items() if name != "total"
    )
    print(f"   plain script: {phases}")
    if warm_up is not None:
        print(
            f"   warm-ups (not counted): assetflow {warm_up[0].wall_s:.2f} s, plain script "
            f"{warm_up[1]['total']:.2f} s (its first, cold, run in this process)"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes, for a smoke test")
    parser.add_argument("--rows", type=int, default=None, help="rows of the pipeline")
    args = parser.parse_args()
    sizes = QUICK if args.quick else FULL
    if args.rows is not None:
        sizes = Sizes(**{**sizes.__dict__, "rows": args.rows})

    print(
        f"{os.cpu_count()} cores; command: {' '.join(assetflow_command())}"
        + ("  (quick: sizes too small for the targets to mean much)" if args.quick else "")
    )
    with tempfile.TemporaryDirectory(prefix="bench-execution-") as scratch:
        work = Path(scratch)
        bench_sleepers(work, sizes)
        bench_trivial(work, sizes)
        bench_pipeline(work, sizes)


if __name__ == "__main__":
    main()
