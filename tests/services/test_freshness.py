"""Overdue assets read from a real SQLite store, and shown by `status`."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from assetflow import RunRequest
from assetflow.api import load
from assetflow.automation.loading import load_automation
from assetflow.clock import FixedClock
from assetflow.errors import DefinitionError, StoreError
from assetflow.services import history
from assetflow.services.freshness import overdue, policies
from assetflow.store.opening import open_store
from assetflow.store.records import MaterializationRecord
from assetflow.views.json import status_document
from assetflow.views.text import status_table

ASSETS = """
from assetflow import asset, DailyPartitions

days = DailyPartitions(start="2026-03-01", timezone="Europe/Berlin")

@asset(freshness="6h")
def orders() -> dict:
    return {"x": 1}

@asset(partitions=days, deadline="06:00", timezone="Europe/Berlin")
def report(context) -> dict:
    return {"day": context.partition_key}

@asset
def plain() -> dict:
    return {"x": 2}
"""

PLAIN = "from assetflow import asset\n\n@asset\ndef a() -> int:\n    return 1\n"
NOW = datetime(2026, 3, 10, 8, 14, tzinfo=UTC)  # 09:14 in Berlin


def materialized(asset: str, at: datetime, partition: str | None = None) -> MaterializationRecord:
    return MaterializationRecord(
        run_id="r" * 32,
        asset=asset,
        partition=partition,
        io="json",
        started_at=at - timedelta(seconds=1),
        finished_at=at,
        duration_s=1.0,
    )


@pytest.fixture
def project(make_project):
    return load(make_project(ASSETS))


@pytest.fixture
def store(tmp_path):
    with open_store(f"sqlite:///{tmp_path / 'meta.db'}") as opened:
        yield opened


def test_policies_are_the_assets_that_declare_one(project):
    assert [name for name, _, _ in policies(project)] == ["orders", "report"]
    assert [name for name, _, _ in policies(project, ["report", "plain"])] == ["report"]


def test_what_is_late_on_a_real_store(project, store):
    store.record([materialized("orders", NOW - timedelta(hours=8, minutes=14))])
    late = overdue(project, store, NOW)
    assert [(o.asset, o.partition, o.rule) for o in late] == [
        ("orders", "", "freshness 6h"),
        ("report", "2026-03-09", "deadline 06:00 Europe/Berlin"),
    ]
    assert late[0].describe(NOW) == "overdue by 2 h 14 min (freshness 6h)"
    assert late[1].due_at == datetime(2026, 3, 10, 5, tzinfo=UTC)
    store.record(
        [
            materialized("orders", NOW - timedelta(minutes=1)),
            materialized("report", NOW - timedelta(minutes=1), "2026-03-09"),
        ]
    )
    assert overdue(project, store, NOW) == []
    assert overdue(project, store, NOW, ["plain"]) == []


def test_no_policy_reads_nothing(make_project, tmp_path):
    project = load(
        make_project("from assetflow import asset\n\n@asset\ndef a() -> int:\n    return 1\n")
    )
    store = open_store(f"sqlite:///{tmp_path / 'closed.db'}")
    store.close()
    assert overdue(project, store, NOW) == []
    # The same closed store is refused as soon as something reads it.
    other = load(make_project(ASSETS, name="other"))
    with pytest.raises(StoreError):
        overdue(other, store, NOW)


def test_status_shows_how_late(project, store):
    store.record([materialized("orders", NOW - timedelta(hours=8, minutes=14))])
    states = history.status(project, RunRequest("*"), store=store, clock=FixedClock(NOW))
    late = {(s.asset, s.partition): [o.rule for o in s.overdue] for s in states if s.overdue}
    assert late == {
        ("orders", None): ["freshness 6h"],
        ("report", "2026-03-09"): ["deadline 06:00 Europe/Berlin"],
    }
    text = status_table(states, project.graph, now=NOW)
    assert "LATE" in text
    assert "overdue by 2 h 14 min (freshness 6h)" in text
    assert "2026-03-09 overdue by 3 h 14 min (deadline 06:00 Europe/Berlin)" in text
    document = status_document(states, now=NOW)
    (entry,) = [a for a in document["assets"] if a["asset"] == "orders"]
    assert entry["overdue"] == [
        {
            "asset": "orders",
            "partition": None,
            "rule": "freshness 6h",
            "due_at": "2026-03-10T06:00:00+00:00",
            "last_materialized_at": "2026-03-10T00:00:00+00:00",
            "overdue_by_s": 8040.0,
            "text": "overdue by 2 h 14 min (freshness 6h)",
        }
    ]


def test_status_without_policies_has_no_late_column(make_project, store):
    project = load(
        make_project("from assetflow import asset\n\n@asset\ndef a() -> int:\n    return 1\n")
    )
    states = history.status(project, RunRequest("*"), store=store, clock=FixedClock(NOW))
    assert all(s.overdue == () for s in states)
    assert "LATE" not in status_table(states, project.graph, now=NOW)


SCHEDULED = """
from assetflow import asset, MonthlyPartitions

