"""The JSON twins of the screens: each document parses and carries what its screen shows."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from assetflow import RunRequest
from assetflow.api import load
from assetflow.clock import FixedClock
from assetflow.services import history, running
from assetflow.views.json import (
    assets_document,
    checks_document,
    dumps,
    history_document,
    lineage_document,
    logs_document,
    plain,
    run_document,
    runs_document,
    show_document,
    status_document,
    why_document,
)

T0 = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)

PROJECT = """
    import pandas as pd

    from assetflow import asset, check

    @asset(tags=["nightly"])
    def numbers() -> pd.DataFrame:
        print("made numbers")
        return pd.DataFrame({"n": [1, 2, 3]})

    @asset(group="reporting")
    def total(numbers: pd.DataFrame) -> dict:
        \"\"\"The sum of the numbers.\"\"\"
        return {"total": int(numbers["n"].sum())}

    @check(asset="numbers")
    def three_rows(numbers: pd.DataFrame) -> bool:
        return len(numbers) == 3
"""


@pytest.fixture
def project(make_project):
    return load(make_project(PROJECT))


@pytest.fixture
def ran(project):
    result = running.materialize(project, RunRequest(), clock=FixedClock(T0))
    assert result.success
    return result


def _round_trip(document):
    return json.loads(dumps(document))


def test_runs_document(project, ran):
    document = _round_trip(runs_document(history.runs(project)))
    assert document["version"] == 1
    (run,) = document["runs"]
    assert run["run_id"] == ran.run_id
    assert (run["status"], run["trigger"], run["selection"]) == ("success", "api", "*")
    assert run["steps"] == {"materialized": 2}
    assert run["started_at"] == T0.isoformat()
    assert set(run) == RUN_KEYS | {"steps"}
    assert set(document) == {"version", "runs", "next_before"}
    assert document["next_before"] is None


#: The fields of a run in `runs --json` and `runs show --json` (layout version 1).
RUN_KEYS = {
    "run_id",
    "status",
    "trigger",
    "selection",
    "partitions",
    "started_at",
    "finished_at",
    "duration_s",
    "pid",
    "host",
    "run_key",
    "tags",
}


def test_run_document(project, ran):
    document = _round_trip(run_document(history.run(project, ran.run_id)))
    assert document["run"]["run_id"] == ran.run_id
    assert [(row["asset"], row["state"]) for row in document["steps"]] == [
        ("numbers", "materialized"),
        ("total", "materialized"),
    ]


def test_logs_document(project, ran):
    document = _round_trip(logs_document(history.logs(project, ran.run_id)))
    (log,) = document["logs"]
    assert (log["asset"], log["attempt"], log["text"].strip()) == ("numbers", 1, "made numbers")


def test_history_document(project, ran):
    document = _round_trip(history_document(history.history(project, "numbers")))
    (made,) = document["materializations"]
    assert (made["run_id"], made["io"], made["rows"]) == (ran.run_id, "parquet", 3)
    assert made["columns"] == [{"name": "n", "type": "int64"}]
    assert [result["check"] for result in document["checks"]] == ["three_rows"]
    assert document["attempts"] is None


def test_history_document_with_every_attempt(project, ran):
    found = history.history(project, "numbers", all=True)
    document = _round_trip(history_document(found))
    (attempt,) = document["attempts"]
    assert set(attempt) == {
        "run_id",
        "partition",
        "outcome",
        "not_started",
        "at",
        "attempt",
        "duration_s",
        "message",
        "materialization",
    }
    assert (attempt["run_id"], attempt["outcome"], attempt["not_started"]) == (
        ran.run_id,
        "materialized",
        False,
    )
    assert attempt["materialization"] == document["materializations"][0]


def test_status_document(project, ran):
    document = _round_trip(status_document(history.status(project, RunRequest())))
    states = {entry["asset"]: entry["state"] for entry in document["assets"]}
    assert states == {"numbers": "fresh", "total": "fresh"}
    attempt = document["assets"][0]["attempt"]
    assert attempt == {
        "outcome": "materialized",
        "run_id": ran.run_id,
        "at": attempt["at"],
        "summary": "",
        "message": "",
    }


def test_checks_document(project, ran):
    done = running.check(project, RunRequest("numbers"), clock=FixedClock(T0))
    document = _round_trip(checks_document(done))
    assert document["has_blocking_failure"] is False
    (result,) = document["results"]
    assert (result["asset"], result["check"], result["passed"]) == ("numbers", "three_rows", True)


def test_assets_document(project):
    document = _round_trip(assets_document(project.graph, project.graph.names))
    assert [entry["asset"] for entry in document["assets"]] == ["numbers", "total"]
    total = document["assets"][1]
    assert (total["group"], total["reads"], total["description"]) == (
        "reporting",
        ["numbers"],
        "The sum of the numbers.",
    )
    assert document["assets"][0]["tags"] == ["nightly"]


def test_lineage_document(project):
    document = _round_trip(lineage_document(project.graph, ["numbers", "total"]))
    assert document["version"] == 1
    assert document["edges"] == [["numbers", "total"]]
    assert [entry["name"] for entry in document["assets"]] == ["numbers", "total"]


def test_why_document_follows_inputs_that_will_be_rebuilt(project, ran):
    """After a code change upstream, `total` waits on `numbers`: both are explained, the
    cause (numbers' code) with its diff."""
    source = project.root / "assets.py"
    source.write_text(source.read_text().replace("[1, 2, 3]", "[1, 2, 4]"))
    changed = load(project.root)
    document = _round_trip(why_document(history.why(changed, "total", clock=FixedClock(T0))))
    assert document["version"] == 1
    assert [(entry["asset"], entry["state"]) for entry in document["explained"]] == [
        ("total", "waiting"),
        ("numbers", "stale"),
    ]
    numbers = document["explained"][1]
    assert [reason["kind"] for reason in numbers["reasons"]] == ["code changed"]
    assert "+    return pd.DataFrame({'n': [1, 2, 4]})" in numbers["code_diff"]
    assert numbers["last_run_id"] == ran.run_id
    assert "will be rebuilt first" in document["text"]


def test_show_document(project, ran):
    from assetflow.services import reading

    document = _round_trip(show_document(reading.head(project, "numbers", limit=2)))
    assert document["version"] == 1
    assert document["rows"] == [{"n": 1}, {"n": 2}]
    assert document["total"] == 3
    assert document["columns"] == [{"name": "n", "type": "int64"}]


def test_plain_values_are_json():
    import datetime as dt
    from decimal import Decimal

    assert plain(
        [float("nan"), dt.date(2026, 3, 1), dt.timedelta(seconds=90), Decimal("1.50"), b"\x01"]
    ) == [None, "2026-03-01", 90.0, "1.50", "01"]
    assert plain({1: (2, float("inf"))}) == {"1": [2, None]}
