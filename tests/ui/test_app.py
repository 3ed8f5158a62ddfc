"""The UI's skeleton: it serves, unknown pages are 404 in HTML and JSON."""

from __future__ import annotations

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
