"""Fixtures for testing the example project's assets as plain functions."""

import importlib
import sys
from pathlib import Path
from types import ModuleType

import pytest

PROJECT_DIR = Path(__file__).resolve().parents[1]
#: The project's own top-level modules; assetflow imports them by these names too.
PROJECT_MODULES = ("assets", "cleaning", "refunds")


def _import(name: str) -> ModuleType:
    """One of the project's modules, imported the way assetflow imports it.

    sys.path and sys.modules are left as they were found, so that tests which
    load a copy of the project elsewhere do not get this one from the cache.
    """
    saved = {name: sys.modules.pop(name) for name in PROJECT_MODULES if name in sys.modules}
    sys.path.insert(0, str(PROJECT_DIR))
    try:
        return importlib.import_module(name)
    finally:
        sys.path.remove(str(PROJECT_DIR))
        for name in PROJECT_MODULES:
            sys.modules.pop(name, None)
        sys.modules.update(saved)


@pytest.fixture(scope="session")
def assets() -> ModuleType:
    """The example project's `assets` module."""
    return _import("assets")


@pytest.fixture(scope="session")
def refunds() -> ModuleType:
    """The example project's `refunds` module."""
    return _import("refunds")
