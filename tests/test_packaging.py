"""Packaging: the license, the type marker and `python -m assetflow` are what pyproject says."""

from __future__ import annotations

import os
import subprocess
import sys
import tomllib
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def pyproject() -> dict:
    return tomllib.loads((REPO / "pyproject.toml").read_text())


def test_the_license_file_is_the_license_pyproject_names():
    assert pyproject()["project"]["license"] == {"text": "Apache-2.0"}
    text = (REPO / "LICENSE").read_text()
    assert "Apache License\n                           Version 2.0, January 2004" in text
    assert "END OF TERMS AND CONDITIONS" in text
    assert "APPENDIX: How to apply the Apache License to your work." in text


def test_the_py_typed_marker_is_shipped():
    assert (REPO / "assetflow" / "py.typed").is_file()
    assert "py.typed" in pyproject()["tool"]["setuptools"]["package-data"]["assetflow"]


def test_pandas_2_2_is_the_oldest_supported():
    assert "pandas>=2.2" in pyproject()["project"]["dependencies"]
    markers = pyproject()["tool"]["pytest"]["ini_options"]["markers"]
    assert any(marker.startswith("oldest_pandas:") for marker in markers)
    assert "pandas==$OLDEST_PANDAS" in (REPO / ".ci" / "run").read_text()


def test_python_dash_m_assetflow_is_the_cli(tmp_path):
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    result = subprocess.run(
        [sys.executable, "-m", "assetflow", "--help"],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("Usage: assetflow [OPTIONS] COMMAND")
    assert "materialize" in result.stdout
    version = subprocess.run(
        [sys.executable, "-m", "assetflow", "--version"],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        check=False,
    )
    assert version.returncode == 0
    assert "0.1.0" in version.stdout
