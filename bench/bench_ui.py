"""Benchmark: the UI's server time, through a real server on 127.0.0.1.

The lineage page (`/`) and its JSON (`/api/graph`) for generated projects of
1,000 and 5,000 fully materialized assets (target: under 300 ms for 1,000), timed
as a client on the same machine sees them (uvicorn in a thread of this process,
a plain HTTP GET over loopback: the server's time plus a loopback round trip).
Baselines in the same process: `assetflow.services.history.status` of every
asset (what the page must read whatever it draws), and the layout alone, cold
(computed) and warm (the cache's lookup, what a request pays).

Past 1,500 assets `/` asks for a selection first: for 5,000 the script times
that page, a group's page (`?select=group:g0`) and the whole graph on demand
(`?select=*`).

Also: the server's start time (`assetflow ui` as a new process until its first
page answers; target under 1 s), against a new process that only loads the same
project (`assetflow list`); and the asset page of an asset with 10 years of
daily partitions, all materialized (target under 300 ms), against
`history.status` of that asset.

The runs page with 10,000 runs is `bench/bench_ui_runs.py`.

    python bench/bench_ui.py [--sizes 1000,5000] [--repeat 5]
"""

from __future__ import annotations

import argparse
import functools
import random
import socket
import tempfile
import threading
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import uvicorn
from timing import best_of

import assetflow
from assetflow.request import RunRequest
from assetflow.services import history
from assetflow.ui.app import create_app
from assetflow.ui.layout import Shape, layout, layout_shape
from assetflow.ui.state import UiState

PARENTS = 2
GROUPS = 8
SEED = 11
#: Target for `/` and `/api/graph` at 1,000 assets.
TARGET_1000_S = 0.3


def make_project(root: Path, count: int) -> Path:
    """`count` trivial assets in GROUPS groups, each reading up to 2 of the 60 before it."""
    rng = random.Random(SEED)
    lines = ["from assetflow import asset", ""]
    for i in range(count):
        low = max(0, i - 60)
        parents = sorted({f"a{rng.randrange(low, i)}" for _ in range(PARENTS)}) if i else []
        body = " + ".join(f"{p}['n']" for p in parents) or "1"
        lines += [
            f'@asset(group="g{i % GROUPS}")',
            f"def a{i}({', '.join(parents)}) -> dict:",
            f"    return {{'n': ({body}) % 1000}}",
            "",
        ]
    root.mkdir(parents=True, exist_ok=True)
    (root / "pyproject.toml").write_text('[tool.assetflow]\nmodules = ["big"]\n')
    (root / "big.py").write_text("\n".join(lines))
    return root


@contextmanager
def server(project: assetflow.Project) -> Iterator[str]:
    """uvicorn serving `project` on a free port of 127.0.0.1, in a thread."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = int(probe.getsockname()[1])
    config = uvicorn.Config(
        create_app(UiState(project=project)),
        host="127.0.0.1",
        port=port,
        log_level="warning",
        lifespan="off",
    )
    running = uvicorn.Server(config)
    thread = threading.Thread(target=running.run, daemon=True)
    thread.start()
    while not running.started:
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        running.should_exit = True
        thread.join(10)


def fetch(url: str) -> int:
    with urllib.request.urlopen(url, timeout=120) as answer:
        assert answer.status == 200, (url, answer.status)
        return len(answer.read())


def bench(work: Path, count: int, repeat: int) -> None:
    root = make_project(work / f"ui{count}", count)
    project = assetflow.load(root)
    started = time.perf_counter()
    assert assetflow.materialize("*", project=project).success
    built_s = time.perf_counter() - started
    print(f"{count:,} assets in {GROUPS} groups, materialized in {built_s:.1f} s")

    status_s = best_of(repeat, lambda: history.status(project, RunRequest()))
    shape = Shape.of(project.graph)

    def cold() -> None:
        layout_shape.cache_clear()
        layout_shape(shape)

    cold_s = best_of(repeat, cold)
    warm_s = best_of(repeat, lambda: layout(project.graph))
    print(
        f"  baselines: history.status of every asset {status_s * 1000:.0f} ms; "
        f"layout cold {cold_s * 1000:.0f} ms, warm (cached) {warm_s * 1000:.1f} ms"
    )
    pages = ["/", "/api/graph", "/api/assets"]
    if count > 1_500:
        pages += ["/?select=group:g0", "/?select=*"]
    with server(project) as url:
        fetch(url + "/api/graph")  # the first request lays the graph out
        for path in pages:
            size = fetch(url + path)
            took = best_of(repeat, functools.partial(fetch, url + path))
            target = f" (target < {TARGET_1000_S * 1000:.0f} ms)" if count <= 1_000 else ""
            print(
                f"  GET {path:<20} {took * 1000:6.0f} ms{target}, {size / 1024:,.0f} KiB; "
                f"{took / status_s:.1f}x history.status"
            )


TEN_YEARS = """
from assetflow import DailyPartitions, asset