@asset(deadline="06:00")
def daily_export() -> dict:
    return {"x": 1}

@asset(partitions=MonthlyPartitions(start="2026-01-01"), deadline="07:30")
def monthly() -> dict:
    return {"x": 1}
"""

NIGHTLY = """
[tool.assetflow]
modules = ["assets"]

[tool.assetflow.schedules.nightly]
cron = "0 3 * * *"
select = "daily_export monthly"
"""


def test_a_deadline_without_daily_partitions_needs_a_schedule(make_project):
    root = make_project(SCHEDULED)
    with pytest.raises(DefinitionError) as raised:
        load_automation(load(root))
    message = raised.value.format_message()
    assert "asset 'daily_export' (" in message
    assert "assets.py:4)" in message
    assert 'has deadline="06:00" but no partitions, and no schedule selects it' in message
    assert 'means "materialized since local midnight by that time"' in message
    assert "use freshness= instead" in message
    assert "daily partitions" in message
    assert "select it in a schedule" in message
    assert "asset 'monthly' (" in message
    assert (
        'has deadline="07:30" but partitions that are not daily or hourly (monthly from' in message
    )


def test_a_deadline_is_allowed_on_a_scheduled_asset(make_project):
    automation = load_automation(load(make_project(SCHEDULED, config=NIGHTLY)))
    assert automation.schedules[0].assets == ("daily_export", "monthly")


def test_plan_and_status_commands_show_how_late(make_project):
    from click.testing import CliRunner

    from assetflow.cli import cli
    from assetflow.services.stores import open_project_store

    root = make_project(ASSETS.replace('@asset(freshness="6h")', '@asset(freshness="1s")'))
    with open_project_store(load(root)) as opened:
        opened.record([materialized("orders", datetime.now(UTC) - timedelta(hours=3))])
    plan = CliRunner().invoke(cli, ["--project", str(root), "plan", "orders"])
    assert plan.exit_code == 0, plan.output
    assert plan.output.splitlines()[-2:] == ["Late:", plan.output.splitlines()[-1]]
    assert plan.output.splitlines()[-1].startswith("  orders  overdue by 2 h 59 min (freshness 1s)")
    document = CliRunner().invoke(cli, ["--project", str(root), "plan", "orders", "--json"])
    assert json.loads(document.output)["overdue"][0]["rule"] == "freshness 1s"
    status = CliRunner().invoke(cli, ["--project", str(root), "status", "orders"])
    assert status.exit_code == 0, status.output
    assert "LATE" in status.output
    assert "overdue by 2 h 59 min (freshness 1s)" in status.output
    quiet = CliRunner().invoke(cli, ["--project", str(root), "plan", "plain"])
    assert "Late:" not in quiet.output
