"""Benchmark: a 5,000,000-row raw -> clean -> aggregate pipeline against a plain script.

The pipeline (as issue figures name it): `raw` makes 5M rows of an int64 id, a
timestamp, a string category of 20 values and a float amount; `clean` drops the
non-positive amounts and adds an int column; `aggregate` groups by category. Each
output is Parquet. `assetflow materialize` runs it as a new process with the
default executor; the baseline is the same three functions, undecorated, run by a
plain `python pipeline.py` (a new process too) that writes the same Parquet files
beside and renames them. The two take turns and the medians are compared
(target: under 1.10x).

    python bench/bench_pipeline.py [--rows N] [--repeats N]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
from pathlib import Path

from bench_execution import make_project, run_cli
from bench_execution import plain_script as run_plain_script

#: assetflow end to end against the plain script.
TARGET_RATIO = 1.10
SEED = 20261205

MODULE = '''\
import numpy as np
import pandas as pd

from assetflow import asset

ROWS = {rows}
SEED = {seed}
CATEGORIES = np.array([f"category-{{i:02d}}" for i in range(20)], dtype=object)


@asset
def raw_orders() -> pd.DataFrame:
    """Orders: an id, when, a category of 20, an amount (some not positive)."""
    rng = np.random.default_rng(SEED)
    start = np.datetime64("2026-01-01T00:00:00", "s")
    return pd.DataFrame(
        {{
            "id": np.arange(ROWS, dtype=np.int64),
            "ordered_at": start + rng.integers(0, 90 * 86_400, ROWS).astype("timedelta64[s]"),
            "category": pd.array(CATEGORIES[rng.integers(0, 20, ROWS)], dtype="str"),
            "amount": rng.normal(40.0, 30.0, ROWS).round(2),
        }}
    )


@asset
def clean_orders(raw_orders: pd.DataFrame) -> pd.DataFrame:
    """Orders with a positive amount, and the amount in cents."""
    clean = raw_orders[raw_orders["amount"] > 0]
    return clean.assign(cents=(clean["amount"] * 100).round().astype("int64"))


@asset
def category_totals(clean_orders: pd.DataFrame) -> pd.DataFrame:
    """Orders and revenue per category."""
    return clean_orders.groupby("category", as_index=False).agg(
        orders=("id", "count"), cents=("cents", "sum")
    )
'''


def plain_script(module: str, work: Path) -> float:
    """`python pipeline.py`: the same functions without assetflow, as a new process."""
    return run_plain_script(module, work, aggregate="category_totals")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=5_000_000, help="rows of raw_orders")
    parser.add_argument("--repeats", type=int, default=5, help="timed turns of each side")
    args = parser.parse_args()
    module = MODULE.format(rows=args.rows, seed=SEED)
    with tempfile.TemporaryDirectory(prefix="assetflow-bench-pipeline-") as tmp:
        work = Path(tmp)
        # One warm-up of each (page cache, bytecode), not counted.
        plain_script(module, work / "script-warm-up")
        run_cli(make_project(work / "warm-up", module))
        scripts, runs = [], []
        for turn in range(args.repeats):
            scripts.append(plain_script(module, work / f"script-{turn}"))
            runs.append(run_cli(make_project(work / f"pipeline-{turn}", module)))
    script = statistics.median(scripts)
    run = sorted(runs, key=lambda r: r.wall_s)[len(runs) // 2]
    ratio = run.wall_s / script
    ok = "OK" if ratio < TARGET_RATIO else "MISSED"
    print(
        f"{args.rows:,}-row raw -> clean -> aggregate, Parquet: `assetflow materialize` "
        f"{run.wall_s:.2f} s vs plain script {script:.2f} s (new processes, medians of "
        f"{args.repeats}): ratio {ratio:.2f}x (target < {TARGET_RATIO:.2f}x) {ok}"
    )
    print(f"  assetflow runs: {', '.join(f'{r.wall_s:.2f}' for r in runs)} s")
    print(f"  script runs:    {', '.join(f'{s:.2f}' for s in scripts)} s")
    steps = ", ".join(f"{name} {seconds:.2f} s" for name, seconds in run.steps.items())
    print(
        f"  assetflow run itself {run.run_s:.2f} s ({steps}); start-up and exit "
        f"{run.wall_s - run.run_s:.2f} s"
    )


if __name__ == "__main__":
    main()
