"""The lineage page and its JSON twins, through a real server on 127.0.0.1."""

from __future__ import annotations

import shutil
import urllib.parse
from datetime import UTC, datetime, timedelta

import pytest
from markupsafe import escape

from assetflow import api
from assetflow.errors import SelectionError
from assetflow.request import PartitionRequest, RunRequest
from assetflow.services import history
from assetflow.services.planning import select
from assetflow.store.records import Lease
from assetflow.ui.pages import lineage
from tests.ui.serving import get, get_json, serving

PROJECT = """
    from assetflow import DailyPartitions, asset

    @asset(group="<script>alert(1)</script>",
           description="<script>alert('d')</script> & more")
    def sneaky() -> dict:
        return {"n": 1}

    @asset(group="ingest")
    def good() -> dict:
        return {"n": 1}

    @asset(group="ingest")
    def broken(good: dict) -> dict:
        raise RuntimeError("boom")

    @asset(group="reporting")
    def after(broken: dict) -> dict:
        return broken

    @asset(group="reporting")
    def report(good: dict) -> dict:
        return good

    @asset(partitions=DailyPartitions(start="2026-01-01", end="2026-01-05"))
    def daily() -> dict:
        return {"n": 1}
"""

EXPECTED = {
    "sneaky": "fresh",
    "good": "fresh",
    "broken": "failed",
    "after": "missing",
    "report": "fresh",
    "daily": "missing",
}


@pytest.fixture
def root(make_project):
    root = make_project(PROJECT)
    project = api.load(root)
    api.materialize("*", project=project, exclude="daily")  # broken fails
    api.materialize("daily", project=project, partitions=PartitionRequest.one("2026-01-02"))
    return root


def test_the_page_draws_every_asset_coloured_by_its_state_with_a_link(root):
    with serving(root) as url:
        status, text = get(url + "/")
    assert status == 200
    for name, state in EXPECTED.items():
        assert f'<g class="node {state}" data-name="{name}"' in text
        assert f'href="/assets/{name}"' in text
    assert text.count('class="node ') == len(EXPECTED)
    assert '<polyline class="edge" data-source="good" data-target="broken"' in text
    assert 'id="materialize" data-selection=""' in text
    assert "/static/lineage.js" in text
    for state in lineage.LEGEND:
        assert f'class="swatch {state}"' in text
    assert 'href="/?select=group%3Areporting"' in text


def test_names_descriptions_and_groups_are_escaped(root):
    with serving(root) as url:
        status, text = get(url + "/")
        _, graph = get_json(url + "/api/graph")
    assert status == 200
    assert "<script>alert" not in text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in text
    assert "&lt;script&gt;alert(&#39;d&#39;)&lt;/script&gt; &amp; more" in text
    assert {node["group"] for node in graph["nodes"]} >= {"<script>alert(1)</script>"}


def test_api_assets_says_each_state_and_partition_counts(root):
    with serving(root) as url:
        status, body = get_json(url + "/api/assets")
    assert status == 200
    assert body["version"] == 1
    found = {asset["name"]: asset for asset in body["assets"]}
    assert {name: asset["state"] for name, asset in found.items()} == EXPECTED
    assert found["daily"]["partitions"] == {"fresh": 1, "missing": 3}
    assert "partitions" not in found["good"]
    assert found["broken"]["group"] == "ingest"


def test_api_graph_has_boxes_edges_and_groups_left_to_right(root):
    with serving(root) as url:
        status, body = get_json(url + "/api/graph")
        _, part = get_json(url + "/api/graph?select=" + urllib.parse.quote("good+"))
    assert status == 200
    nodes = {node["name"]: node for node in body["nodes"]}
    assert set(nodes) == set(EXPECTED)
    assert nodes["broken"]["state"] == "failed"
    assert {"x", "y", "w", "h", "group"} <= set(nodes["good"])
    edges = {(edge["source"], edge["target"]) for edge in body["edges"]}
    assert edges == {("good", "broken"), ("broken", "after"), ("good", "report")}
    for source, target in edges:
        assert nodes[source]["x"] + nodes[source]["w"] < nodes[target]["x"]
    assert {group["name"] for group in body["groups"]} == {
        "<script>alert(1)</script>",
        "ingest",
        "reporting",
        "default",
    }
    assert {node["name"] for node in part["nodes"]} == {"good", "broken", "after", "report"}
    assert {(edge["source"], edge["target"]) for edge in part["edges"]} == edges


def test_api_select_answers_what_list_selects(root):
    project = api.load(root)
    with serving(root) as url:
        status, body = get_json(url + "/api/select?q=" + urllib.parse.quote("good+"))
        _, everything = get_json(url + "/api/select?q=")
    assert status == 200
    assert body["names"] == ["after", "broken", "good", "report"]
    assert everything["names"] == sorted(project.graph.names)


def _cli_message(project, query):
    with pytest.raises(SelectionError) as raised:
        select(project, query)
    return raised.value.format_message()


def test_a_malformed_selection_is_the_clis_caret_message(root):
    project = api.load(root)
    with serving(root) as url:
        status, body = get_json(url + "/api/select?q=" + urllib.parse.quote("good++("))
        page_status, text = get(url + "/?select=" + urllib.parse.quote("goood"))
        graph_status, graph = get_json(url + "/api/graph?select=goood")
    assert status == 400
    assert body["error"] == _cli_message(project, "good++(")
    assert "found '+'" in body["error"]
    assert "\n    good++(\n         ^" in body["error"]
    assert page_status == 400
    unknown = _cli_message(project, "goood")
    assert "no asset is named 'goood'" in unknown
    assert "good" in unknown
    assert str(escape(unknown)) in text
    assert 'id="materialize" data-selection=""' in text  # nothing to launch
    assert graph_status == 400
    assert graph["error"] == unknown


