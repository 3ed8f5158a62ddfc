"""The incident rules, over real runs on real SQLite stores: one incident per failing
asset, not per retry, partition or run; skips join it; the next success resolves it."""

from __future__ import annotations

from datetime import UTC, datetime

import assetflow
from assetflow.alerts.compose import compose
from assetflow.alerts.incidents import first_lines
from assetflow.alerts.setup import alerting
from assetflow.request import PartitionRequest, RunRequest
from assetflow.services.running import check, materialize
from assetflow.services.stores import open_project_store

ONE_HOOK = """
[tool.assetflow]
modules = ["assets"]
executor = "inprocess"

[tool.assetflow.alerts.team-hook]
kind = "webhook"
url = "http://127.0.0.1:9/hook"
"""

HOOKS = """
[tool.assetflow]
modules = ["assets"]
executor = "inprocess"

[tool.assetflow.alerts.team-hook]
kind = "webhook"
url = "http://127.0.0.1:9/hook"

[tool.assetflow.alerts.nightly-only]
kind = "webhook"
url = "http://127.0.0.1:9/nightly"
select = "tag:nightly"
on = ["run_failed"]
"""

CHAIN = """
    import os
    from assetflow import asset

    @asset(tags="nightly")
    def source() -> dict:
        if os.environ.get("BREAK_SOURCE"):
            raise ValueError("the source API answered 503")
        return {"n": 1}

    @asset
    def middle(source: dict) -> dict:
        return {"n": source["n"] + 1}

    @asset
    def last(middle: dict) -> dict:
        return middle

    @asset
    def apart() -> dict:
        if os.environ.get("BREAK_APART"):
            raise ValueError("apart broke")
        return {"n": 0}
"""


def run(root, request=None, *, opens=True):
    project = assetflow.load(root)
    recorder = alerting(project).recorder(opens=opens)
    return materialize(project, request or RunRequest(executor="inprocess"), listeners=[recorder])


def stored(root):
    return open_project_store(assetflow.load(root))


def test_a_failure_opens_one_incident_with_its_skipped_downstream_and_queues_its_alerts(
    make_project, monkeypatch
):
    root = make_project(CHAIN, config=HOOKS)
    monkeypatch.setenv("BREAK_SOURCE", "1")
    result = run(root)
    assert not result.success
    with stored(root) as store:
        [incident] = store.incidents()
        assert (incident.kind, incident.subject, incident.resolved_at) == (
            "run_failed",
            "source",
            None,
        )
        assert "the source API answered 503" in incident.summary
        assert incident.run_id == result.run_id
        members = store.incident_members([incident.incident_id])[incident.incident_id]
        assert {(m.role, m.asset, m.partition) for m in members} == {
            ("failed", "", ""),
            ("skipped", "middle", ""),
            ("skipped", "last", ""),
        }
        alerts = store.alerts(incident_id=incident.incident_id)
        assert sorted((a.destination, a.event) for a in alerts) == [
            ("nightly-only", "run_failed"),
            ("team-hook", "run_failed"),
        ]
        assert {a.hold_run_id for a in alerts} == {result.run_id}


def test_failing_again_joins_the_incident_and_queues_nothing_new(make_project, monkeypatch):
    root = make_project(CHAIN, config=HOOKS)
    monkeypatch.setenv("BREAK_SOURCE", "1")
    run(root)
    run(root)
    run(root)
    with stored(root) as store:
        [incident] = store.incidents()
        assert incident.occurrences == 3
        assert len(store.alerts()) == 2  # the two destinations, once


def test_the_next_success_resolves_it_and_queues_recovered_for_those_that_asked(
    make_project, monkeypatch
):
    root = make_project(CHAIN, config=HOOKS)
    monkeypatch.setenv("BREAK_SOURCE", "1")
    run(root)
    monkeypatch.delenv("BREAK_SOURCE")
    assert run(root).success
    with stored(root) as store:
        [incident] = store.incidents()
        assert incident.resolved_at is not None
        recovered = [a for a in store.alerts() if a.event == "recovered"]
        # nightly-only did not ask for `recovered`
        assert [a.destination for a in recovered] == ["team-hook"]
        assert store.open_incidents() == []


def test_a_destination_hears_only_the_assets_it_selects(make_project, monkeypatch):
    root = make_project(CHAIN, config=HOOKS)
    monkeypatch.setenv("BREAK_APART", "1")
    run(root)
    with stored(root) as store:
        [incident] = store.incidents()
        assert incident.subject == "apart"
        assert [a.destination for a in store.alerts()] == ["team-hook"]


