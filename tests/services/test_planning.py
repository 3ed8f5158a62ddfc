"""The planning service: what a selection picks, and the plan made from the store."""

from __future__ import annotations

import pytest

from assetflow import selection
from assetflow.api import load
from assetflow.errors import SelectionError
from assetflow.services.planning import select

ASSETS = """
    from assetflow import asset, source

    @source
    def feed() -> str:
        return "v1"

    @asset
    def raw(feed: str) -> dict:
        return {"feed": feed}

    @asset(group="reports")
    def report(raw: dict) -> dict:
        return raw
"""


def test_everything_is_what_the_grammar_selects_with_a_star(make_project):
    project = load(make_project(ASSETS))
    assert select(project) == selection.select(project.graph, "*") == project.graph.names
    assert select(project, "*", exclude="group:reports") == {"feed", "raw"}
    assert select(project, "raw+") == {"raw", "report"}


def test_a_selection_that_matches_nothing_is_refused(make_project):
    project = load(make_project(ASSETS))
    with pytest.raises(SelectionError, match="no asset is named 'rwa'"):
        select(project, "rwa")
