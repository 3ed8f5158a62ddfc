"""End to end: a project whose outputs live on object storage (a real S3-compatible server
on 127.0.0.1), run as real processes: outputs are objects under the prefix and nothing is
written to the local data directory, a plan verifies them with a listing, `show` reads
them, and a deleted object makes its asset stale."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import fsspec  # type: ignore[import-untyped]
import pytest

import assetflow
from tests.e2e.processes import assetflow as command
from tests.s3_server import SECRET_KEY, S3Server

ASSETS = """
    import pandas as pd

    from assetflow import StaticPartitions, asset

    days = StaticPartitions(["2026-03-01", "2026-03-02"])

    @asset
    def orders() -> pd.DataFrame:
        return pd.DataFrame({"id": range(6), "amount": [1.5] * 6})

    @asset(partitions=days)
    def daily(context, orders: pd.DataFrame) -> pd.DataFrame:
        return orders.assign(day=context.partition_key)

    @asset
    def summary(daily: pd.DataFrame) -> dict:
        return {"rows": len(daily), "total": float(daily["amount"].sum())}
"""


def config(storage: str) -> str:
    return f'[tool.assetflow]\nmodules = ["assets"]\nstorage = "{storage}"\n'


def run(root: Path, environ: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, **environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    return subprocess.run(
        command(root, *args), env=env, capture_output=True, text=True, timeout=120, check=False
    )


def test_outputs_are_objects_under_the_prefix_and_plans_verify_them(
    make_project: Callable[..., Path], s3_server: S3Server, s3_bucket: str
) -> None:
    root = make_project(ASSETS, config=config(f"s3://{s3_bucket}/shop/"))
    environ = s3_server.environ()

    first = run(root, environ, "materialize", "*")
    assert first.returncode == 0, first.stdout + first.stderr
    objects = fsspec.filesystem("s3", skip_instance_cache=True).find(s3_bucket)
    names = sorted(key.split("/", 2)[2] for key in objects)
    assert [name.split(".")[0] for name in names] == [
        "data/daily/partition=2026-03-01/part",
        "data/daily/partition=2026-03-02/part",
        "data/orders",
        "data/summary",
    ]
    assert not (root / ".assetflow" / "data").exists()  # nothing on the local disk

    planned = run(root, environ, "plan")
    assert planned.returncode == 0, planned.stderr
    assert "Nothing to do" in planned.stdout

    shown = run(root, environ, "show", "summary")
    assert shown.returncode == 0, shown.stderr
    assert '"total": 18.0' in shown.stdout

    frame = assetflow.read_asset("daily", project=root)  # in this process (AWS_* set)
    assert len(frame) == 12
    assert SECRET_KEY not in first.stdout + first.stderr + planned.stdout + shown.stdout

    # An object deleted behind assetflow's back: the plan says so and rebuilds it.
    orders = next(key for key in objects if "/data/orders." in key)
    fsspec.filesystem("s3", skip_instance_cache=True).rm(orders)
    stale = run(root, environ, "plan")
    assert stale.returncode == 0, stale.stderr
    assert "orders" in stale.stdout
    assert "missing" in stale.stdout


def test_rewriting_an_output_writes_a_new_object_beside_the_old_one(
    make_project: Callable[..., Path], s3_server: S3Server, s3_bucket: str
) -> None:
    """The record decides which object is current: a forced rebuild writes a new key and
    leaves the old object whole (a reader that looked the old record up still reads it)."""
    root = make_project(ASSETS, config=config(f"s3://{s3_bucket}/shop"))
    environ = s3_server.environ()
    assert run(root, environ, "materialize", "orders").returncode == 0
    before = set(fsspec.filesystem("s3", skip_instance_cache=True).find(s3_bucket))
    again = run(root, environ, "materialize", "orders", "--force")
    assert again.returncode == 0, again.stderr
    after = set(fsspec.filesystem("s3", skip_instance_cache=True).find(s3_bucket))
    assert before < after
    assert len(after - before) == 1


@pytest.fixture
def shared(tmp_path: Path) -> Path:
    directory = tmp_path / "shared"
    directory.mkdir()
    return directory


def test_a_shared_directory_holds_the_outputs_of_a_project(
    make_project: Callable[..., Path], shared: Path
) -> None:
    root = make_project(ASSETS, config=config(str(shared)))
    result = run(root, {}, "materialize", "*")
    assert result.returncode == 0, result.stdout + result.stderr
    assert (shared / "data" / "orders.parquet").is_file()
    assert (shared / "data" / "daily" / "partition=2026-03-02" / "part.parquet").is_file()
    assert not (root / ".assetflow" / "data").exists()
    planned = run(root, {}, "plan")
    assert "Nothing to do" in planned.stdout, planned.stdout + planned.stderr


KILLED = """
    import os
    import signal

    import pandas as pd

    from assetflow import asset, check

    @asset
    def orders() -> pd.DataFrame:
        return pd.DataFrame({"n": [int(os.environ["ORDERS_N"])]})

    @check(asset="orders")
    def dies_after_the_write(orders: pd.DataFrame) -> bool:
        # Checks run after the write and before the run records it: dying here is a
        # crash between the object's upload and the metadata commit.
        if os.environ.get("DIE_AFTER_WRITE"):
            os.kill(os.getpid(), signal.SIGKILL)
        return True
"""


def test_a_run_killed_between_write_and_commit_leaves_an_orphan_and_the_old_output_current(
    make_project: Callable[..., Path], s3_server: S3Server, s3_bucket: str
) -> None:
    settings = f'{config(f"s3://{s3_bucket}/shop")}executor = "inprocess"\n'
    root = make_project(KILLED, config=settings)
    environ = s3_server.environ()
    first = run(root, {**environ, "ORDERS_N": "1"}, "materialize", "*")
    assert first.returncode == 0, first.stdout + first.stderr
    killed = run(
        root, {**environ, "ORDERS_N": "2", "DIE_AFTER_WRITE": "1"}, "materialize", "*", "--force"
    )
    assert killed.returncode == -9, killed.stdout + killed.stderr
    objects = fsspec.filesystem("s3", skip_instance_cache=True).find(s3_bucket)
    assert len(objects) == 2  # the current output and the orphan the killed run left

    frame = assetflow.read_asset("orders", project=root)
    assert frame["n"].tolist() == [1]  # the recorded object, not the newer orphan
    planned = run(root, {**environ, "ORDERS_N": "1"}, "plan")
    assert planned.returncode == 0, planned.stderr
    assert "orders  stale    last run failed" in planned.stdout  # rebuilt by the next run
