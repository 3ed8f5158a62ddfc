"""Projects with alert destinations, and runs of them, for the alerts' tests."""

from __future__ import annotations

import assetflow
from assetflow.alerts.setup import alerting
from assetflow.request import RunRequest
from assetflow.services.running import materialize
from assetflow.services.stores import open_project_store

BASE = '[tool.assetflow]\nmodules = ["assets"]\nexecutor = "inprocess"\n'

#: `count` assets that fail while BREAK is set, each with one downstream asset.
FAILING = """
    import os
    from assetflow import asset

    {assets}
"""


def failing_assets(count: int = 1) -> str:
    blocks = []
    for i in range(count):
        blocks.append(
            f"""
@asset
def source{i}() -> dict:
    if os.environ.get("BREAK"):
        raise ValueError("source{i}: the API answered 503")
    return {{"n": {i}}}

@asset
def after{i}(source{i}: dict) -> dict:
    return source{i}
"""
        )
    return "import os\nfrom assetflow import asset\n" + "".join(blocks)


def webhook(name: str, url: str, **settings: str) -> str:
    """A `[tool.assetflow.alerts.NAME]` table of kind webhook (settings as TOML values)."""
    lines = [f"[tool.assetflow.alerts.{name}]", 'kind = "webhook"', f'url = "{url}"']
    lines += [f"{key} = {value}" for key, value in settings.items()]
    return "\n".join(lines) + "\n"


def run(root, request: RunRequest | None = None, *, opens: bool = True):
    """Materialize with the project's incident recorder, as the CLI does."""
    project = assetflow.load(root)
    recorder = alerting(project).recorder(opens=opens)
    return materialize(project, request or RunRequest(executor="inprocess"), listeners=[recorder])


def deliver(root, now=None, environ=None, budget_s: float = 30.0):
    """Deliver the project's due alerts once (as the CLI does after a run)."""
    project = assetflow.load(root)
    setup = alerting(project)
    with open_project_store(project) as store:
        return setup.deliver(store, now=now, environ=environ or {}, budget_s=budget_s)


def stored(root):
    return open_project_store(assetflow.load(root))
