"""The UI as a user meets it, in a real headless Chromium on a real server: the example
project after a run with one failure, an asset opened from the lineage, a run launched
from the page, escaping, and the token. Screenshots of the main pages are written to
build/ui-screenshots/ (docs/ui.md shows copies of them)."""

from __future__ import annotations

import json

from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

import assetflow
from tests.ui.browser import chromium, screenshot
from tests.ui.serving import get_json, serving

#: The stylesheet's colours (app.css) as the browser computes them.
GREEN = "rgb(46, 157, 87)"
RED = "rgb(210, 66, 59)"
GREY = "rgb(185, 188, 199)"
WHITE = "rgb(255, 255, 255)"


def break_one_partition(root) -> None:
    """Make raw_records fail for 2026-03-05 only (the example's API "answers 503")."""
    assets = root / "assets.py"
    text = assets.read_text()
    text = text.replace(
        '    payload = json.loads(api_response.read_text(encoding="utf-8"))',
        '    if context.partition_key == "2026-03-05" and (HERE / "outage").exists():\n'
        '        raise ConnectionError("orders API answered 503")\n'
        '    payload = json.loads(api_response.read_text(encoding="utf-8"))',
    )
    if "HERE =" not in text:
        text = text.replace("Summary = dict", "HERE = Path(__file__).parent\n\nSummary = dict", 1)
    assets.write_text(text)
    (root / "outage").write_text("on")


def node_fill(browser, name: str) -> str:
    node = browser.find_element(By.CSS_SELECTOR, f'g.node[data-name="{name}"] rect')
    return node.value_of_css_property("fill")


def test_the_example_after_a_failure_then_a_launch_from_the_page(example_copy):
    break_one_partition(example_copy)
    result = assetflow.materialize("*", project=example_copy, executor="inprocess")
    assert not result.success
    names = sorted(assetflow.load(example_copy).graph.names)
    with serving(example_copy) as url, chromium() as browser:
        browser.get(url + "/")
        drawn = {
            node.get_attribute("data-name"): node.get_attribute("data-state")
            for node in browser.find_elements(By.CSS_SELECTOR, "g.node")
        }
        assert sorted(drawn) == names
        # raw_records failed for one day; what reads that day never materialized.
        assert drawn["raw_records"] == "failed"
        assert drawn["api_response"] == "source"
        assert drawn["clean_records"] == "missing"
        assert node_fill(browser, "raw_records") == RED
        assert node_fill(browser, "clean_records") == GREY
        assert node_fill(browser, "api_response") == WHITE
        screenshot(browser, "lineage")

        # A click on a node opens its asset page.
        browser.find_element(By.CSS_SELECTOR, 'g.node[data-name="clean_records"] a').click()
        WebDriverWait(browser, 10).until(lambda b: b.current_url.endswith("/assets/clean_records"))
        assert "clean_records" in browser.find_element(By.TAG_NAME, "h1").text
        screenshot(browser, "asset")

        # The outage is over: materialize what the search selects, from the page.
        (example_copy / "outage").unlink()
        browser.get(url + "/")
        search = browser.find_element(By.ID, "search-box")
        search.clear()
        search.send_keys("raw_records+")
        search.submit()
        WebDriverWait(browser, 10).until(
            lambda b: b.find_element(By.ID, "materialize").is_enabled()
        )
        browser.find_element(By.ID, "materialize").click()
        WebDriverWait(browser, 10).until(lambda b: "/runs/" in b.current_url)
        run_id = browser.current_url.rsplit("/", 1)[1]
        WebDriverWait(browser, 120).until(
            lambda b: b.find_element(By.ID, "run-status").text == "success"
        )
        screenshot(browser, "run")
        browser.get(url + "/runs")
        rows = browser.find_elements(By.CSS_SELECTOR, "table tr")
        mine = [row.text for row in rows if run_id[:8] in row.text]
        assert mine
        assert "success" in mine[0]
        assert "ui" in mine[0]
        screenshot(browser, "runs")
        for page in ("schedules", "incidents"):
            browser.get(f"{url}/{page}")
            screenshot(browser, page)
        status, graph = get_json(url + "/api/assets")
        assert status == 200
        assert {a["name"]: a["state"] for a in graph["assets"]}["raw_records"] == "fresh"
        browser.get(url + "/")
        assert node_fill(browser, "raw_records") == GREEN
        screenshot(browser, "lineage-after")


HOSTILE = """
    import pandas as pd
    from assetflow import asset

    @asset(group="<script>window.pwned=1</script>")
    def hostile() -> pd.DataFrame:
        '''<img src=x onerror="window.pwned=2"> and <script>window.pwned=3</script>'''
        return pd.DataFrame({"cell": ["<script>window.pwned=4</script>"]})
"""


def test_script_in_names_descriptions_and_data_stays_text(make_project):
    root = make_project(HOSTILE)
    assert assetflow.materialize("*", project=root, executor="inprocess").success
    with serving(root) as url, chromium() as browser:
        for path in ("/", "/assets/hostile", "/api/assets/hostile"):
            browser.get(url + path)
            assert browser.execute_script("return window.pwned === undefined")
        browser.get(url + "/assets/hostile")
        body = browser.find_element(By.TAG_NAME, "body").text
        assert "<script>window.pwned=4</script>" in body  # shown as text
        assert not browser.find_elements(By.CSS_SELECTOR, "main img")


def test_a_token_server_asks_the_browser_to_log_in(make_project):
    root = make_project(HOSTILE)
    token = "a-long-enough-test-token"
    with serving(root, token=token) as url, chromium() as browser:
        browser.get(url + "/")
        assert browser.current_url.endswith("/login")
        field = browser.find_element(By.NAME, "token")
        field.send_keys("wrong-token-of-some-length")
        field.submit()
        assert "wrong token" in browser.find_element(By.TAG_NAME, "body").text
        field = browser.find_element(By.NAME, "token")
        field.send_keys(token)
        field.submit()
        WebDriverWait(browser, 10).until(lambda b: b.find_elements(By.CSS_SELECTOR, "g.node"))
        browser.get(url + "/api/assets")
        body = json.loads(browser.find_element(By.TAG_NAME, "body").text)
        assert [a["name"] for a in body["assets"]] == ["hostile"]


def test_the_asset_page_launches_its_partition(example_copy):
    assert assetflow.materialize("*", project=example_copy, executor="inprocess").success
    with serving(example_copy) as url, chromium() as browser:
        browser.get(url + "/assets/raw_records?partition=2026-03-05")
        browser.find_element(By.CSS_SELECTOR, "#launch summary").click()
        form = browser.find_element(By.CSS_SELECTOR, "#launch form")
        assert form.find_element(By.NAME, "partition").get_attribute("value") == "2026-03-05"
        form.find_element(By.NAME, "force").click()
        form.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
        WebDriverWait(browser, 10).until(lambda b: "/runs/" in b.current_url)
        WebDriverWait(browser, 120).until(
            lambda b: b.find_element(By.ID, "run-status").text == "success"
        )
        run_id = browser.current_url.rsplit("/", 1)[1]
        status, run = get_json(f"{url}/api/runs/{run_id}")
    assert status == 200
    steps = {(s["asset"], s["partition"]) for s in run["steps"]}
    assert steps == {("raw_records", "2026-03-05")}
    assert run["run"]["trigger"] == "ui"
