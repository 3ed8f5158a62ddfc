"""The Content-Security-Policy in a real headless browser: the page's own script file
runs and reads a JSON data block; an inline script and a `style=` attribute do not
apply."""

from __future__ import annotations

import shutil
from collections.abc import Iterator

import pytest
from selenium import webdriver
from selenium.webdriver.chrome.options import Options
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route

from tests.ui.serving import serving

ONE = """
    from assetflow import asset

    @asset
    def only() -> dict:
        return {"n": 1}
"""

PAGE = """<!doctype html>
<html><head><title>untouched</title></head>
<body>
<p id="styled" style="color: rgb(255, 0, 0)">styled</p>
<p id="seen">nothing</p>
<script type="application/json" id="data">{"assets": ["a", "b"], "count": 2}</script>
<script>document.title = "inline script ran";</script>
<script src="/probe.js"></script>
</body></html>
"""
SCRIPT = """
const data = JSON.parse(document.getElementById("data").textContent);
document.getElementById("seen").textContent = data.assets.join(",") + ":" + data.count;
"""


async def _page(request: Request) -> HTMLResponse:
    return HTMLResponse(PAGE)


async def _script(request: Request) -> Response:
    return Response(SCRIPT, media_type="text/javascript")


PROBES = [Route("/probe", _page), Route("/probe.js", _script)]


def _chromium() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    assert found, "the UI's browser tests need chromium and chromium-driver (.ci/run installs them)"
    return found


@pytest.fixture
def browser() -> Iterator[webdriver.Chrome]:
    options = Options()
    options.binary_location = _chromium()
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage"):
        options.add_argument(argument)
    driver_path = shutil.which("chromedriver")
    service = Service(driver_path) if driver_path else Service()
    driver = webdriver.Chrome(options=options, service=service)
    try:
        yield driver
    finally:
        driver.quit()


def test_scripts_from_the_server_run_and_read_json_data_blocks_inline_ones_do_not(
    make_project, browser
):
    root = make_project(ONE)
    with serving(root, routes=PROBES) as url:
        browser.get(url + "/probe")
        WebDriverWait(browser, 10).until(
            lambda driver: driver.find_element(By.ID, "seen").text != "nothing"
        )
        assert browser.find_element(By.ID, "seen").text == "a,b:2"
        assert browser.title == "untouched"
        color = browser.find_element(By.ID, "styled").value_of_css_property("color")
        assert color != "rgba(255, 0, 0, 1)"
