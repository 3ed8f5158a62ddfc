"""Projects with an OpenLineage table, and runs of them with the project's lineage."""

from __future__ import annotations

from pathlib import Path

import assetflow
from assetflow.execution.results import RunResult
from assetflow.openlineage.listener import LineageRecorder
from assetflow.openlineage.setup import lineage_recorder
from assetflow.request import RunRequest
from assetflow.services.running import materialize
from assetflow.services.stores import project_store

BASE = '[tool.assetflow]\nmodules = ["assets"]\nexecutor = "inprocess"\n'

#: raw -> clean (a table); broken fails, so after_broken is blocked.
ASSETS = """
import os
import pandas as pd
from assetflow import asset

@asset
def raw() -> pd.DataFrame:
    return pd.DataFrame({"id": [1, 2, 3], "amount": [1.5, 2.5, 3.5]})

@asset
def clean(raw: pd.DataFrame) -> pd.DataFrame:
    return raw[raw.amount > 2]

@asset
def broken() -> dict:
    if os.environ.get("BREAK"):
        raise ValueError("the API answered 503")
    return {"ok": True}

@asset
def after_broken(broken: dict) -> dict:
    return broken
"""


def http_config(url: str, **settings: str) -> str:
    lines = ["[tool.assetflow.openlineage]", 'transport = "http"', f'url = "{url}"']
    lines += ['namespace = "shop"']
    lines += [f"{key} = {value}" for key, value in settings.items()]
    return BASE + "\n".join(lines) + "\n"


def run(
    root: Path, selection: str = "*", *, force: bool = False
) -> tuple[RunResult, LineageRecorder]:
    """Materialize with the project's lineage recorder, as the CLI does."""
    project = assetflow.load(root)
    recorder = lineage_recorder(project, open_store=lambda: project_store(project))
    assert recorder is not None
    result = materialize(
        project,
        RunRequest(selection=selection, executor="inprocess", force=force),
        listeners=[recorder],
    )
    return result, recorder
