"""A run's own OpenLineage events from its record: START in the transaction that records the
run's start, before any step runs; ABORT from the crash sweep for a run killed outright,
under the ids its START events used; and `assetflow check` runs as jobs of their own."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import sqlite3
import subprocess
import time
from pathlib import Path
from typing import Any

import assetflow
from assetflow.openlineage.events import run_uuid
from assetflow.services.stores import project_store
from tests.e2e.processes import assetflow as assetflow_command
from tests.e2e.processes import wait_for
from tests.http_servers import refused_url
from tests.openlineage.receiver import LineageReceiver, validate
from tests.openlineage.runs import BASE, http_config, run
from tests.openlineage.test_http_events import assert_paired, by_run

#: `probe` counts the lineage events queued in the store when it runs.
PROBED = """
import sqlite3
from pathlib import Path
from assetflow import asset

@asset
def probe() -> dict:
    store = Path(__file__).parent / ".assetflow" / "metadata.sqlite"
    with sqlite3.connect(store) as db:
        payloads = [row[0] for row in db.execute("SELECT payload FROM lineage_outbox")]
    (Path(__file__).parent / "seen.json").write_text("[" + ",".join(payloads) + "]")
    return {"seen": len(payloads)}
"""


def test_the_runs_start_is_queued_with_its_record_before_any_step_runs(make_project) -> None:
    # A refused receiver: nothing is sent, so the outbox shows all that was queued.
    root = make_project(PROBED, config=http_config(refused_url()))
    result, _ = run(root, "probe")
    assert result.success
    seen = json.loads((root / "seen.json").read_text())
    # The run's START committed with the run's record; the in-process step's own START was
    # queued before the step ran (its thread gives no tick while the step runs).
    assert [(e["eventType"], e["job"]["name"]) for e in seen] == [
        ("START", root.name),
        ("START", f"{root.name}.probe"),
    ]
    project = assetflow.load(root)
    with project_store(project) as store:
        record = store.get_run(result.run_id)
    assert record is not None
    assert seen[0]["run"]["runId"] == run_uuid(result.run_id, record.started_at)
    assert seen[1]["run"]["runId"] == run_uuid(result.run_id, record.started_at, ("probe", None))


CHECKED = """
import pandas as pd
from assetflow import asset, check, not_null, unique

@asset(checks=[not_null("email"), unique("id")])
def customers() -> pd.DataFrame:
    return pd.DataFrame({"id": [1, 2, 2], "email": ["a@x", "b@x", "c@x"]})

@check(asset="customers", blocking=False, severity="warn")
def has_three_rows(customers: pd.DataFrame) -> bool:
    return len(customers) == 3
"""


def test_a_check_run_is_a_job_whose_inputs_carry_the_check_results(make_project) -> None:
    with LineageReceiver() as receiver:
        root = make_project(CHECKED, config=http_config(receiver.url))
        built = subprocess.run(
            assetflow_command(root, "materialize"), capture_output=True, text=True, timeout=120
        )
        assert built.returncode == 1, built.stderr  # its blocking check failed
        before = len(receiver.events)
        checked = subprocess.run(
            assetflow_command(root, "check"), capture_output=True, text=True, timeout=120
        )
        events = receiver.events[before:]
    assert checked.returncode == 1, checked.stderr  # unique("id") fails
    assert "Lineage was not sent" not in checked.stderr
    assert receiver.invalid == []
    assert [(e["eventType"], e["job"]["name"]) for e in events] == [
        ("START", f"{root.name}:check"),
        ("FAIL", f"{root.name}:check"),
    ]
    assert_paired(events)
    (checked_input,) = events[1]["inputs"]
    assert checked_input["name"] == "customers"
    assertions = checked_input["inputFacets"]["dataQualityAssertions"]["assertions"]
    assert {(a["assertion"], a["success"], a["severity"]) for a in assertions} == {
        ("not_null(email)", True, "error"),
        ("unique(id)", False, "error"),
        ("has_three_rows", True, "warn"),
    }


SLOW = """
import time
from pathlib import Path
from assetflow import asset

@asset
def quick() -> dict:
    return {"ok": True}

@asset
def slow(quick: dict) -> dict:
    (Path(__file__).parent / "slow.started").write_text("")
    time.sleep(120)
    return quick
"""


def test_a_run_killed_outright_is_aborted_by_the_next_commands_crash_sweep(make_project) -> None:
    config = (
        BASE.replace('"inprocess"', '"multiprocess"')
        + '[tool.assetflow.openlineage]\ntransport = "file"\npath = "lineage.ndjson"\n'
    )
    root = make_project(SLOW, config=config)
    process = subprocess.Popen(
        assetflow_command(root, "materialize"),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 60
        wait_for(root / "slow.started", 60, process)
        wait_for_queued_start(root, "slow", deadline)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()
    # The next command (any that reads runs) marks the run crashed and queues its ABORTs.
    runs = subprocess.run(
        assetflow_command(root, "runs"), capture_output=True, text=True, timeout=120
    )
    assert runs.returncode == 0, runs.stderr
    assert "crashed" in runs.stdout
    sent = subprocess.run(
        assetflow_command(root, "openlineage", "send"), capture_output=True, text=True, timeout=60
    )
    assert sent.returncode == 0, sent.stderr
    events = [json.loads(line) for line in (root / "lineage.ndjson").read_text().splitlines()]
    for event in events:
        validate(event)
    assert_paired(events)
    kinds = {(own[0]["job"]["name"], own[-1]["eventType"]) for own in by_run(events).values()}
    assert kinds == {
        (root.name, "ABORT"),
        (f"{root.name}.quick", "COMPLETE"),
        (f"{root.name}.slow", "ABORT"),
    }
    aborted = next(
        e for e in events if e["job"]["name"] == f"{root.name}.slow" and e["eventType"] == "ABORT"
    )
    message = aborted["run"]["facets"]["errorMessage"]["message"]
    assert message.startswith("the run crashed while this step was running")
    run_aborted = next(
        e for e in events if e["job"]["name"] == root.name and e["eventType"] == "ABORT"
    )
    assert f"(pid {process.pid}) is gone" in run_aborted["run"]["facets"]["errorMessage"]["message"]
    again = subprocess.run(
        assetflow_command(root, "runs"), capture_output=True, text=True, timeout=120
    )
    assert again.returncode == 0, again.stderr
    assert_outbox_empty(root)  # a second sweep queues nothing more


def wait_for_queued_start(root: Path, asset: str, deadline: float) -> None:
    """Wait until the step's START is sent and nothing waits in the outbox: what the kill
    must not undo. (A kill in the middle of a send leaves the event claimed, to be sent
    again once the claim expires: the one duplicate the outbox allows.)"""
    store = root / ".assetflow" / "metadata.sqlite"
    while True:
        with contextlib.closing(sqlite3.connect(store)) as db:
            waiting = db.execute("SELECT count(*) FROM lineage_outbox").fetchone()[0]
        sent = sent_events(root)
        if not waiting and any(e["job"]["name"].endswith(f".{asset}") for e in sent):
            return
        assert time.monotonic() < deadline, f"the START of {asset} was never sent"
        time.sleep(0.05)


def sent_events(root: Path) -> list[dict[str, Any]]:
    path = root / "lineage.ndjson"
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.endswith("}")]


def assert_outbox_empty(root: Path) -> None:
    with contextlib.closing(sqlite3.connect(root / ".assetflow" / "metadata.sqlite")) as db:
        assert db.execute("SELECT count(*) FROM lineage_outbox").fetchone() == (0,)
