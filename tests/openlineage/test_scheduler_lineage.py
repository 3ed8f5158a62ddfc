"""Runs the scheduler and the web UI start emit their OpenLineage events like `materialize`'s."""

from __future__ import annotations

from datetime import UTC, datetime

from assetflow.clock import FixedClock
from tests.automation.driving import scheduler_for, settle
from tests.openlineage.receiver import LineageReceiver
from tests.openlineage.runs import ASSETS, http_config
from tests.openlineage.test_http_events import assert_paired

HOURLY = """
[tool.assetflow.schedules.hourly]
cron = "0 * * * *"
select = "raw+"
catchup = "latest"
start = "2026-03-02T00:00:00+00:00"
"""


def test_a_scheduled_run_emits_paired_events(make_project) -> None:
    with LineageReceiver() as receiver:
        root = make_project(ASSETS, config=http_config(receiver.url) + HOURLY)
        clock = FixedClock(datetime(2026, 3, 2, 2, 0, 30, tzinfo=UTC))
        daemon, store = scheduler_for(root, clock)
        with store:
            daemon.cycle()
            settle(daemon, store, clock)
    assert receiver.invalid == []
    assert len(receiver.events) == 6
    assert_paired(receiver.events)
    assert {e["job"]["name"] for e in receiver.events} == {
        root.name,
        f"{root.name}.raw",
        f"{root.name}.clean",
    }


def test_a_run_launched_from_the_web_ui_emits_paired_events(make_project) -> None:
    import assetflow
    from assetflow.request import RunRequest
    from assetflow.ui.launching import Launcher

    with LineageReceiver() as receiver:
        root = make_project(ASSETS, config=http_config(receiver.url))
        launcher = Launcher(assetflow.load(root))
        launcher.launch(RunRequest("raw", trigger="ui"))
        launcher.wait()
    assert receiver.invalid == []
    assert [e["eventType"] for e in receiver.events] == ["START", "START", "COMPLETE", "COMPLETE"]


def test_the_schedulers_cycle_sends_what_a_run_left_in_the_outbox(make_project) -> None:
    from tests.http_servers import refused_url
    from tests.openlineage.runs import run

    root = make_project(ASSETS, config=http_config(refused_url()))
    _, recorder = run(root, "raw")
    assert recorder.report is not None
    assert recorder.report.pending == 4
    with LineageReceiver() as receiver:
        config = (root / "pyproject.toml").read_text()
        url = recorder.settings.url
        assert url is not None
        (root / "pyproject.toml").write_text(config.replace(url, receiver.url))
        clock = FixedClock(datetime(2026, 3, 2, 2, 0, 30, tzinfo=UTC))
        daemon, store = scheduler_for(root, clock)
        with store:
            import time

            time.sleep(1.1)  # the outbox's first retry time
            daemon.cycle()
    assert len(receiver.events) == 4
    assert_paired(receiver.events)
