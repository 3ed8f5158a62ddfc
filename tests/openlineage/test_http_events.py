"""OpenLineage events of real runs, posted to a real receiver on 127.0.0.1 that validates
each against the OpenLineage JSON schema: one START then one terminal event per run and
per step, consistent names, facets, and nothing lost when the receiver answers 5xx."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

import assetflow
from assetflow.openlineage.setup import lineage_recorder, lineage_settings, send_pending
from assetflow.request import PartitionRequest, RunRequest
from assetflow.services.running import materialize
from assetflow.services.stores import project_store
from assetflow.store.lineage import lineage_outbox
from tests.openlineage.receiver import LineageReceiver
from tests.openlineage.runs import ASSETS, http_config, run

TERMINAL = {"COMPLETE", "FAIL", "ABORT"}


def by_run(events: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    grouped: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for event in events:
        grouped[event["run"]["runId"]].append(event)
    return grouped


def assert_paired(events: list[dict[str, Any]]) -> None:
    """Each OpenLineage run: exactly one START, first, then exactly one terminal event."""
    for run_id, own in by_run(events).items():
        kinds = [event["eventType"] for event in own]
        assert kinds[0] == "START", (run_id, kinds)
        assert len(kinds) == 2, (run_id, kinds)
        assert kinds[1] in TERMINAL, (run_id, kinds)


def test_a_run_emits_valid_paired_events_with_names_and_facets(
    make_project, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BREAK", "1")
    with LineageReceiver() as receiver:
        root = make_project(ASSETS, config=http_config(receiver.url), name="shop_project")
        result, recorder = run(root)
    assert not result.success
    assert receiver.invalid == []
    assert recorder.report is not None
    assert recorder.report.pending == 0
    events = receiver.events
    assert_paired(events)
    jobs = {event["job"]["name"] for event in events}
    assert jobs == {
        "shop_project",
        "shop_project.raw",
        "shop_project.clean",
        "shop_project.broken",
        "shop_project.after_broken",
    }
    assert {event["job"]["namespace"] for event in events} == {"shop"}
    [run_start, run_end] = [e for e in events if e["job"]["name"] == "shop_project"]
    assert events[0] is run_start
    assert run_end["eventType"] == "FAIL"
    parent_id = run_start["run"]["runId"]
    assert run_start["run"]["facets"]["assetflow"]["runId"] == result.run_id
    ends = {
        e["job"]["name"].split(".", 1)[1]: e
        for e in events
        if e["eventType"] in TERMINAL and e["job"]["name"] != "shop_project"
    }
    for end in ends.values():
        parent = end["run"]["facets"]["parent"]
        assert parent["run"]["runId"] == parent_id
        assert parent["job"] == {"namespace": "shop", "name": "shop_project", "facets": {}}
    clean = ends["clean"]
    assert clean["eventType"] == "COMPLETE"
    assert [i["name"] for i in clean["inputs"]] == ["raw"]
    [output] = clean["outputs"]
    assert output["name"] == "clean"
    assert output["namespace"] == "shop"
    assert [f["name"] for f in output["facets"]["schema"]["fields"]] == ["id", "amount"]
    assert output["outputFacets"]["outputStatistics"]["rowCount"] == 2
    location = output["facets"]["dataSource"]["uri"]
    assert location.startswith("file://")
    assert location.endswith(".parquet")
    facet = clean["run"]["facets"]["assetflow"]
    assert set(facet["dataVersions"]) == {"clean"}
    assert set(facet["inputVersions"]) == {"raw"}
    assert facet["codeVersion"]
    broken = ends["broken"]
    assert broken["eventType"] == "FAIL"
    assert broken["outputs"] == []
    assert "the API answered 503" in broken["run"]["facets"]["errorMessage"]["message"]
    assert ends["after_broken"]["eventType"] == "ABORT"
    assert ends["after_broken"]["outputs"] == []
    # Step run ids are UUIDv7, as OpenLineage expects.
    assert all(e["run"]["runId"][14] == "7" for e in events)
    # A step that ran starts when it began, though its start and end were recorded
    # together (finished steps are recorded in groups).
    for name in ("raw", "clean", "broken"):
        start, end = by_run(events)[ends[name]["run"]["runId"]]
        assert datetime.fromisoformat(start["eventTime"]) < datetime.fromisoformat(end["eventTime"])


def test_partitioned_assets_name_each_partition(make_project) -> None:
    assets = """
    import pandas as pd
    from assetflow import asset, DailyPartitions

    @asset(partitions=DailyPartitions(start="2026-03-01"))
    def daily(context) -> pd.DataFrame:
        return pd.DataFrame({"day": [context.partition_key]})
    """
    with LineageReceiver() as receiver:
        root = make_project(assets, config=http_config(receiver.url))
        project = assetflow.load(root)
        recorder = lineage_recorder(project, open_store=lambda: project_store(project))
        assert recorder is not None
        result = materialize(
            project,
            RunRequest(
                executor="inprocess",
                partitions=PartitionRequest.between("2026-03-01", "2026-03-02"),
            ),
            listeners=[recorder],
        )
    assert result.success, [r.message for r in result.results]
    assert receiver.invalid == []
    outputs = [o["name"] for e in receiver.events for o in e["outputs"]]
    assert sorted(outputs) == ["daily[2026-03-01]", "daily[2026-03-02]"]
    facets = [
        e["run"]["facets"]["assetflow"]["dataVersions"] for e in receiver.events if e["outputs"]
    ]
    assert sorted(next(iter(f)) for f in facets) == ["daily[2026-03-01]", "daily[2026-03-02]"]


def test_a_receiver_answering_5xx_loses_nothing_and_keeps_the_order(make_project) -> None:
    with LineageReceiver(answers=[503, 502, 200]) as receiver:
        root = make_project(ASSETS, config=http_config(receiver.url))
        result, recorder = run(root, "raw+")
        assert result.success
        assert recorder.report is not None
        assert recorder.report.pending == 6  # the run's 3 pairs: START of the run failed
        assert recorder.report.error == "HTTP 503 Service Unavailable"
        project = assetflow.load(root)
        settings = lineage_settings(project)
        assert settings is not None
        with project_store(project) as store:
            first = send_pending(store, settings)  # answered 502: still kept
            assert (first.sent, first.pending) == (0, 6)
            second = send_pending(store, settings)
            assert (second.sent, second.pending) == (6, 0)
            assert lineage_outbox(store).count() == 0
    assert len(receiver.requests) == 8
    assert receiver.invalid == []
    events = receiver.events
    assert len(events) == 6
    assert_paired(events)
    assert events[0]["job"]["name"] == root.name
    assert events[0]["eventType"] == "START"
    assert events[-1]["job"]["name"] == root.name
    assert events[-1]["eventType"] == "COMPLETE"


def test_the_next_run_sends_what_an_earlier_one_could_not(make_project) -> None:
    with LineageReceiver(answers=[500, 200]) as receiver:
        root = make_project(ASSETS, config=http_config(receiver.url))
        _, first = run(root, "raw")
        assert first.report is not None
        assert first.report.pending == 4
        # The backoff after one failure is 1 s; the next run waits for it no longer
        # than its timeout, then sends everything in order.
        import time

        time.sleep(1.1)
        _, second = run(root, "raw")
        assert second.report is not None
        assert second.report.pending == 0
    assert receiver.invalid == []
    assert len(receiver.events) == 6  # 4 of the first run; raw is fresh in the second
    assert_paired(receiver.events)
    runs = [e["run"]["facets"]["assetflow"]["runId"] for e in receiver.events]
    assert runs == sorted(runs, key=runs.index)  # the first run's events all come first
    assert runs[0] != runs[-1]


def test_an_api_key_goes_as_a_bearer_token(
    make_project, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("LINEAGE_KEY", "k3y-s3cret")
    with LineageReceiver() as receiver:
        root = make_project(ASSETS, config=http_config(receiver.url, api_key_env='"LINEAGE_KEY"'))
        run(root, "raw")
    assert receiver.headers
    assert {h.get("Authorization") for h in receiver.headers} == {"Bearer k3y-s3cret"}


CANCELLED = """
import os, time
from pathlib import Path
from assetflow import asset

@asset
def first() -> dict:
    Path(os.environ["STARTED_FILE"]).touch()
    time.sleep(20)
    return {}

@asset
def second(first: dict) -> dict:
    return first
"""


def test_a_cancelled_run_and_its_steps_end_with_abort(
    make_project, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import os
    import signal
    import threading
    import time

    from assetflow.execution.results import RunCancelled

    started = tmp_path / "started"
    monkeypatch.setenv("STARTED_FILE", str(started))

    def press_ctrl_c() -> None:
        deadline = time.monotonic() + 20
        while not started.exists() and time.monotonic() < deadline:
            time.sleep(0.01)
        os.kill(os.getpid(), signal.SIGINT)

    with LineageReceiver() as receiver:
        root = make_project(CANCELLED, config=http_config(receiver.url))
        presser = threading.Thread(target=press_ctrl_c)
        presser.start()
        with pytest.raises(RunCancelled):
            run(root)
        presser.join()
    assert receiver.invalid == []
    assert_paired(receiver.events)
    ends = {e["job"]["name"]: e["eventType"] for e in receiver.events if e["eventType"] != "START"}
    assert ends == {
        root.name: "ABORT",
        f"{root.name}.first": "ABORT",
        f"{root.name}.second": "ABORT",
    }