def test_a_selection_on_the_page_draws_only_what_it_selects(root):
    with serving(root) as url:
        status, text = get(url + "/?select=" + urllib.parse.quote("group:reporting"))
    assert status == 200
    assert text.count('class="node ') == 2
    assert 'data-selection="group:reporting"' in text


def test_past_the_limit_the_page_asks_for_a_selection(root, monkeypatch):
    monkeypatch.setattr(lineage, "LARGE", 3)
    with serving(root) as url:
        status, text = get(url + "/")
        _, chosen = get(url + "/?select=good")
    assert status == 200
    assert 'id="too-large"' in text
    assert "6 assets" in text
    assert 'class="node ' not in text
    assert 'id="search-box"' in text
    assert 'href="/?select=group%3Aingest"' in text
    assert chosen.count('class="node ') == 1


def test_a_live_lease_is_running_and_a_partition_shows_the_worst_state(root):
    project = api.load(root)
    rows = history.status(project, RunRequest())
    now = datetime.now(UTC)

    def lease(asset, partition, expires):
        return Lease(asset, partition, "r1", 1, "host", now, now + expires)

    held = [
        lease("good", None, timedelta(minutes=5)),
        lease("daily", "2026-01-03", timedelta(minutes=5)),
        lease("report", None, timedelta(minutes=-1)),  # expired: not running
    ]
    states = lineage.asset_states(project, rows, held, now)
    assert states["good"].state == "running"
    assert states["report"].state == "fresh"
    assert states["daily"].state == "running"
    assert states["daily"].partitions == {"fresh": 1, "missing": 2, "running": 1}
    assert states["broken"].state == "failed"


def test_worst_follows_the_order_of_severity():
    assert lineage.worst(["fresh", "stale", "missing"]) == "missing"
    assert lineage.worst(["overdue", "missing"]) == "overdue"
    assert lineage.worst(["running", "overdue"]) == "running"
    assert lineage.worst(["failed", "running"]) == "failed"
    assert lineage.worst(["waiting", "fresh"]) == "waiting"
    assert lineage.worst([]) == "missing"


@pytest.fixture
def browser():
    """Headless chromium through selenium (the system's browser and driver)."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    for flag in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage"):
        options.add_argument(flag)
    options.add_argument("--window-size=1400,900")
    # The system's driver, named outright: selenium would otherwise look one up online.
    driver = webdriver.Chrome(options=options, service=Service(shutil.which("chromedriver")))
    try:
        yield driver
    finally:
        driver.quit()


def test_in_a_browser_search_highlights_zoom_pans_and_a_click_opens(root, browser):
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support.ui import WebDriverWait

    def names(css):
        found = browser.find_elements(By.CSS_SELECTOR, css)
        return {node.get_attribute("data-name") for node in found}

    with serving(root) as url:
        browser.get(url + "/")
        assert names("#lineage .node") == set(EXPECTED)
        failed = browser.find_element(By.CSS_SELECTOR, '.node[data-name="broken"] rect')
        fill = failed.value_of_css_property("fill")
        assert fill == "rgb(210, 66, 59)"  # --failed

        search = browser.find_element(By.ID, "search-box")
        search.send_keys("good+", Keys.ENTER)
        WebDriverWait(browser, 10).until(lambda _: names(".node.hit"))
        assert names(".node.hit") == {"good", "broken", "after", "report"}
        assert names(".node.dim") == {"sneaky", "daily"}
        launch = browser.find_element(By.ID, "materialize")
        assert launch.get_attribute("data-selection") == "good+"
        assert launch.is_enabled()

        search.clear()
        search.send_keys("good++(", Keys.ENTER)
        error = browser.find_element(By.ID, "search-error")
        WebDriverWait(browser, 10).until(lambda _: error.is_displayed())
        assert "found '+'" in error.text

        svg = browser.find_element(By.ID, "lineage")
        before = svg.get_dom_attribute("viewBox")
        browser.find_element(By.ID, "zoom-in").click()
        zoomed = svg.get_dom_attribute("viewBox")
        assert float(zoomed.split()[2]) < float(before.split()[2])
        browser.execute_script(
            "arguments[0].dispatchEvent(new WheelEvent('wheel',"
            " {deltaY: 100, clientX: 300, clientY: 300, bubbles: true, cancelable: true}))",
            svg,
        )
        assert float(svg.get_dom_attribute("viewBox").split()[2]) > float(zoomed.split()[2])

        panned_from = svg.get_dom_attribute("viewBox").split()
        drag = ActionChains(browser).move_to_element_with_offset(svg, 0, 60)
        drag.click_and_hold().move_by_offset(-120, -40).release().perform()
        panned_to = svg.get_dom_attribute("viewBox").split()
        assert float(panned_to[0]) > float(panned_from[0])
        assert panned_to[2] == panned_from[2]
        assert browser.current_url == url + "/"

        browser.find_element(By.ID, "zoom-fit").click()
        browser.find_element(By.CSS_SELECTOR, '.node[data-name="good"] a').click()
        WebDriverWait(browser, 10).until(lambda _: "/assets/" in browser.current_url)
        assert browser.current_url == url + "/assets/good"
