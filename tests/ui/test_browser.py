"""The UI in a real headless Chromium: pages render, links work, nothing runs that
should not (the pages' JavaScript is the package's own, under a strict CSP)."""

from __future__ import annotations

from selenium.webdriver.common.by import By

from tests.ui.browser import chromium, screenshot
from tests.ui.serving import serving

ONE = """
    from assetflow import asset

    @asset
    def only() -> dict:
        return {"n": 1}
"""


def test_the_browser_renders_a_page_of_the_ui(make_project):
    root = make_project(ONE)
    with serving(root) as url, chromium() as browser:
        browser.get(url + "/nowhere")
        assert "Not found" in browser.find_element(By.TAG_NAME, "h1").text
        assert browser.find_element(By.CSS_SELECTOR, "header .brand").text == "assetflow"
        assert screenshot(browser, "not-found").exists()
