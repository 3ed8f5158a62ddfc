"""End to end: alerts and incidents through the CLI, as real processes, with a real HTTP
receiver and real commands on 127.0.0.1. Exact counts: one alert per incident, one
recovered message, nothing lost while the receiver was down, no secret in any output."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

from tests.alerts.runs import BASE, failing_assets
from tests.e2e.processes import assetflow
from tests.http_servers import RecordingHTTPServer, refused_url

SECRET_PATH = "/services/T000/B000/very-secret-token"


def cli(root: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    environ = {**os.environ, **(env or {})}
    return subprocess.run(
        assetflow(root, *args), capture_output=True, text=True, env=environ, timeout=120
    )


def hook_config(extra: str = "") -> str:
    return (
        BASE
        + '[tool.assetflow.alerts.team-hook]\nkind = "webhook"\nurl_env = "HOOK_URL"\n'
        + 'secret_env = "HOOK_KEY"\n'
        + extra
    )


def test_a_failing_materialize_alerts_once_then_recovered_once(make_project):
    with RecordingHTTPServer() as server:
        root = make_project(failing_assets(1), config=hook_config())
        env = {"HOOK_URL": server.url + SECRET_PATH, "HOOK_KEY": "k3y-s3cret", "BREAK": "1"}
        first = cli(root, "materialize", env=env)
        assert first.returncode == 1
        assert "Alerts: 1 sent" in first.stderr
        second = cli(root, "materialize", env=env)  # fails again: joins the incident
        assert second.returncode == 1
        assert "Alerts:" not in second.stderr
        env.pop("BREAK")
        fixed = cli(root, "materialize", env=env)
        assert fixed.returncode == 0, fixed.stderr
        assert "Alerts: 1 sent" in fixed.stderr
        events = [json.loads(r.body)["event"] for r in server.requests]
        signatures = [r.headers.get("X-Assetflow-Signature", "") for r in server.requests]
        listing = cli(root, "incidents", "--json", env=env)
        table = cli(root, "alerts", env=env)
    assert events == ["run_failed", "recovered"]
    assert all(s.startswith("sha256=") for s in signatures)
    [incident] = json.loads(listing.stdout)["incidents"]
    assert incident["kind"] == "run_failed"
    assert incident["subject"] == "source0"
    assert incident["occurrences"] == 2
    assert incident["open"] is False
    assert [a["status"] for a in incident["alerts"]] == ["sent", "sent"]
    assert "team-hook" in table.stdout
    assert "$HOOK_URL (set)" in table.stdout
    for output in (first, second, fixed, listing, table):
        text = output.stdout + output.stderr
        assert "very-secret-token" not in text
        assert "k3y-s3cret" not in text
    assert "very-secret-token" not in (root / ".assetflow" / "metadata.sqlite").read_bytes().decode(
        "latin-1"
    )


def test_no_alerts_runs_alert_nobody(make_project):
    with RecordingHTTPServer() as server:
        root = make_project(failing_assets(1), config=hook_config())
        env = {"HOOK_URL": server.url, "HOOK_KEY": "k", "BREAK": "1"}
        done = cli(root, "materialize", "--no-alerts", env=env)
        assert done.returncode == 1
        assert server.requests == []
    assert "No incidents" in cli(root, "incidents").stdout


def test_an_alert_the_run_could_not_deliver_goes_out_with_a_later_command(make_project):
    root = make_project(failing_assets(1), config=hook_config())
    # The receiver is down while the run's process tries: nothing listens there.
    env = {"HOOK_URL": refused_url("/hook"), "HOOK_KEY": "k", "BREAK": "1"}
    done = cli(root, "materialize", env=env)
    assert done.returncode == 1  # the run's own outcome, whatever the alert did
    assert "1 to retry" in done.stderr
    # Its backoff has passed by the time a later command opens the store.
    with sqlite3.connect(root / ".assetflow" / "metadata.sqlite") as db:
        db.execute("UPDATE alerts SET next_attempt_at = '2000-01-01T00:00:00.000000+00:00'")
    with RecordingHTTPServer() as server:
        # Any command on the project delivers what is due as it ends: `status` here.
        later = cli(root, "status", env={**env, "HOOK_URL": server.url})
        assert "Alerts: 1 sent" in later.stderr
        assert len(server.requests) == 1
    with sqlite3.connect(root / ".assetflow" / "metadata.sqlite") as db:
        outcomes = [row[0] for row in db.execute("SELECT outcome FROM alert_attempts ORDER BY id")]
    assert outcomes == ["retry", "sent"]


def test_a_command_destination_gets_the_incident_on_stdin_and_in_its_environment(
    make_project, tmp_path
):
    out = tmp_path / "received.json"
    script = (
        "import json, os, sys; "
        f"open({str(out)!r}, 'a').write(json.dumps({{'stdin': json.load(sys.stdin), "
        "'event': os.environ['ASSETFLOW_EVENT']}) + '\\n')"
    )
    config = (
        BASE
        + '[tool.assetflow.alerts.oncall]\nkind = "command"\n'
        + f"command = {json.dumps([sys.executable, '-c', script])}\n"
    )
    root = make_project(failing_assets(3), config=config)
    done = cli(root, "materialize", env={"BREAK": "1"})
    assert done.returncode == 1
    received = [json.loads(line) for line in out.read_text().splitlines()]
    assert sorted(r["stdin"]["assets"][0]["asset"] for r in received) == [
        "source0",
        "source1",
        "source2",
    ]
    assert {r["event"] for r in received} == {"run_failed"}


def test_alerts_test_says_what_the_endpoint_answered(make_project):
    with RecordingHTTPServer(answers=[200, 500]) as server:
        root = make_project(failing_assets(1), config=hook_config())
        env = {"HOOK_URL": server.url, "HOOK_KEY": "k"}
        ok = cli(root, "alerts", "test", "team-hook", env=env)
        assert ok.returncode == 0, ok.stderr
        assert "Sent a test alert to team-hook (webhook): HTTP 200" in ok.stdout
        bad = cli(root, "alerts", "test", "team-hook", env=env)
        assert bad.returncode == 1
        assert "HTTP 500" in bad.stderr
        assert "retried with backoff" in bad.stderr
        assert json.loads(server.requests[0].body)["test"] is True
    unknown = cli(root, "alerts", "test", "team-hok", env=env)
    assert unknown.returncode == 2
    assert "no alert destination is named 'team-hok'" in unknown.stderr
    assert "Did you mean 'team-hook'?" in unknown.stderr
    missing = cli(root, "alerts", "test", "team-hook", env={"HOOK_URL": ""})
    assert missing.returncode == 1
    assert "HOOK_URL" in missing.stderr


def test_a_wrong_destination_stops_the_command_before_any_run(make_project):
    config = BASE + '[tool.assetflow.alerts.x]\nkind = "slak"\nurl_env = "U"\n'
    root = make_project(failing_assets(1), config=config)
    done = cli(root, "materialize")
    assert done.returncode == 2
    assert "Did you mean 'slack'" in done.stderr
    assert "Traceback" not in done.stderr
    assert (
        not (root / ".assetflow" / "metadata.sqlite").exists()
        or "No runs" in cli(root, "runs").stdout
    )
    bad_select = (
        BASE + '[tool.assetflow.alerts.x]\nkind = "webhook"\nurl_env = "U"\nselect = "tag:nope"\n'
    )
    (root / "pyproject.toml").write_text(bad_select)
    done = cli(root, "alerts")
    assert done.returncode == 2
    assert "the alert destination 'x' has select = \"tag:nope\"" in done.stderr


SCHEDULED = """
    from assetflow import asset

    @asset(freshness="6h")
    def ledger() -> dict:
        return {"n": 1}
