"""Launching and cancelling runs from the UI, on a real server: POST /api/runs and the
form on /runs, then the run as /api/runs/{id} and the runs list show it."""

from __future__ import annotations

import http.cookiejar
import json
import re
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

from tests.ui.serving import get, get_json, serving

SMALL = """
    import time
    from pathlib import Path

    from assetflow import asset

    @asset
    def first() -> dict:
        print("first says <script>hi</script>")
        return {"n": 1}

    @asset
    def second(first: dict) -> dict:
        return {"n": first["n"] + 1}

    @asset
    def slow() -> dict:
        flag = Path(__file__).parent / "go"
        while not flag.exists():
            time.sleep(0.05)
        return {"n": 3}
"""
INPROCESS = '[tool.assetflow]\nmodules = ["assets"]\nexecutor = "inprocess"\n'
MULTIPROCESS = '[tool.assetflow]\nmodules = ["assets"]\nexecutor = "multiprocess"\nworkers = 1\n'


#: The cookies of these tests' requests, as a browser keeps them (the CSRF cookie).
COOKIES = http.cookiejar.CookieJar()


def csrf_of(url: str) -> str:
    """The CSRF token of the launch form, its cookie kept for the POSTs that follow."""
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(COOKIES))
    with opener.open(url + "/runs", timeout=30) as answer:
        assert answer.status == 200
        html = answer.read().decode()
    found = re.search(r'name="csrf" value="([^"]*)"', html)
    assert found is not None
    return found.group(1)


def post(url: str, data: bytes, headers: dict[str, str]) -> tuple[int, str, dict[str, str]]:
    """POST without following redirects: status, text, headers."""

    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args: Any, **kwargs: Any) -> None:
            return None

    opener = urllib.request.build_opener(NoRedirect, urllib.request.HTTPCookieProcessor(COOKIES))
    request = urllib.request.Request(url, data=data, headers=headers, method="POST")
    try:
        with opener.open(request, timeout=30) as answer:
            return answer.status, answer.read().decode(), dict(answer.headers)
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode(), dict(error.headers)


def launch(url: str, body: dict[str, Any]) -> tuple[int, Any]:
    token = csrf_of(url)
    status, text, _ = post(
        url + "/api/runs",
        json.dumps(body).encode(),
        {"Content-Type": "application/json", "X-CSRF-Token": token},
    )
    return status, json.loads(text)


def wait_for(url: str, run_id: str, wanted: str, timeout_s: float = 60) -> Any:
    """Poll /api/runs/{id} until the run's status is `wanted`."""
    deadline = time.monotonic() + timeout_s
    body: Any = None
    while time.monotonic() < deadline:
        status, body = get_json(f"{url}/api/runs/{run_id}")
        assert status == 200, body
        if body["launch"] and body["launch"]["error"]:
            raise AssertionError(body["launch"]["error"])
        if body["run"] is not None and body["run"]["status"] == wanted:
            return body
        time.sleep(0.1)
    raise AssertionError(f"run {run_id} is not {wanted}: {body}")


def test_a_launched_run_succeeds_with_trigger_ui_and_the_list_shows_it(make_project):
    root = make_project(SMALL, config=INPROCESS)
    with serving(root) as url:
        status, body = launch(url, {"selection": "+second", "force": True})
        assert status == 202, body
        run_id = body["run_id"]
        assert body["url"] == f"/runs/{run_id}"
        done = wait_for(url, run_id, "success")
        assert done["run"]["trigger"] == "ui"
        assert done["run"]["selection"] == "+second"
        assert [s["asset"] for s in done["steps"]] == ["first", "second"]
        status, listed = get_json(url + "/api/runs?trigger=ui")
        assert [run["run_id"] for run in listed["runs"]] == [run_id]
        status, html = get(url + "/runs")
        assert run_id[:8] in html
        assert '<td class="trigger">ui</td>' in html


def test_the_form_launches_and_redirects_to_the_run(make_project):
    root = make_project(SMALL, config=INPROCESS)
    with serving(root) as url:
        token = csrf_of(url)
        form = urllib.parse.urlencode(
            [("csrf", token), ("selection", "first"), ("force", "on")]
        ).encode()
        status, _, headers = post(
            url + "/runs",
            form,
            {"Content-Type": "application/x-www-form-urlencoded", "X-CSRF-Token": token},
        )
        assert status == 303
        location = headers["location"]
        assert re.fullmatch(r"/runs/[0-9a-f]{32}", location)
        body = wait_for(url, location.rsplit("/", 1)[1], "success")
        assert body["steps"][0]["state"] == "materialized"
        # its logs, escaped on the page
        assert "first says <script>hi</script>" in body["logs"][0]["text"]
        status, html = get(url + location)
        assert "first says &lt;script&gt;hi&lt;/script&gt;" in html
        assert "<script>hi" not in html


