"""RunContext: what an asset asking for `context` receives, and the one tests build by hand."""

from __future__ import annotations

import dataclasses
import logging
from pathlib import Path

import pytest

from assetflow import RunContext, asset


def test_for_test_defaults():
    context = RunContext.for_test()
    assert context.run_id == "test"
    assert context.asset == "test"
    assert context.project_dir is None
    assert context.log.name == "assetflow.asset.test"


def test_for_test_names_the_asset_and_project(tmp_path):
    context = RunContext.for_test("clean_records", project_dir=tmp_path)
    assert context.asset == "clean_records"
    assert context.project_dir == tmp_path
    assert isinstance(context.log, logging.Logger)
    assert context.log.name == "assetflow.asset.clean_records"


def test_default_logger_when_built_directly():
    context = RunContext(run_id="r1", asset="a")
    assert context.log.name == "assetflow.asset"
    assert context.project_dir is None


def test_is_frozen():
    context = RunContext.for_test()
    with pytest.raises(dataclasses.FrozenInstanceError):
        context.run_id = "other"  # type: ignore[misc]


def test_an_asset_taking_context_is_called_with_one(tmp_path, caplog):
    @asset
    def greeting(context: RunContext) -> dict:
        context.log.info("building %s", context.asset)
        return {"asset": context.asset, "dir": Path(context.project_dir).name}

    with caplog.at_level(logging.INFO, logger="assetflow.asset"):
        value = greeting(context=RunContext.for_test("greeting", project_dir=tmp_path))
    assert value == {"asset": "greeting", "dir": tmp_path.name}
    assert "building greeting" in caplog.text
