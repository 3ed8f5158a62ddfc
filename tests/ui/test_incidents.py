"""The incidents page: open and resolved incidents with their alerts, and the
destinations without a secret, served for real after real runs."""

from __future__ import annotations

import assetflow
from assetflow.alerts.setup import alerting
from assetflow.request import RunRequest
from assetflow.services.running import materialize
from tests.ui.serving import get, get_json, serving

SECRET = "T0KEN-in-the-path-9f8e7d"

CONFIG = f"""
[tool.assetflow]
modules = ["assets"]
executor = "inprocess"

[tool.assetflow.alerts.team-hook]
kind = "webhook"
url = "http://127.0.0.1:9/hooks/{SECRET}"

[tool.assetflow.alerts.from-env]
kind = "webhook"
url_env = "UI_TEST_HOOK_URL"
"""

ASSETS = """
    import os
    from assetflow import asset

    @asset
    def source() -> dict:
        if os.environ.get("BREAK_SOURCE"):
            raise ValueError("the <source> API answered 503")
        return {"n": 1}

    @asset
    def middle(source: dict) -> dict:
        return {"n": source["n"] + 1}
"""


def run(root):
    project = assetflow.load(root)
    recorder = alerting(project).recorder()
    return materialize(project, RunRequest(executor="inprocess"), listeners=[recorder])


def test_open_then_resolved_incidents_and_destinations_without_secrets(make_project, monkeypatch):
    monkeypatch.setenv("UI_TEST_HOOK_URL", f"http://127.0.0.1:9/env/{SECRET}")
    root = make_project(ASSETS, config=CONFIG)
    monkeypatch.setenv("BREAK_SOURCE", "1")
    failed = run(root)
    assert not failed.success
    with serving(root) as url:
        status, body = get_json(url + "/api/incidents")
        page_status, page = get(url + "/incidents")
        monkeypatch.delenv("BREAK_SOURCE")
        assert run(root).success
        _, after = get_json(url + "/api/incidents")
        _, page_after = get(url + "/incidents")
    assert status == 200
    assert body["version"] == 1
    assert body["open"] == 1
    (incident,) = body["incidents"]
    assert incident["kind"] == "run_failed"
    assert incident["subject"] == "source"
    assert incident["open"] is True
    assert incident["run_id"] == failed.run_id
    assert incident["skipped"] == [{"asset": "middle", "partitions": []}]
    assert {a["destination"] for a in incident["alerts"]} == {"team-hook", "from-env"}
    assert "the <source> API answered 503" in incident["summary"]
    targets = {d["destination"]: d["target"] for d in body["destinations"]}
    assert targets == {"team-hook": "http://127.0.0.1:9/…", "from-env": "$UI_TEST_HOOK_URL (set)"}
    assert page_status == 200
    assert 'data-open="yes"' in page
    assert "the &lt;source&gt; API answered 503" in page
    assert 'href="/assets/middle"' in page
    assert f'href="/runs/{failed.run_id}"' in page
    assert SECRET not in page
    assert SECRET not in str(body)
    # The next success resolves it.
    assert after["open"] == 0
    assert after["incidents"][0]["resolved_at"] is not None
    assert 'data-open="no"' in page_after
    assert "resolved" in page_after


def test_no_incidents_and_no_destinations(make_project):
    root = make_project(ASSETS)
    with serving(root) as url:
        _, body = get_json(url + "/api/incidents")
        _, page = get(url + "/incidents")
    assert body["incidents"] == []
    assert body["destinations"] == []
    assert body["open"] == 0
    assert "No incidents" in page
    assert "No alert destinations" in page
