"""The file and console transports, a receiver that is slow (the run waits at most the
timeout), and runs recorded in the memory and PostgreSQL stores."""

from __future__ import annotations

import json
import logging
import threading
import time
from typing import Any

import pytest

import assetflow
from assetflow.openlineage.setup import lineage_recorder
from assetflow.request import RunRequest
from assetflow.services.running import materialize
from assetflow.store import MemoryStore, open_store
from tests.http_servers import RecordingHTTPServer
from tests.openlineage.receiver import LineageReceiver, validate
from tests.openlineage.runs import ASSETS, BASE, http_config, run
from tests.openlineage.test_http_events import assert_paired


def test_the_file_transport_appends_one_valid_event_a_line(make_project) -> None:
    config = BASE + '[tool.assetflow.openlineage]\ntransport = "file"\npath = "lineage.ndjson"\n'
    root = make_project(ASSETS, config=config)
    run(root, "raw+")
    run(root, "raw+", force=True)
    lines = (root / "lineage.ndjson").read_text().splitlines()
    events = [json.loads(line) for line in lines]
    assert len(events) == 12
    for event in events:
        validate(event)
    assert_paired(events)
    assert {e["job"]["namespace"] for e in events} == {root.name}  # the default namespace


def test_the_console_transport_logs_each_event(make_project, caplog) -> None:
    config = BASE + '[tool.assetflow.openlineage]\ntransport = "console"\nnamespace = "dev"\n'
    root = make_project(ASSETS, config=config)
    with caplog.at_level(logging.INFO, logger="openlineage.client.transport.console"):
        run(root, "raw")
    events = [
        json.loads(record.getMessage())
        for record in caplog.records
        if record.name == "openlineage.client.transport.console"
    ]
    assert [e["eventType"] for e in events] == ["START", "START", "COMPLETE", "COMPLETE"]
    for event in events:
        validate(event)


def test_a_slow_receiver_slows_a_run_by_at_most_its_timeout(make_project) -> None:
    with RecordingHTTPServer(delay_s=5.0) as receiver:
        root = make_project(ASSETS, config=http_config(receiver.url, timeout="0.5"))
        started = time.monotonic()
        result, recorder = run(root, "raw+")
        took = time.monotonic() - started
    assert result.success
    assert recorder.report is not None
    assert recorder.report.pending == 6
    assert recorder.report.error == "timed out"
    assert took < 4.0  # the run itself takes well under a second


def test_a_run_in_the_memory_store_emits_through_the_given_store(make_project) -> None:
    with LineageReceiver() as receiver:
        root = make_project(ASSETS, config=http_config(receiver.url))
        project = assetflow.load(root)
        store = MemoryStore()
        recorder = lineage_recorder(project, store=store)
        assert recorder is not None
        materialize(
            project, RunRequest("raw+", executor="inprocess"), store=store, listeners=[recorder]
        )
    assert receiver.invalid == []
    assert len(receiver.events) == 6
    assert_paired(receiver.events)


def test_a_run_in_a_postgresql_store_keeps_and_sends_its_events(
    make_project, fresh_postgres_url: str
) -> None:
    with LineageReceiver(answers=[503, 200]) as receiver:
        root = make_project(ASSETS, config=http_config(receiver.url))
        project = assetflow.load(root)
        with open_store(fresh_postgres_url) as store:
            recorder = lineage_recorder(project, store=store)
            assert recorder is not None
            materialize(
                project, RunRequest("raw", executor="inprocess"), store=store, listeners=[recorder]
            )
            assert recorder.report is not None
            assert recorder.report.pending == 4
            from assetflow.openlineage.setup import send_pending

            assert send_pending(store, recorder.settings).sent == 4
    assert receiver.invalid == []
    assert_paired(receiver.events)
    assert len(receiver.events) == 4


@pytest.fixture
def fresh_postgres_url(postgres_server) -> str:
    from tests.store.conftest import empty_postgres_store, migrated_database

    url = migrated_database(postgres_server)
    empty_postgres_store(url)
    return url


SLOW = """
import os, time
from pathlib import Path
from assetflow import asset

@asset
def slow() -> dict:
    go = Path(os.environ["GO_FILE"])
    deadline = time.monotonic() + 30
    while not go.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    return {"went": go.exists()}
"""


def test_a_long_steps_start_is_sent_while_it_runs(
    make_project, tmp_path, monkeypatch: pytest.MonkeyPatch
) -> None:
    go = tmp_path / "go"
    monkeypatch.setenv("GO_FILE", str(go))
    config = http_config("URL").replace('executor = "inprocess"', 'executor = "multiprocess"')
    with LineageReceiver() as receiver:
        root = make_project(SLOW, config=config.replace("URL", receiver.url))
        project = assetflow.load(root)
        from assetflow.services.stores import project_store

        recorder = lineage_recorder(project, open_store=lambda: project_store(project))
        done: list[Any] = []
        thread = threading.Thread(
            target=lambda: done.append(
                materialize(project, RunRequest(executor="multiprocess"), listeners=[recorder])
            )
        )
        thread.start()
        deadline = time.monotonic() + 20
        while len(receiver.events) < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        started = [(e["job"]["name"], e["eventType"]) for e in receiver.events]
        go.touch()
        thread.join(30)
    assert started == [(root.name, "START"), (f"{root.name}.slow", "START")]
    assert done[0].success
    assert len(receiver.events) == 4
    assert_paired(receiver.events)