days = DailyPartitions(start="2016-01-01", end="2026-01-01")


@asset(partitions=days, io="json")
def daily(context) -> dict:
    return {"day": context.partition_key}
"""


def bench_start(work: Path, repeat: int) -> None:
    """`assetflow ui` as a new process, from its start to its first answered page."""
    import os
    import subprocess
    import sys

    root = work / "start"
    root.mkdir()
    (root / "pyproject.toml").write_text('[tool.assetflow]\nmodules = ["one"]\n')
    (root / "one.py").write_text(
        "from assetflow import asset\n\n@asset\ndef one() -> dict:\n    return {}\n"
    )
    base = [sys.executable, "-m", "assetflow", "--project", str(root)]
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}

    def start() -> None:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = int(probe.getsockname()[1])
        process = subprocess.Popen(
            [*base, "ui", "--port", str(port)], stdout=subprocess.DEVNULL, env=env
        )
        try:
            while True:
                try:
                    fetch(f"http://127.0.0.1:{port}/")
                    return
                except OSError:
                    time.sleep(0.01)
        finally:
            process.terminate()
            process.wait(10)

    def listing() -> None:
        subprocess.run([*base, "list"], check=True, stdout=subprocess.DEVNULL, env=env)

    start_s = best_of(repeat, start)
    list_s = best_of(repeat, listing)
    print(
        f"server start to the first page: {start_s * 1000:.0f} ms (target < 1 s); baseline "
        f"`assetflow list` of the same project: {list_s * 1000:.0f} ms; ratio "
        f"{start_s / list_s:.2f}x"
    )


def bench_ten_years(work: Path, repeat: int) -> None:
    """The asset page of 3,652 daily partitions, every one materialized."""
    root = work / "ten-years"
    root.mkdir()
    (root / "pyproject.toml").write_text('[tool.assetflow]\nmodules = ["daily"]\n')
    (root / "daily.py").write_text(TEN_YEARS)
    project = assetflow.load(root)
    started = time.perf_counter()
    assert assetflow.materialize("*", project=project).success
    print(f"10 years of daily partitions materialized in {time.perf_counter() - started:.1f} s")
    status_s = best_of(repeat, lambda: history.status(project, RunRequest(selection="daily")))
    with server(project) as url:
        for path in ("/assets/daily", "/api/assets/daily"):
            size = fetch(url + path)
            took = best_of(repeat, functools.partial(fetch, url + path))
            print(
                f"  GET {path:<20} {took * 1000:6.0f} ms (target < 300 ms), "
                f"{size / 1024:,.0f} KiB; baseline history.status of the asset "
                f"{status_s * 1000:.0f} ms; ratio {took / status_s:.1f}x"
            )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="1000,5000")
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        bench_start(Path(scratch), args.repeat)
        bench_ten_years(Path(scratch), args.repeat)
        for count in (int(size) for size in args.sizes.split(",")):
            bench(Path(scratch), count, args.repeat)


if __name__ == "__main__":
    main()
