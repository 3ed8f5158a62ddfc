"""Benchmark: the UI's runs pages with 10,000 runs in the store.

A project of three assets and a store of 10,000 finished runs (each with two
step events), written straight to the store; a real UI server (uvicorn on a
free port of 127.0.0.1). Measured, best and median of several requests after
one warm-up: `/runs` (the first page of 50), `/api/runs`, `/runs` with a
status and trigger filter, an asset filter, the 100th page through `?before=`, and one run's
page `/runs/{id}` with its timeline. Target: `/runs` under 200 ms.

    python bench/bench_ui_runs.py
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import textwrap
import threading
import time
import urllib.request
from datetime import UTC, datetime, timedelta
from pathlib import Path

import uvicorn

import assetflow
from assetflow.services.stores import project_store
from assetflow.store.records import EventKind, EventRecord, RunRecord, RunStatus
from assetflow.ui.app import create_app
from assetflow.ui.state import UiState

RUNS = 10_000
ROUNDS = 15
ASSETS = """
from assetflow import asset

@asset
def first() -> dict:
    return {"n": 1}

@asset
def second(first: dict) -> dict:
    return first
"""


def write_project(root: Path) -> None:
    root.mkdir()
    (root / "pyproject.toml").write_text('[tool.assetflow]\nmodules = ["assets"]\n')
    (root / "assets.py").write_text(textwrap.dedent(ASSETS))


def write_runs(root: Path, count: int) -> str:
    """`count` finished runs, a minute apart, each with two steps; the newest id."""
    project = assetflow.load(root)
    start = datetime(2026, 1, 1, tzinfo=UTC)
    run_id = ""
    with project_store(project) as store, store.unit_of_work():
        for index in range(count):
            run_id = f"{index:08d}" + "b" * 24
            at = start + timedelta(minutes=index)
            trigger = "schedule" if index % 3 == 0 else "cli"
            store.create_run(RunRecord(run_id=run_id, trigger=trigger, started_at=at, pid=1))
            failed = index % 10 == 0
            store.record(
                events=[
                    EventRecord(run_id=run_id, kind=EventKind.STARTED, at=at, asset="first"),
                    EventRecord(
                        run_id=run_id,
                        kind=EventKind.FAILED if failed else EventKind.MATERIALIZED,
                        at=at + timedelta(seconds=20),
                        asset="first",
                        duration_s=20.0,
                    ),
                ]
            )
            status = RunStatus.FAILED if failed else RunStatus.SUCCESS
            store.finish_run(run_id, status, at + timedelta(seconds=30))
    return run_id


def timed(url: str) -> tuple[float, float]:
    """Best and median seconds of ROUNDS GETs of `url`, after one warm-up."""
    urllib.request.urlopen(url, timeout=60).read()
    timings = []
    for _ in range(ROUNDS):
        began = time.perf_counter()
        with urllib.request.urlopen(url, timeout=60) as answer:
            answer.read()
            assert answer.status == 200, url
        timings.append(time.perf_counter() - began)
    return min(timings), statistics.median(timings)


def main() -> int:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "runs_bench"
        write_project(root)
        began = time.perf_counter()
        newest = write_runs(root, RUNS)
        print(f"wrote {RUNS:,} runs in {time.perf_counter() - began:.1f} s")
        state = UiState(project=assetflow.load(root))
        with socket_port() as port:
            config = uvicorn.Config(
                create_app(state), host="127.0.0.1", port=port, log_level="warning"
            )
            server = uvicorn.Server(config)
            thread = threading.Thread(target=server.run, daemon=True)
            thread.start()
            while not server.started:
                time.sleep(0.02)
            base = f"http://127.0.0.1:{port}"
            page_100 = f"{5000:08d}" + "b" * 24
            cases = [
                ("/runs", "/runs"),
                ("/api/runs", "/api/runs"),
                ("/runs?status=failed&trigger=schedule", "/runs?status=failed&trigger=schedule"),
                ("/runs?asset=first&status=failed", "/runs?asset=first&status=failed"),
                ("/runs?before=<the 5,000th>", f"/runs?before={page_100}"),
                ("/runs/{id}", f"/runs/{newest}"),
                ("/api/runs/{id}", f"/api/runs/{newest}"),
            ]
            slow = False
            for label, path in cases:
                best, median = timed(base + path)
                print(f"{label:<42} best {best * 1000:6.1f} ms   median {median * 1000:6.1f} ms")
                slow = slow or (path == "/runs" and median > 0.2)
            server.should_exit = True
            thread.join(10)
    print("target: /runs under 200 ms" + (" (MISSED)" if slow else " (met)"))
    return 1 if slow else 0


class socket_port:
    """A free port of 127.0.0.1."""

    def __enter__(self) -> int:
        import socket

        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            return int(probe.getsockname()[1])

    def __exit__(self, *exc: object) -> None:
        return None


if __name__ == "__main__":
    sys.exit(main())
