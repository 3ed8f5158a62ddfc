"""The schedules page: schedules, sensors, ticks; pause and resume, served for real."""

from __future__ import annotations

import http.cookiejar
import json
import re
import urllib.error
import urllib.parse
import urllib.request
from datetime import UTC, datetime

import pytest
from click.testing import CliRunner

import assetflow
from assetflow.cli import cli
from assetflow.services.stores import project_store
from assetflow.store.automation import TickRecord
from tests.ui.serving import get, get_json, serving


class Browser:
    """GETs and form POSTs that keep cookies, as a browser does (the CSRF cookie)."""

    def __init__(self) -> None:
        self.opener = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar())
        )

    def open(self, url: str, form: dict[str, str] | None = None) -> tuple[int, str, str]:
        data = None if form is None else urllib.parse.urlencode(form).encode()
        try:
            with self.opener.open(url, data=data, timeout=30) as answer:
                return answer.status, answer.geturl(), answer.read().decode()
        except urllib.error.HTTPError as error:
            return error.code, url, error.read().decode()


def csrf_of(page: str) -> str:
    found = re.search(r'name="csrf" value="([^"]*)"', page)
    assert found, "the page has no CSRF field"
    return found.group(1)


def cli_schedules(root):
    result = CliRunner().invoke(cli, ["--project", str(root), "schedules", "--json"])
    assert result.exit_code == 0, result.output
    return {item["schedule"]: item for item in json.loads(result.output)["schedules"]}


@pytest.fixture
def materialized(example_copy):
    result = assetflow.materialize("*", project=example_copy, executor="inprocess")
    assert result.success
    return example_copy, result.run_id


def test_the_schedules_page_lists_schedules_sensors_and_ticks(materialized):
    root, run_id = materialized
    at = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)
    with project_store(assetflow.load(root)) as store:
        store.claim_tick(
            TickRecord(
                "schedule:nightly", at, at, "started", run_id=run_id, partition_keys=("2026-03-01",)
            )
        )
        later = datetime(2026, 3, 2, 2, 5, tzinfo=UTC)
        failed = TickRecord(
            "sensor:new_refund_files", later, later, "failed", reason="it raised <OSError>"
        )
        store.save_sensor_evaluation("sensor:new_refund_files", None, [failed])
    with serving(root) as url:
        status, body = get_json(url + "/api/schedules")
        page_status, page = get(url + "/schedules")
    assert status == 200
    assert body["version"] == 1
    (nightly,) = body["schedules"]
    assert nightly["schedule"] == "nightly"
    assert nightly["state"] == "on"
    assert nightly["next_utc"].endswith("Z")
    assert nightly["next_local"].endswith(("+01:00", "+02:00"))  # Europe/Berlin
    assert nightly["last_tick"]["run_id"] == run_id
    assert nightly["last_tick"]["run_status"] == "success"
    assert [s["sensor"] for s in body["sensors"]] == ["new_refund_files"]
    assert body["sensors"][0]["last_tick"]["status"] == "failed"
    assert body["sensors"][0]["last_tick"]["evaluated_utc"] == "2026-03-02T02:05:00Z"
    assert [t["origin"] for t in body["ticks"]] == ["sensor:new_refund_files", "schedule:nightly"]
    assert page_status == 200
    assert 'id="schedule-nightly" data-state="on"' in page
    assert f'href="/runs/{run_id}"' in page
    assert "new_refund_files" in page
    assert "it raised &lt;OSError&gt;" in page
    assert 'action="/schedules/nightly/pause"' in page


def test_pause_then_resume_as_the_cli_does(example_copy):
    browser = Browser()
    with serving(example_copy) as url:
        _, _, page = browser.open(url + "/schedules")
        status, landed, page = browser.open(
            url + "/schedules/nightly/pause", {"csrf": csrf_of(page)}
        )
        assert status == 200  # after the 303 back to the page
        assert landed == url + "/schedules"
        assert 'data-state="paused"' in page
        assert 'action="/schedules/nightly/resume"' in page
        assert cli_schedules(example_copy)["nightly"]["paused"] is True
        _, body = get_json(url + "/api/schedules")
        assert body["schedules"][0]["state"] == "paused"
        status, _, page = browser.open(url + "/schedules/nightly/resume", {"csrf": csrf_of(page)})
        assert status == 200
        assert 'data-state="on"' in page
    assert cli_schedules(example_copy)["nightly"]["paused"] is False


def test_the_redirect_is_a_303_to_the_page(example_copy):
    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args, **kwargs):
            return None

    cookies = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(NoRedirect, urllib.request.HTTPCookieProcessor(cookies))
    with serving(example_copy) as url:
        with opener.open(url + "/schedules", timeout=30) as answer:
            page = answer.read().decode()
        data = urllib.parse.urlencode({"csrf": csrf_of(page)}).encode()
        with pytest.raises(urllib.error.HTTPError) as caught:
            opener.open(url + "/schedules/nightly/pause", data=data, timeout=30)
    assert caught.value.code == 303
    assert caught.value.headers["Location"] == "/schedules"


def test_an_unknown_schedule_is_a_404(example_copy):
    browser = Browser()
    with serving(example_copy) as url:
        _, _, page = browser.open(url + "/schedules")
        status, _, text = browser.open(url + "/schedules/nighty/pause", {"csrf": csrf_of(page)})
    assert status == 404
    assert "no schedule is named &#39;nighty&#39;" in text
    assert cli_schedules(example_copy)["nightly"]["paused"] is False


def test_pausing_without_the_csrf_token_is_refused(example_copy):
    with serving(example_copy) as url:
        request = urllib.request.Request(url + "/schedules/nightly/pause", data=b"", method="POST")
        with pytest.raises(urllib.error.HTTPError) as caught:
            urllib.request.urlopen(request, timeout=30)
    assert caught.value.code == 403
    assert cli_schedules(example_copy)["nightly"]["paused"] is False


NONE = """
    from assetflow import asset

    @asset
    def only() -> dict:
        return {"n": 1}
"""


def test_a_project_without_schedules(make_project):
    root = make_project(NONE)
    with serving(root) as url:
        _, body = get_json(url + "/api/schedules")
        _, page = get(url + "/schedules")
    assert body["schedules"] == []
    assert body["sensors"] == []
    assert body["ticks"] == []
    assert "The project has no schedules" in page
    assert "No sensors" in page