def test_a_step_that_succeeds_on_retry_opens_nothing(make_project, tmp_path):
    marker = tmp_path / "tried-once"
    root = make_project(
        f"""
        from pathlib import Path
        from assetflow import asset

        @asset(retries=2)
        def flaky() -> dict:
            marker = Path({str(marker)!r})
            if not marker.exists():
                marker.write_text("x")
                raise ConnectionError("reset by peer")
            return {{"n": 1}}
        """,
        config=ONE_HOOK,
    )
    assert run(root).success
    with stored(root) as store:
        assert store.incidents() == []
        assert store.alerts() == []


def test_a_backfill_whose_partitions_fail_is_one_incident_listed_as_ranges(make_project):
    root = make_project(
        """
        from assetflow import DailyPartitions, asset

        @asset(partitions=DailyPartitions(start="2026-01-01", end="2026-03-01"))
        def daily(context) -> dict:
            if context.partition_key < "2026-02-01" or context.partition_key == "2026-02-14":
                raise ValueError("no data for " + context.partition_key)
            return {"n": 1}
        """,
        config=ONE_HOOK,
    )
    request = RunRequest(
        executor="inprocess", partitions=PartitionRequest("2026-01-01", "2026-02-28")
    )
    run(root, request)
    with stored(root) as store:
        [incident] = store.incidents()
        members = store.incident_members([incident.incident_id])[incident.incident_id]
        assert len(members) == 32
        [alert] = [a for a in store.alerts() if a.destination == "team-hook"]
        message = compose(
            alert.event,
            incident,
            members,
            project="proj",
            graph=assetflow.load(root).graph,
        )
    assert message.assets[0].partitions == ("2026-01-01..2026-01-31", "2026-02-14")
    assert message.title == "daily failed (32 partitions)"


def test_no_alerts_opens_no_incident_but_a_fix_still_resolves(make_project, monkeypatch):
    root = make_project(CHAIN, config=HOOKS)
    monkeypatch.setenv("BREAK_SOURCE", "1")
    run(root, opens=False)
    with stored(root) as store:
        assert store.incidents() == []
    run(root)  # an alerting run opens it
    monkeypatch.delenv("BREAK_SOURCE")
    run(root, opens=False)
    with stored(root) as store:
        [incident] = store.incidents()
        assert incident.resolved_at is not None
        assert [a.event for a in store.alerts() if a.destination == "team-hook"] == [
            "recovered",
            "run_failed",
        ] or sorted(a.event for a in store.alerts() if a.destination == "team-hook") == [
            "recovered",
            "run_failed",
        ]


def test_a_failed_check_opens_a_check_incident_that_a_passing_check_resolves(
    make_project, tmp_path
):
    flag = tmp_path / "bad"
    flag.write_text("1")
    root = make_project(
        f"""
        from pathlib import Path
        import pandas as pd
        from assetflow import asset, not_null

        @asset(checks=[not_null("email")])
        def users() -> pd.DataFrame:
            bad = Path({str(flag)!r}).exists()
            return pd.DataFrame({{"email": [None if bad else "a@b.c"]}})
        """,
        config=ONE_HOOK,
    )
    run(root)
    with stored(root) as store:
        [incident] = store.incidents()
        assert (incident.kind, incident.subject) == ("check_failed", "users")
        assert "not_null" in incident.summary
    flag.unlink()
    assert run(root, RunRequest(executor="inprocess", force=True)).success
    with stored(root) as store:
        [incident] = store.incidents()
        assert incident.resolved_at is not None


def test_a_check_run_records_check_incidents_too(make_project, tmp_path):
    flag = tmp_path / "bad"
    root = make_project(
        """
        from pathlib import Path
        import pandas as pd
        from assetflow import asset, not_null

        @asset(checks=[not_null("email")])
        def users() -> pd.DataFrame:
            return pd.DataFrame({"email": ["a@b.c"]})
        """,
        config=ONE_HOOK,
    )
    assert run(root).success
    project = assetflow.load(root)
    # The stored output is changed behind assetflow's back: the check run finds it.
    import pandas as pd

    [path] = (root / ".assetflow").rglob("users*.parquet")
    pd.DataFrame({"email": [None]}).to_parquet(path)
    del flag
    check(project, RunRequest(trigger="check"), listeners=[alerting(project).recorder()])
    with stored(root) as store:
        [incident] = store.incidents()
        assert incident.kind == "check_failed"


def test_first_lines_keeps_the_head_of_an_error():
    text = "\n".join(f"line {i}" for i in range(30))
    assert first_lines(text, lines=3) == "line 0\nline 1\nline 2\n…"
    assert len(first_lines("x" * 5000)) == 2000


def test_incidents_keep_utc_times(make_project, monkeypatch):
    root = make_project(CHAIN, config=HOOKS)
    monkeypatch.setenv("BREAK_SOURCE", "1")
    run(root)
    with stored(root) as store:
        [incident] = store.incidents()
    assert incident.opened_at.tzinfo is not None
    assert incident.opened_at <= datetime.now(UTC)
