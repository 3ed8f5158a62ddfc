"""Benchmark: Parquet outputs on object storage (`storage = "s3://..."`) against the local disk.

1. A chain of 100 trivial Parquet assets, `assetflow.materialize` in this process
   (default executor), once with outputs in the state directory and once on an
   S3-compatible server: milliseconds per asset, first run and fresh re-plan (which
   verifies every output: a stat per file locally, one listing on S3).
2. A 5,000,000-row frame written and read back through the Parquet kind
   (``ParquetIO.write`` then ``read``), on the local disk and on the server.

The server is moto's (`moto_server`, started here as its own process on 127.0.0.1, so
that it does not share this process's interpreter lock): it keeps objects in memory
and answers on the loopback, so the S3 figures are assetflow's and the client's cost
with no network in the way; a real bucket adds its round trips (tens of ms each)
and its bandwidth. The ratio printed is S3 to local disk, in the same process.

    python bench/bench_storage.py [--quick]
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import fsspec  # type: ignore[import-untyped]
import numpy as np
import pandas as pd
from timing import best_of

import assetflow
from assetflow.io import IOSettings, OutputRef, WriteTarget, io_manager
from assetflow.io.base import StorageSettings

CHAIN = 100
ROWS = 5_000_000
REPEATS = 3


@contextmanager
def s3_server() -> Iterator[str]:
    """moto's S3 server as a process on a free port; AWS_* point this process at it."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = subprocess.Popen(
        [shutil.which("moto_server") or "moto_server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    endpoint = f"http://127.0.0.1:{port}"
    os.environ.update(
        AWS_ENDPOINT_URL=endpoint,
        AWS_ACCESS_KEY_ID="bench",
        AWS_SECRET_ACCESS_KEY="bench",
        AWS_DEFAULT_REGION="us-east-1",
    )
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
        yield endpoint
    finally:
        server.terminate()
        server.wait(10)


def make_bucket(name: str) -> str:
    fsspec.filesystem("s3", skip_instance_cache=True).mkdir(name)
    return name


def round_trip_ms(bucket: str, repeats: int) -> float:
    """The server's floor: one PUT and one GET of a 2 KB object by the bare client, in ms."""
    filesystem = fsspec.filesystem("s3", skip_instance_cache=True)
    data = os.urandom(2048)

    def once() -> None:
        for n in range(50):
            filesystem.pipe_file(f"{bucket}/floor/{n}", data)
            filesystem.cat_file(f"{bucket}/floor/{n}")

    once()  # the client's connections opened
    return best_of(repeats, once) / 50 * 1000


def chain_project(root: Path, storage: str | None) -> Path:
    root.mkdir(parents=True)
    config = '[tool.assetflow]\nmodules = ["bench_assets"]\n'
    if storage:
        config += f'storage = "{storage}"\n'
    (root / "pyproject.toml").write_text(config)
    lines = ["import pandas as pd", "from assetflow import asset", ""]
    for i in range(CHAIN):
        param = f"a{i - 1}: pd.DataFrame" if i else ""
        lines += ["@asset", f"def a{i}({param}) -> pd.DataFrame:"]
        lines += ["    return pd.DataFrame({'n': [1, 2, 3]})", ""]
    (root / "bench_assets.py").write_text("\n".join(lines))
    return root


def chain(work: Path, storage: str | None, repeats: int) -> tuple[float, float]:
    """(first run, fresh re-plan) in milliseconds per asset, best of ``repeats``."""
    first, again = [], []
    for attempt in range(repeats):
        where = storage and f"{storage}/run{attempt}"
        project = assetflow.load(chain_project(work / f"{bool(storage)}-{attempt}", where))
        started = time.perf_counter()
        result = assetflow.materialize("*", project=project)
        first.append(time.perf_counter() - started)
        assert result.success, result.failures()
        started = time.perf_counter()
        fresh = assetflow.materialize("*", project=project)
        again.append(time.perf_counter() - started)
        assert fresh.plan.is_empty
    return min(first) / CHAIN * 1000, min(again) / CHAIN * 1000


def big_frame(rows: int) -> pd.DataFrame:
    generator = np.random.default_rng(20260301)
    return pd.DataFrame(
        {
            "id": np.arange(rows, dtype="int64"),
            "customer": generator.integers(0, 50_000, rows),
            "amount": generator.random(rows) * 100,
            "day": pd.Timestamp("2026-01-01")
            + pd.to_timedelta(generator.integers(0, 365, rows), "D"),
        }
    )


def write_read(frame: pd.DataFrame, settings: IOSettings, state: Path, repeats: int) -> float:
    """Seconds to write ``frame`` through the Parquet kind and read it back, best of."""
    manager = io_manager("parquet", settings)

    def once() -> None:
        stored = manager.write(frame, WriteTarget("orders", None, state / "data"))
        back = manager.read(OutputRef("orders", None, stored.path))
        assert len(back) == len(frame)  # type: ignore[arg-type]

    return best_of(repeats, once)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="200,000 rows, one repeat")
    args = parser.parse_args()
    rows, repeats = (200_000, 1) if args.quick else (ROWS, REPEATS)
    with tempfile.TemporaryDirectory() as scratch, s3_server():
        work = Path(scratch)
        bucket = make_bucket("bench-outputs")
        local_first, local_again = chain(work / "local", None, repeats)
        s3_first, s3_again = chain(work / "s3", f"s3://{bucket}/chain", repeats)
        floor = round_trip_ms(bucket, repeats)
        print(f"server floor: one PUT + one GET of 2 KB by the bare client: {floor:.2f} ms")
        print(f"chain of {CHAIN} Parquet assets (ms per asset; best of {repeats}):")
        print(
            f"  first run     local {local_first:6.2f}   s3 {s3_first:6.2f}   "
            f"ratio {s3_first / local_first:4.2f}x"
        )
        print(
            f"  fresh re-plan local {local_again:6.2f}   s3 {s3_again:6.2f}   "
            f"ratio {s3_again / local_again:4.2f}x"
        )

        frame = big_frame(rows)
        state = work / "big"
        local = write_read(frame, IOSettings(), state, repeats)
        on_s3 = IOSettings(storage=StorageSettings(f"s3://{bucket}/big", state))
        remote = write_read(frame, on_s3, state, repeats)
        size = next((state / "data").glob("orders*.parquet")).stat().st_size
        print(
            f"{rows:,}-row frame ({size / 1e6:.0f} MB of Parquet), write + read (best of "
            f"{repeats}):"
        )
        print(f"  local {local:6.2f} s   s3 {remote:6.2f} s   ratio {remote / local:4.2f}x")


if __name__ == "__main__":
    main()
