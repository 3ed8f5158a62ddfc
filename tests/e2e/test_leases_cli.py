"""End to end: two runs on one project at once never build the same asset-partition together."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from datetime import UTC, datetime, timedelta

from assetflow.store import open_store
from assetflow.store.records import Lease
from tests.e2e.processes import assetflow, wait_for

SLOW = """
    import time
    from pathlib import Path

    from assetflow import asset

    HERE = Path(__file__).parent

    @asset
    def slow() -> dict:
        (HERE / "slow.started").touch()
        time.sleep(1.5)
        return {"rows": 3}

    @asset
    def report(slow: dict) -> dict:
        return {"total": slow["rows"]}
"""


def test_a_second_run_waits_for_the_first_and_reuses_what_it_built(make_project):
    root = make_project(SLOW)
    first = subprocess.Popen(
        assetflow(root, "materialize"), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    wait_for(root / "slow.started")
    (root / "slow.started").unlink()
    second = subprocess.run(
        assetflow(root, "materialize"), capture_output=True, text=True, timeout=60
    )
    first_output, _ = first.communicate(timeout=60)
    assert first.returncode == 0, first_output
    assert second.returncode == 0, second.stdout + second.stderr
    assert "waiting: run" in second.stdout
    assert "is materializing it" in second.stdout
    assert "slow    skipped: materialized meanwhile by run" in second.stdout
    # What the first run built after it is not built again either.
    assert "report  skipped: materialized meanwhile by run" in second.stdout
    assert not (root / "slow.started").exists()  # the second run did not run it again
    with open_store("sqlite", root / ".assetflow" / "metadata.sqlite") as store:
        assert len(store.asset_history("slow")) == 1
        assert len(store.asset_history("report")) == 1
        assert store.leases() == []  # both runs gave theirs back


def test_a_lease_left_by_a_killed_run_is_taken_over_at_once(make_project):
    root = make_project(SLOW)
    process = subprocess.Popen(
        assetflow(root, "materialize"),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    wait_for(root / "slow.started")
    os.killpg(process.pid, signal.SIGKILL)
    process.wait()
    with open_store("sqlite", root / ".assetflow" / "metadata.sqlite") as store:
        (held,) = store.leases()
        assert held.asset == "slow"
    started = time.monotonic()
    again = subprocess.run(
        assetflow(root, "materialize"), capture_output=True, text=True, timeout=60
    )
    assert again.returncode == 0, again.stdout + again.stderr
    assert "waiting" not in again.stdout
    assert time.monotonic() - started < 15
    with open_store("sqlite", root / ".assetflow" / "metadata.sqlite") as store:
        assert store.leases() == []


def test_a_lease_of_a_live_process_is_waited_for(make_project):
    """A lease held by a live process (here: this test, holding it by hand) makes the run wait
    until it is released."""
    root = make_project(SLOW)
    now = datetime.now(UTC)
    with open_store("sqlite", root / ".assetflow" / "metadata.sqlite") as store:
        from assetflow.store.records import RunRecord

        store.create_run(
            RunRecord(
                run_id="holder" * 4, trigger="test", selection="*", started_at=now, pid=os.getpid()
            )
        )
        lease = Lease(
            "slow",
            None,
            "holder" * 4,
            os.getpid(),
            os.uname().nodename,
            now,
            now + timedelta(minutes=5),
        )
        assert store.acquire_lease(lease, now=now) is None
    process = subprocess.Popen(
        assetflow(root, "materialize"), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    time.sleep(3)
    assert process.poll() is None  # still waiting
    assert not (root / "slow.started").exists()
    with open_store("sqlite", root / ".assetflow" / "metadata.sqlite") as store:
        store.release_leases("holder" * 4)
    output, _ = process.communicate(timeout=60)
    assert process.returncode == 0, output
    assert "waiting: run holderho" in output
    assert (root / "slow.started").exists()