"""

NIGHTLY = """
[tool.assetflow.schedules.nightly]
cron = "0 3 * * *"
select = "ledger"
"""


def test_health_alert_says_scheduler_down_once_and_recovered_when_one_leads(make_project):
    from datetime import UTC, datetime, timedelta

    import assetflow
    from assetflow.services.stores import open_project_store

    with RecordingHTTPServer() as server:
        config = (
            BASE
            + NIGHTLY
            + (
                '[tool.assetflow.alerts.hook]\nkind = "webhook"\n'
                f'url = "{server.url}"\non = ["scheduler_down", "recovered"]\n'
            )
        )
        root = make_project(SCHEDULED, config=config)
        assert cli(root, "materialize").returncode == 0
        first = cli(root, "health", "--alert")
        assert first.returncode == 1
        assert "scheduler: down (never started)" in first.stdout
        assert "Alerts: 1 sent" in first.stderr
        again = cli(root, "health", "--alert")
        assert again.returncode == 1
        assert "Alerts:" not in again.stderr
        with open_project_store(assetflow.load(root)) as store:
            now = datetime.now(UTC)
            store.acquire_scheduler_lease("s1", 99, "etl-1", now, timedelta(minutes=10))
        back = cli(root, "health", "--alert")
        assert back.returncode == 0, back.stdout
        assert "Alerts: 1 sent" in back.stderr
        events = [json.loads(r.body)["event"] for r in server.requests]
    assert events == ["scheduler_down", "recovered"]
    refused = cli(root, "health", "--alert", "--now", "2026-03-01T00:00:00Z")
    assert refused.returncode == 2
    assert "--alert and --now do not go together" in refused.stderr


KILLED = """
    import time
    from pathlib import Path

    from assetflow import asset

    HERE = Path(__file__).parent

    @asset
    def slow() -> dict:
        (HERE / "slow.started").touch()
        if not (HERE / "quick").exists():
            time.sleep(60)
        return {"n": 1}
"""


def test_a_run_killed_outright_is_told_by_the_next_command(make_project):
    import signal

    from tests.e2e.processes import wait_for

    with RecordingHTTPServer() as server:
        config = BASE + f'[tool.assetflow.alerts.hook]\nkind = "webhook"\nurl = "{server.url}"\n'
        root = make_project(KILLED, config=config)
        process = subprocess.Popen(
            assetflow(root, "materialize"),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        wait_for(root / "slow.started")
        os.killpg(process.pid, signal.SIGKILL)  # the OOM killer at 3am: nothing is recorded
        process.wait(30)
        assert server.requests == []
        # The next command sweeps the run as crashed, and its step's incident opens.
        (root / "quick").touch()
        later = cli(root, "materialize")
        assert later.returncode == 0, later.stderr
        assert "Alerts: 2 sent" in later.stderr
        bodies = [json.loads(r.body) for r in server.requests]
        assert [b["event"] for b in bodies] == ["run_failed", "recovered"]
        assert "crashed" in bodies[0]["error"]
        assert cli(root, "status").returncode == 0
        assert len(server.requests) == 2  # told once
