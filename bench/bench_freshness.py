"""Benchmark: judging 1,000 freshness and deadline policies against a store with history
(target: well under 50 ms, what one scheduler cycle may spend on them).

A temporary project of 1,000 assets, each with a policy: 500 unpartitioned with
`freshness="6h"` (some late), 300 with daily partitions and a deadline, 200 with
hourly partitions and a deadline. Its SQLite store holds a history: ten
materializations of each unpartitioned asset, 60 days of each daily asset and 72 hours
of each hourly one, about 40,000 rows, with gaps so that some are overdue.

Measured, best of 7, in one process:

- `overdue(project, store, now)`: the whole evaluation (one bulk query, then pure code);
- baseline: `store.latest_states(names)` of the 1,000 assets, the one bulk query a
  plan of them makes (every partition's newest row);
- the pure evaluation alone, over rows already read.

    python bench/bench_freshness.py
"""

from __future__ import annotations

import sys
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

from timing import best_of

NOW = datetime(2026, 3, 10, 8, 0, tzinfo=UTC)
UNPARTITIONED, DAILY, HOURLY = 500, 300, 200

HEADER = """
from assetflow import asset, DailyPartitions, HourlyPartitions

days = DailyPartitions(start="2026-01-09", timezone="Europe/Berlin")
hours = HourlyPartitions(start="2026-03-07", timezone="Europe/Berlin")
"""


def assets_source() -> str:
    parts = [HEADER]
    for i in range(UNPARTITIONED):
        parts.append(f'@asset(freshness="6h")\ndef fresh_{i}() -> int:\n    return 1\n')
    for i in range(DAILY):
        parts.append(
            f'@asset(partitions=days, deadline="06:00", timezone="Europe/Berlin")\n'
            f"def daily_{i}() -> int:\n    return 1\n"
        )
    for i in range(HOURLY):
        parts.append(
            f'@asset(partitions=hours, deadline="06:00", timezone="Europe/Berlin")\n'
            f"def hourly_{i}() -> int:\n    return 1\n"
        )
    return "\n\n".join(parts)


def history(project) -> list:
    from assetflow.store.records import MaterializationRecord

    def record(asset: str, at: datetime, partition: str | None = None) -> MaterializationRecord:
        return MaterializationRecord(
            run_id="r" * 32,
            asset=asset,
            partition=partition,
            io="json",
            started_at=at,
            finished_at=at,
            duration_s=0.0,
        )

    rows = []
    for i in range(UNPARTITIONED):
        newest = NOW - timedelta(hours=1 + (i % 10))  # those past 6 h are late
        rows += [record(f"fresh_{i}", newest - timedelta(days=n)) for n in range(10)]
    days = project.graph.spec("daily_0").partitions.keys(NOW)
    for i in range(DAILY):
        kept = days if i % 7 else days[:-1]  # every 7th misses yesterday
        rows += [record(f"daily_{i}", NOW - timedelta(hours=3), key) for key in kept]
    hours = project.graph.spec("hourly_0").partitions.keys(NOW)
    for i in range(HOURLY):
        kept = hours if i % 5 else hours[:30]  # every 5th misses some hours
        rows += [record(f"hourly_{i}", NOW - timedelta(hours=2), key) for key in kept]
    return rows


def main() -> None:
    from assetflow.api import load
    from assetflow.freshness import evaluate
    from assetflow.services.freshness import overdue, policies
    from assetflow.services.stores import open_project_store

    with tempfile.TemporaryDirectory() as name:
        root = Path(name) / "proj"
        root.mkdir()
        (root / "pyproject.toml").write_text('[tool.assetflow]\nmodules = ["assets"]\n')
        (root / "assets.py").write_text(assets_source())
        sys.path.insert(0, str(root))
        project = load(root)
        with open_project_store(project) as store:
            rows = history(project)
            for start in range(0, len(rows), 5_000):
                store.record(rows[start : start + 5_000])
            rows_of = policies(project)
            names = [asset for asset, _, _ in rows_of]
            found = overdue(project, store, NOW)
            whole = best_of(7, lambda: overdue(project, store, NOW))
            query = best_of(7, lambda: store.latest_states(names))
            latest = store.latest_states(names)
            pure = best_of(7, lambda: evaluate(rows_of, latest, NOW))
    print(f"{len(rows_of)} policies, {len(rows):,} materializations, {len(found)} overdue")
    print(f"overdue(project, store, now):   {whole * 1000:7.1f} ms (target < 50 ms)")
    print(f"baseline latest_states(names): {query * 1000:7.1f} ms")
    print(f"pure evaluation alone:          {pure * 1000:7.1f} ms")
    print(f"ratio to the baseline:          {whole / query:7.2f}")


if __name__ == "__main__":
    main()
