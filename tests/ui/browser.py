"""A real headless Chromium driven through selenium, for the UI's tests.

Debian's `chromium` and `chromium-driver` (.ci/run installs them). The flags keep
Chromium off the network (this machine's is closed) and out of the user's profile.
Screenshots go to `build/ui-screenshots/` (or $ASSETFLOW_UI_SCREENSHOTS); docs/ui.md
shows copies of them.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from selenium import webdriver
from selenium.webdriver.chrome.service import Service

REPOSITORY = Path(__file__).resolve().parents[2]
#: Where the test run writes its screenshots of the main pages.
SCREENSHOTS = Path(
    os.environ.get("ASSETFLOW_UI_SCREENSHOTS", REPOSITORY / "build" / "ui-screenshots")
)

_FLAGS = (
    "--headless=new",
    "--no-sandbox",  # as root, Chromium's sandbox cannot start
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--window-size=1400,900",
)


def chromium_paths() -> tuple[str, str]:
    """The browser and its driver; a clear failure when they are missing."""
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    driver = shutil.which("chromedriver")
    missing = "the UI tests need Debian's chromium and chromium-driver: apt-get install "
    missing += "chromium chromium-driver (.ci/run installs them)"
    assert browser, missing
    assert driver, missing
    return browser, driver


@contextmanager
def chromium() -> Iterator[webdriver.Chrome]:
    """A headless Chromium with a fresh profile, closed after the block."""
    browser, driver = chromium_paths()
    profile = tempfile.mkdtemp(prefix="assetflow-ui-profile-")
    options = webdriver.ChromeOptions()
    options.binary_location = browser
    for flag in _FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={profile}")
    session = webdriver.Chrome(options=options, service=Service(executable_path=driver))
    session.set_page_load_timeout(30)
    try:
        yield session
    finally:
        session.quit()
        shutil.rmtree(profile, ignore_errors=True)


def screenshot(session: webdriver.Chrome, name: str) -> Path:
    """Save the page as build/ui-screenshots/NAME.png."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    session.save_screenshot(str(path))
    return path
