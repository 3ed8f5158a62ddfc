"""Helpers for end-to-end tests that run assetflow as real processes."""

from __future__ import annotations

import sys
import time
from pathlib import Path


def assetflow(root: Path, *args: str) -> list[str]:
    """The command line of `assetflow --project ROOT ARGS...` in this interpreter."""
    return [sys.executable, "-m", "assetflow.cli", "--project", str(root), *args]


def wait_for(path: Path, timeout: float = 30) -> None:
    """Wait until a file appears (an asset touches it to say it has started)."""
    deadline = time.monotonic() + timeout
    while not path.exists():
        assert time.monotonic() < deadline, f"{path.name} never appeared"
        time.sleep(0.02)
