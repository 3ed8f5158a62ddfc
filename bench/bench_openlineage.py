"""Benchmark: the cost of OpenLineage events on a run.

A chain of 100 trivial assets (each returns a small dict, stored as JSON) is
materialized in this process with the in-process executor and the project's
SQLite store, `--force` each time, in four setups:

- no `[tool.assetflow.openlineage]` (the baseline);
- the file transport (one event a line appended to lineage.ndjson);
- the http transport to a receiver on 127.0.0.1 (its own process) that answers 200;
- the http transport to a refused port (every event stays in the outbox).

Each run emits 202 events (START and COMPLETE for the run and each step). The
figures are the best of `--repeat` runs, the per-run overhead against the
baseline, and the ratio to it.

    python bench/bench_openlineage.py [--assets N] [--repeat N]
"""

from __future__ import annotations

import argparse
import socket
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from timing import best_of

import assetflow
from assetflow.openlineage.setup import lineage_recorder
from assetflow.request import RunRequest
from assetflow.services.running import materialize
from assetflow.services.stores import project_store


def chain(count: int) -> str:
    lines = ["from assetflow import asset", ""]
    lines += ["@asset", "def a0() -> dict:", "    return {'n': 0}", ""]
    for i in range(1, count):
        lines += ["@asset", f"def a{i}(a{i - 1}: dict) -> dict:", f"    return {{'n': {i}}}", ""]
    return "\n".join(lines)


#: The receiver, run as its own process (so that its work does not share this process's
#: interpreter with the run being timed): answers 200 to every POST.
RECEIVER = """
import http.server, sys
class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def do_POST(self):
        self.rfile.read(int(self.headers.get("Content-Length", "0")))
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()
    def log_message(self, *args):
        pass
server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
print(server.server_address[1], flush=True)
server.serve_forever()
"""


class Receiver:
    """An HTTP server on 127.0.0.1, in a process of its own, that takes every event."""

    def __init__(self) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-c", RECEIVER], stdout=subprocess.PIPE, text=True
        )
        assert self.process.stdout is not None
        self.url = f"http://127.0.0.1:{self.process.stdout.readline().strip()}"

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(10)


def refused_url() -> str:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{probe.getsockname()[1]}"


def project(base: Path, name: str, assets: int, table: str) -> Path:
    root = base / name
    root.mkdir()
    config = '[tool.assetflow]\nmodules = ["assets"]\nexecutor = "inprocess"\n' + table
    (root / "pyproject.toml").write_text(config)
    (root / "assets.py").write_text(chain(assets))
    return root


def runner(root: Path) -> Callable[[], None]:
    """One forced run of the project at `root`, with its lineage (if any), as the CLI does."""
    loaded = assetflow.load(root)
    request = RunRequest(executor="inprocess", force=True)

    def once() -> None:
        recorder = lineage_recorder(loaded, open_store=lambda: project_store(loaded))
        listeners = [] if recorder is None else [recorder]
        result = materialize(loaded, request, listeners=listeners)
        assert result.success

    return once


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--assets", type=int, default=100)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    receiver = Receiver()
    setups = {
        "no OpenLineage": "",
        "file transport": '[tool.assetflow.openlineage]\ntransport = "file"\n'
        'path = "lineage.ndjson"\n',
        "http, receiver up": f'[tool.assetflow.openlineage]\ntransport = "http"\n'
        f'url = "{receiver.url}"\n',
        "http, connection refused": f'[tool.assetflow.openlineage]\ntransport = "http"\n'
        f'url = "{refused_url()}"\ntimeout = 1\n',
    }
    with tempfile.TemporaryDirectory() as tmp:
        runs = {
            name: runner(project(Path(tmp), f"p{index}", args.assets, table))
            for index, (name, table) in enumerate(setups.items())
        }
        for once in runs.values():
            once()  # warm-up: imports, the store's schema, the first outputs
        # Round robin, so that a busy moment of the machine falls on every setup alike.
        timings: dict[str, list[float]] = {name: [] for name in runs}
        for _ in range(args.repeat):
            for name, once in runs.items():
                timings[name].append(best_of(1, once))
        results = {name: min(times) for name, times in timings.items()}
    baseline = results["no OpenLineage"]
    events = 2 * (args.assets + 1)
    print(f"{args.assets}-asset chain, in-process executor, SQLite store, {events} events a run")
    print(f"best of {args.repeat} runs each, in turns (after one warm-up)\n")
    print(f"{'setup':<26} {'run':>9} {'overhead':>10} {'per event':>10} {'ratio':>7}")
    for name, took in results.items():
        extra = took - baseline
        print(
            f"{name:<26} {took * 1000:7.0f} ms {extra * 1000:+8.0f} ms "
            f"{extra / events * 1e6:+8.0f} us {took / baseline:6.2f}x"
        )
    receiver.stop()


if __name__ == "__main__":
    main()
