"""The app: it serves, unknown pages are 404, errors are said without details, /api/ lists
the API."""

from __future__ import annotations

import html
import sqlite3

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from tests.ui.serving import get, get_json, serving

ONE = """
    from assetflow import asset

    @asset
    def only() -> dict:
        return {"n": 1}
"""


def test_an_unknown_page_is_a_404_page_and_json_under_api(make_project):
    root = make_project(ONE)
    with serving(root) as url:
        status, text = get(url + "/nowhere")
        assert status == 404
        assert "no such page" in text
        status, body = get_json(url + "/api/nowhere")
        assert status == 404
        assert body["version"] == 1
        status, css = get(url + "/static/app.css")
        assert status == 200
        assert "--fresh" in css


async def _reads_the_store(request: Request) -> JSONResponse:
    with request.app.state.ui.reading():
        return JSONResponse({"read": True})


async def _fails(request: Request) -> JSONResponse:
    raise RuntimeError("a secret detail of a bug")


PROBES = [
    Route("/api/probe/{name}", _reads_the_store, methods=["GET", "POST"]),
    Route("/reads", _reads_the_store),
    Route("/api/reads", _reads_the_store),
    Route("/fails", _fails),
]


def test_the_api_index_lists_every_endpoint_with_the_layout_version(make_project):
    root = make_project(ONE)
    with serving(root, routes=PROBES) as url:
        status, body = get_json(url + "/api/")
    assert status == 200
    assert body["version"] == 1
    assert body["project"] == "proj"
    assert {"path": "/api/probe/{name}", "methods": ["GET", "POST"]} in body["endpoints"]
    assert {"path": "/api/reads", "methods": ["GET"]} in body["endpoints"]
    assert all(endpoint["path"].startswith("/api/") for endpoint in body["endpoints"])
    assert "/api/" not in [endpoint["path"] for endpoint in body["endpoints"]]


def test_a_store_from_a_newer_assetflow_is_said_on_the_page_not_a_traceback(make_project):
    root = make_project(ONE)
    with serving(root, routes=PROBES) as url:
        assert get_json(url + "/api/reads") == (200, {"read": True})
        path = root / ".assetflow" / "metadata.sqlite"
        with sqlite3.connect(path) as connection:
            connection.execute(
                "INSERT INTO schema_version (version, description, applied_at) "
                "VALUES (999, 'future', '2099-01-01')"
            )
        status, text = get(url + "/reads")
        assert status == 500
        assert "the store was written by a newer assetflow" in html.unescape(text)
        assert "Traceback" not in text
        status, body = get_json(url + "/api/reads")
        assert status == 500
        assert "the store was written by a newer assetflow" in body["error"]


def test_a_bug_is_an_error_page_without_its_details(make_project):
    root = make_project(ONE)
    with serving(root, routes=PROBES) as url:
        status, text = get(url + "/fails")
    assert status == 500
    assert "internal error" in text
    assert "secret detail" not in text