def test_a_malformed_selection_is_400_with_the_clis_caret_message(make_project):
    root = make_project(SMALL, config=INPROCESS)
    with serving(root) as url:
        status, body = launch(url, {"selection": "first+ +"})
        assert status == 400
        assert "^" in body["error"]
        assert "first+ +" in body["error"]
        status, body = launch(url, {"selection": "frist"})
        assert status == 400
        assert "did you mean" in body["error"].lower()
        assert "first" in body["error"]
        status, body = launch(url, {"selection": "first", "partition": "x", "from": "y"})
        assert status == 400
        assert "either a partition or a range" in body["error"]
        status, body = launch(url, {"selection": "first", "redo": ["mising"]})
        assert status == 400
        assert "'mising' is not one of" in body["error"]
        token = csrf_of(url)
        form = urllib.parse.urlencode([("csrf", token), ("selection", "(first")])
        status, html, _ = post(
            url + "/runs",
            form.encode(),
            {"Content-Type": "application/x-www-form-urlencoded", "X-CSRF-Token": token},
        )
        assert status == 400
        assert 'id="launch-error"' in html
        assert "^" in html


def test_a_launch_that_fails_in_planning_says_so_on_the_runs_page(make_project):
    root = make_project(SMALL, config=INPROCESS)
    with serving(root) as url:
        status, body = launch(url, {"selection": "first", "partition": "2026-01-01"})
        assert status == 202, body
        run_id = body["run_id"]
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            status, found = get_json(f"{url}/api/runs/{run_id}")
            assert status == 200
            if found["run"] is None and found["launch"]["error"]:
                break
            time.sleep(0.1)
        assert found["run"] is None
        assert "partition" in found["launch"]["error"]
        status, html = get(f"{url}/runs/{run_id}")
        assert status == 200
        assert "The launch failed before the run was recorded" in html
        token = csrf_of(url)
        status, text, _ = post(f"{url}/api/runs/{run_id}/cancel", b"", {"X-CSRF-Token": token})
        assert status == 409
        assert "launch failed before it started" in json.loads(text)["error"]


def test_a_slow_run_is_cancelled(make_project):
    root = make_project(SMALL, config=MULTIPROCESS)
    with serving(root) as url:
        status, body = launch(url, {"selection": "slow"})
        assert status == 202, body
        run_id = body["run_id"]
        running = wait_for(url, run_id, "running")
        assert running["run"]["status"] == "running"
        status, html = get(f"{url}/runs/{run_id}")
        assert 'id="cancel"' in html
        token = csrf_of(url)
        status, text, _ = post(f"{url}/api/runs/{run_id}/cancel", b"", {"X-CSRF-Token": token})
        assert status == 202, text
        cancelled = wait_for(url, run_id, "cancelled")
        assert cancelled["run"]["status"] == "cancelled"
        assert not (Path(root) / "go").exists()
        # a finished run cannot be cancelled again
        status, text, _ = post(f"{url}/api/runs/{run_id}/cancel", b"", {"X-CSRF-Token": token})
        assert status == 409
        assert "finished" in json.loads(text)["error"] or "ended" in json.loads(text)["error"]


def test_cancelling_an_unknown_run_is_404(make_project):
    root = make_project(SMALL, config=INPROCESS)
    with serving(root) as url:
        token = csrf_of(url)
        status, text, _ = post(f"{url}/api/runs/nosuch/cancel", b"", {"X-CSRF-Token": token})
        assert status == 404
        assert "no run is named 'nosuch'" in json.loads(text)["error"]


def test_a_launcher_remembers_a_bounded_number_of_ended_launches(make_project, monkeypatch):
    import assetflow
    from assetflow.request import RunRequest
    from assetflow.ui import launching

    monkeypatch.setattr(launching, "KEEP_ENDED", 2)
    root = make_project(SMALL, config=INPROCESS)
    launcher = launching.Launcher(assetflow.load(root))
    ids = [launcher.launch(RunRequest("first", trigger="ui")) for _ in range(3)]
    launcher.wait()
    deadline = time.monotonic() + 30
    while any(launcher.get(i) and launcher.get(i).state != "ended" for i in ids[1:]):
        assert time.monotonic() < deadline
        time.sleep(0.05)
    assert launcher.get(ids[0]) is None  # forgotten: its page reads the store alone
    assert [launcher.get(i).state for i in ids[1:]] == ["ended", "ended"]
    assert launcher.going() == []
