"""Delivering the outbox to real receivers on 127.0.0.1: once per alert, held until the
run ends, retried with backoff while the receiver is down, never twice across processes."""

from __future__ import annotations

import json
import multiprocessing
from datetime import UTC, datetime, timedelta

from tests.alerts.runs import BASE, deliver, failing_assets, run, stored, webhook
from tests.http_servers import RecordingHTTPServer, refused_url


def later(minutes: float):
    moment = datetime.now(UTC) + timedelta(minutes=minutes)
    return lambda: moment


def test_a_failed_run_sends_one_alert_with_the_versioned_body(make_project, monkeypatch):
    with RecordingHTTPServer() as server:
        root = make_project(failing_assets(1), config=BASE + webhook("hook", server.url + "/in"))
        monkeypatch.setenv("BREAK", "1")
        result = run(root)
        report = deliver(root)
        assert (report.sent, report.retrying, report.failed) == (1, 0, 0)
        assert deliver(root).attempted == 0  # sent once: nothing is due any more
        [request] = server.requests
    body = json.loads(request.body)
    assert request.path == "/in"
    assert body["version"] == 1
    assert body["event"] == "run_failed"
    assert body["assets"] == [{"asset": "source0", "partitions": []}]
    assert body["skipped"] == [{"asset": "after0", "partitions": []}]
    assert body["run_id"] == result.run_id
    assert "the API answered 503" in body["error"]
    assert body["opened_at"].endswith("Z")
    assert body["resolved_at"] is None
    assert body["logs_command"] == f"assetflow logs {result.run_id[:8]} --asset source0"
    assert body["duration_s"] is not None


def test_recovered_goes_out_once_when_the_asset_next_materializes(make_project, monkeypatch):
    with RecordingHTTPServer() as server:
        root = make_project(failing_assets(1), config=BASE + webhook("hook", server.url))
        monkeypatch.setenv("BREAK", "1")
        run(root)
        run(root)  # the same failure again: joins the incident
        deliver(root)
        monkeypatch.delenv("BREAK")
        run(root)
        deliver(root)
        run(root)  # nothing to do, nothing to say
        deliver(root)
        events = [json.loads(r.body)["event"] for r in server.requests]
        resolved_at = json.loads(server.requests[-1].body)["resolved_at"]
    assert events == ["run_failed", "recovered"]
    assert resolved_at is not None


def test_an_alert_is_held_until_its_run_ends(make_project, monkeypatch):
    with RecordingHTTPServer() as server:
        root = make_project(failing_assets(1), config=BASE + webhook("hook", server.url))
        monkeypatch.setenv("BREAK", "1")
        result = run(root)
        with stored(root) as store:
            # As if the run were still going: the alert waits for it.
            store._db.run(
                "reopen the run",
                lambda c: c.execute(
                    "UPDATE runs SET status = 'running', finished_at = NULL WHERE run_id = ?",
                    (result.run_id,),
                ),
                write=True,
            )
        assert deliver(root).attempted == 0
        with stored(root) as store:
            from assetflow.store import RunStatus

            store.finish_run(result.run_id, RunStatus.FAILED, datetime.now(UTC))
        assert deliver(root).sent == 1
        assert len(server.requests) == 1


def test_no_alert_is_lost_while_the_receiver_is_down(make_project, monkeypatch):
    with RecordingHTTPServer(answers=[500, 503, 200]) as server:
        root = make_project(failing_assets(1), config=BASE + webhook("hook", server.url))
        monkeypatch.setenv("BREAK", "1")
        run(root)
        first = deliver(root)
        assert (first.sent, first.retrying) == (0, 1)
        assert deliver(root).attempted == 0  # not due again yet: backoff
        assert deliver(root, now=later(1)).retrying == 1
        assert deliver(root, now=later(5)).sent == 1
        assert deliver(root, now=later(30)).attempted == 0
        assert len(server.requests) == 3
        with stored(root) as store:
            [alert] = store.alerts()
            attempts = store.alert_attempts(alert.alert_id)
    assert alert.status == "sent"
    assert [a.outcome for a in attempts] == ["retry", "retry", "sent"]
    assert "500" in attempts[0].detail
    assert "503" in attempts[1].detail


def test_a_receiver_that_never_comes_back_is_given_up_after_retry_for(make_project, monkeypatch):
    root = make_project(
        failing_assets(1),
        config=BASE + webhook("hook", refused_url("/hook"), retry_for='"2m"'),
    )
    monkeypatch.setenv("BREAK", "1")
    run(root)
    assert deliver(root).retrying == 1
    report = deliver(root, now=later(5))
    assert report.failed == 1
    assert "gave up after 2 attempts" in report.lines[0]
    with stored(root) as store:
        [alert] = store.alerts()
    assert alert.status == "failed"


def test_a_4xx_answer_is_final_and_kept(make_project, monkeypatch):
    with RecordingHTTPServer(answers=[404]) as server:
        root = make_project(failing_assets(1), config=BASE + webhook("hook", server.url))
        monkeypatch.setenv("BREAK", "1")
        run(root)
        assert deliver(root).failed == 1
        assert deliver(root, now=later(60)).attempted == 0
        assert len(server.requests) == 1
    with stored(root) as store:
        [alert] = store.alerts()
    assert alert.status == "failed"
    assert "404" in (alert.last_error or "")


def test_a_missing_secret_makes_the_alert_undeliverable_naming_the_variable(
    make_project, monkeypatch
):
    config = BASE + '[tool.assetflow.alerts.hook]\nkind = "webhook"\nurl_env = "HOOK_URL"\n'
    root = make_project(failing_assets(1), config=config)
    monkeypatch.setenv("BREAK", "1")
    result = run(root)
    assert not result.success  # the run happened, and failed on its own account
    report = deliver(root, environ={})
    assert report.undeliverable == 1
    assert "HOOK_URL" in report.lines[0]


def test_a_destination_removed_from_the_configuration_fails_its_alerts(make_project, monkeypatch):
    root = make_project(failing_assets(1), config=BASE + webhook("hook", refused_url("/hook")))
    monkeypatch.setenv("BREAK", "1")
    run(root)
    (root / "pyproject.toml").write_text(BASE)
    report = deliver(root)
    assert report.failed == 1
    assert "no longer configured" in report.lines[0]


def _deliver_in_process(root: str) -> None:
    from pathlib import Path

    deliver(Path(root))


def test_two_processes_delivering_at_once_send_each_alert_once(make_project, monkeypatch):
    with RecordingHTTPServer() as server:
        root = make_project(failing_assets(12), config=BASE + webhook("hook", server.url))
        monkeypatch.setenv("BREAK", "1")
        run(root)
        context = multiprocessing.get_context("spawn")
        workers = [context.Process(target=_deliver_in_process, args=(str(root),)) for _ in range(2)]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join(60)
            assert worker.exitcode == 0
        incidents = sorted(json.loads(r.body)["incident_id"] for r in server.requests)
    assert len(incidents) == 12
    assert len(set(incidents)) == 12
