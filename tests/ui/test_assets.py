"""The asset page and its JSON twin, served for real, after a real materialization."""

from __future__ import annotations

import html
import re
import shutil
from datetime import UTC, datetime
from pathlib import Path

import pytest

import assetflow
from assetflow.partitions import DailyPartitions
from assetflow.request import PartitionRequest
from assetflow.ui.pages.assets import PartitionRange, partition_ranges, type_text
from tests.conftest import EXAMPLE_PROJECT
from tests.ui.serving import get, get_json, serving


@pytest.fixture(scope="module")
def materialized(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The example project after `materialize '*'`, run in this process."""
    root = tmp_path_factory.mktemp("assets") / "example_project"
    shutil.copytree(
        EXAMPLE_PROJECT, root, ignore=shutil.ignore_patterns(".assetflow", "__pycache__")
    )
    result = assetflow.materialize("*", project=root, executor="inprocess")
    assert result.success, result
    return root


def test_the_asset_page_of_a_partitioned_duckdb_asset(materialized):
    with serving(materialized) as url:
        status, body = get_json(url + "/api/assets/clean_records")
        status_page, text = get(url + "/assets/clean_records")
    assert status == 200
    asset = body["asset"]
    assert asset["name"] == "clean_records"
    assert asset["kind"] == "duckdb"
    assert asset["state"] == "fresh"
    assert asset["upstream"] == ["raw_records"]
    assert set(asset["downstream"]) >= {"daily_totals", "top_customers", "rolling_revenue"}
    assert "Order" in asset["returns"]
    assert {"name": "customer_email"} in [{"name": c["name"]} for c in asset["schema"]]
    assert asset["code_version"]
    assert asset["code_version"] == asset["last_code_version"]
    # 28 daily partitions, all fresh: one range, never one element per partition.
    ranges = asset["partitions"]["ranges"]
    assert ranges == [{"first": "2026-03-01", "last": "2026-03-28", "count": 28, "state": "fresh"}]
    assert asset["partitions"]["count"] == 28
    assert asset["history"]
    assert asset["history"][0]["rows"] is not None
    assert {"run_id", "bytes", "duration_s", "data_version"} <= set(asset["history"][0])
    assert {c["check"] for c in asset["checks"]}
    assert all(c["passed"] for c in asset["checks"])
    assert asset["why"] is None
    preview = asset["preview"]
    assert preview["partition"] == "2026-03-28"  # the newest partition
    assert 0 < len(preview["rows"]) <= 100
    # The page: facts, links, the grid's ranges, history with run links, the preview.
    assert status_page == 200
    assert 'href="/assets/raw_records"' in text
    assert 'id="partition-ranges"' in text
    assert '"count": 28' in text
    assert f'href="/runs/{asset["history"][0]["run_id"]}"' in text
    assert text.count("<tr>", text.index("preview-table")) == len(preview["rows"]) + 1


def test_a_partition_is_picked_with_the_query(materialized):
    with serving(materialized) as url:
        status, body = get_json(url + "/api/assets/clean_records?partition=2026-03-05")
        missing, text = get(url + "/assets/clean_records?partition=1999-01-01")
    assert status == 200
    assert body["asset"]["preview"]["partition"] == "2026-03-05"
    assert body["asset"]["partition"] == "2026-03-05"
    assert [m["partition"] for m in body["asset"]["history"]] == ["2026-03-05"]
    assert missing == 404
    assert "no partition of asset &#39;clean_records&#39; is named &#39;1999-01-01&#39;" in text


def test_an_unpartitioned_asset_with_its_history_and_preview(materialized):
    with serving(materialized) as url:
        status, body = get_json(url + "/api/assets/daily_totals")
        _, text = get(url + "/assets/daily_totals")
    asset = body["asset"]
    assert status == 200
    assert asset["partitioned"] is False
    assert asset["partitions"] is None
    assert asset["state"] == "fresh"
    assert asset["upstream"] == ["clean_records"]
    assert len(asset["history"]) == 1
    preview = asset["preview"]
    assert preview["columns"]
    assert len(preview["rows"]) <= 100
    assert "partition-grid" not in text
    assert asset["freshness"] is None
    assert "no freshness or deadline policy" in text
    assert "preview-table" in text


def test_a_stale_asset_shows_why_and_the_code_diff(materialized, tmp_path):
    root = tmp_path / "edited"
    shutil.copytree(materialized, root, ignore=shutil.ignore_patterns("__pycache__"))
    source = root / "assets.py"
    text = source.read_text()
    edited = text.replace("TOP_CUSTOMERS = 10", "TOP_CUSTOMERS = 11")
    assert edited != text
    source.write_text(edited)
    with serving(root) as url:
        status, body = get_json(url + "/api/assets/top_customers")
        _, page = get(url + "/assets/top_customers")
    asset = body["asset"]
    assert status == 200
    assert asset["state"] == "stale"
    assert asset["code_version"] != asset["last_code_version"]
    why = asset["why"]
    assert why["asset"] == "top_customers"
    assert any(item["code_diff"] for item in why["explained"])
    assert "TOP_CUSTOMERS = 11" in page
    assert "Why it is stale" in page


def test_an_unknown_asset_is_a_404_with_did_you_mean(materialized):
    with serving(materialized) as url:
        status, text = get(url + "/assets/clean_record")
        api_status, body = get_json(url + "/api/assets/clean_record")
    assert status == 404
    assert "no asset is named &#39;clean_record&#39;" in text
    assert 'href="/assets/clean_records"' in text
    assert api_status == 404
    assert body["suggestions"][0] == "clean_records"


@pytest.mark.parametrize(
    "path",
    [
        "/assets/..%2F..%2Fpyproject.toml",
        "/assets/%2e%2e",
        "/api/assets/clean_records?partition=..%2F..%2Fwarehouse.duckdb",
        "/api/assets/clean_records?partition=%2e%2e%2F2026-03-01",
    ],
)
def test_paths_in_urls_reach_no_file(materialized, path):
    with serving(materialized) as url:
        status, text = get(url + path)
    assert status == 404
    assert "tool.assetflow" not in text


XSS = '''
    import pandas as pd
    from assetflow import asset

    @asset
    def evil_value() -> dict:
        return {"<i>key</i>": "<script>alert('value')</script>"}

    @asset
    def evil() -> pd.DataFrame:
        """<script>alert('description')</script>"""
        return pd.DataFrame({"<b>col</b>": ["<script>alert('cell')</script>", "a & b"]})
'''


def test_descriptions_and_cells_are_escaped(make_project):
    root = make_project(XSS)
    assetflow.materialize("*", project=root, executor="inprocess")
    with serving(root) as url:
        status, text = get(url + "/assets/evil")
        _, body = get_json(url + "/api/assets/evil")
        _, value_page = get(url + "/assets/evil_value")
    assert status == 200
    assert "<script>alert" not in text
    assert "&lt;script&gt;alert(&#39;description&#39;)&lt;/script&gt;" in text
    assert "&lt;script&gt;alert(&#39;cell&#39;)&lt;/script&gt;" in text
    assert "&lt;b&gt;col&lt;/b&gt;" in text
    assert "a &amp; b" in text
    assert body["asset"]["preview"]["rows"][0]["<b>col</b>"] == "<script>alert('cell')</script>"
    assert "<script>alert" not in value_page
    assert (
        "&#34;&lt;i&gt;key&lt;/i&gt;&#34;: &#34;&lt;script&gt;alert(&#39;value&#39;)" in value_page
    )


TEN_YEARS = """
    import pandas as pd
    from assetflow import DailyPartitions, asset

    @asset(partitions=DailyPartitions(start="2010-01-01", end="2020-01-01"))
    def daily() -> pd.DataFrame:
        return pd.DataFrame({"n": [1]})
"""


def test_ten_years_of_daily_partitions_are_a_handful_of_ranges(make_project):
    root = make_project(TEN_YEARS)
    with serving(root) as url:
        status, body = get_json(url + "/api/assets/daily")
        _, text = get(url + "/assets/daily")
    assert status == 200
    partitions = body["asset"]["partitions"]
    assert partitions["count"] == 3652
    assert partitions["ranges"] == [
        {"first": "2010-01-01", "last": "2019-12-31", "count": 3652, "state": "missing"}
    ]
    # The page carries the ranges, not one element per partition.
    assert len(re.findall("2015-06-0", text)) == 0
    assert "Never materialized" in text


def test_a_materialized_stretch_is_one_range_and_the_rest_another(make_project):
    root = make_project(TEN_YEARS)
    stretch = PartitionRequest("2010-01-01", "2010-02-19")
    result = assetflow.materialize("daily", project=root, executor="inprocess", partitions=stretch)
    assert result.success
    with serving(root) as url:
        _, body = get_json(url + "/api/assets/daily")
        _, text = get(url + "/assets/daily?partition=2010-02-01")
    asset = body["asset"]
    assert asset["partitions"]["ranges"] == [
        {"first": "2010-01-01", "last": "2010-02-19", "count": 50, "state": "fresh"},
        {"first": "2010-02-20", "last": "2019-12-31", "count": 3602, "state": "missing"},
    ]
    assert asset["states"] == {"fresh": 50, "missing": 3602}
    assert asset["state"] == "missing"
    # Why: the first partition that is not fresh.
    assert asset["why"]["partition"] == "2010-02-20"
    assert asset["preview"]["partition"] == "2010-02-19"
    assert "Showing partition <strong>2010-02-01</strong>" in text


def test_a_source_and_an_asset_never_materialized(example_copy):
    with serving(example_copy) as url:
        source_status, source = get_json(url + "/api/assets/api_response")
        status, body = get_json(url + "/api/assets/summary_report")
        page_status, text = get(url + "/assets/summary_report")
    assert source_status == 200
    assert source["asset"]["is_source"] is True
    assert "is a source" in source["asset"]["preview"]["error"]
    assert status == 200
    asset = body["asset"]
    assert asset["state"] == "missing"
    assert asset["history"] == []
    assert asset["schema"] == []
    assert "never been materialized" in asset["preview"]["error"]
    assert asset["why"]["asset"] == "summary_report"
    assert page_status == 200
    assert "Never materialized." in text


LATE = """
    from assetflow import asset

    @asset(freshness="6h", deadline="06:00", timezone="Europe/Berlin")
    def late() -> dict:
        return {"n": 1}

    @asset(freshness="6h")
    def on_time() -> dict:
        return {"n": 1}
"""


def test_freshness_and_deadline_status(make_project):
    root = make_project(LATE)
    assert assetflow.materialize("on_time", project=root, executor="inprocess").success
    with serving(root) as url:
        _, late = get_json(url + "/api/assets/late")
        _, on_time = get_json(url + "/api/assets/on_time")
        _, text = get(url + "/assets/late")
    freshness = late["asset"]["freshness"]
    assert freshness["rules"] == ["freshness 6h", "deadline 06:00 Europe/Berlin"]
    assert freshness["overdue"] is True
    assert "never materialized (freshness 6h)" in [item["text"] for item in freshness["late"]]
    assert on_time["asset"]["freshness"] == {
        "rules": ["freshness 6h"],
        "overdue": False,
        "late": [],
    }
    assert '<span class="state overdue">overdue</span>' in text


def test_partition_ranges_split_on_state_and_gaps():
    days = DailyPartitions(start="2026-01-01", end="2026-01-11")
    keys = days.keys(datetime(2026, 2, 1, tzinfo=UTC))
    states = {key: "fresh" for key in keys}
    states["2026-01-04"] = "failed"
    del states["2026-01-08"]
    found = partition_ranges(days, reversed(list(states.items())))
    assert found == [
        PartitionRange("2026-01-01", "2026-01-03", 3, "fresh"),
        PartitionRange("2026-01-04", "2026-01-04", 1, "failed"),
        PartitionRange("2026-01-05", "2026-01-07", 3, "fresh"),
        PartitionRange("2026-01-09", "2026-01-10", 2, "fresh"),
    ]
    assert partition_ranges(days, []) == []
    assert partition_ranges(days, [("not-a-day", "fresh")]) == []


def test_type_text_drops_module_paths():
    import pandas as pd

    assert type_text(pd.DataFrame) == "DataFrame"
    assert type_text(dict[str, int]) == "dict[str, int]"
    assert type_text(None) == "None"
    assert html.escape(type_text(list[pd.DataFrame])) == "list[DataFrame]"


@pytest.fixture(scope="module")
def browser():
    """Headless Chromium through selenium (the system's chromium and chromium-driver)."""
    from selenium import webdriver
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service

    options = Options()
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu"):
        options.add_argument(argument)
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium:
        options.binary_location = chromium
    driver_path = shutil.which("chromedriver")
    service = Service(driver_path) if driver_path else Service()
    driver = webdriver.Chrome(options=options, service=service)
    driver.set_window_size(1300, 1000)
    yield driver
    driver.quit()


def test_the_browser_draws_the_partition_calendar_and_a_click_opens_a_partition(
    materialized, browser
):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    with serving(materialized) as url:
        browser.get(url + "/assets/clean_records")
        cells = WebDriverWait(browser, 10).until(
            lambda driver: driver.find_elements(By.CSS_SELECTOR, "#partition-grid .cell")
        )
        assert len(cells) == 28
        assert {cell.get_attribute("class") for cell in cells} == {"cell fresh"}
        assert cells[4].get_attribute("title") == "2026-03-05: fresh"
        cells[4].click()
        WebDriverWait(browser, 10).until(lambda driver: "partition=" in driver.current_url)
        assert browser.current_url.endswith("/assets/clean_records?partition=2026-03-05")
        assert "Showing partition 2026-03-05" in browser.find_element(By.TAG_NAME, "main").text
