"""A real UI server for tests: uvicorn on a free port of 127.0.0.1, in a thread."""

from __future__ import annotations

import http.client
import json
import socket
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import uvicorn
from starlette.routing import BaseRoute

import assetflow
from assetflow.ui.app import create_app
from assetflow.ui.state import UiState


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextmanager
def serving(
    root: Path, *, token: str | None = None, routes: Sequence[BaseRoute] = ()
) -> Iterator[str]:
    """Serve the project at `root`; yields the base URL (http://127.0.0.1:PORT).

    `routes` are added to the app's own (a test's probe behind the same middleware).
    """
    state = UiState(project=assetflow.load(root), token=token)
    app = create_app(state)
    app.router.routes.extend(routes)
    port = free_port()
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert time.monotonic() < deadline, "the UI server did not start"
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)


def get(url: str, headers: dict[str, str] | None = None) -> tuple[int, str]:
    """GET `url`: its status and text (an error status is returned, not raised)."""
    request = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=30) as answer:
            return answer.status, answer.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


def get_json(url: str, headers: dict[str, str] | None = None) -> tuple[int, Any]:
    status, text = get(url, headers)
    return status, json.loads(text)


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


_opener = urllib.request.build_opener(_NoRedirect)


def fetch(
    url: str,
    *,
    method: str = "GET",
    form: dict[str, str] | None = None,
    headers: dict[str, str] | None = None,
) -> tuple[int, dict[str, list[str]], str]:
    """One request, redirects not followed: its status, headers (lower-case names,
    every value) and text. `form` is sent urlencoded."""
    data = urllib.parse.urlencode(form).encode() if form is not None else None
    request = urllib.request.Request(url, data=data, method=method, headers=headers or {})
    try:
        answer = _opener.open(request, timeout=30)
    except urllib.error.HTTPError as error:
        answer = error
    with answer:
        found: dict[str, list[str]] = {}
        for name, value in answer.headers.items():
            found.setdefault(name.lower(), []).append(value)
        return answer.status, found, answer.read().decode()


def raw_get(url: str, path: str) -> tuple[int, str]:
    """GET `path` exactly as written (no client normalizes its `..` or `%2f`)."""
    parts = urllib.parse.urlsplit(url)
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
    try:
        connection.putrequest("GET", path, skip_accept_encoding=True)
        connection.endheaders()
        answer = connection.getresponse()
        return answer.status, answer.read().decode(errors="replace")
    finally:
        connection.close()


def cookie_values(headers: dict[str, list[str]]) -> dict[str, str]:
    """The cookies a response sets: name -> value."""
    values = {}
    for line in headers.get("set-cookie", []):
        name, _, rest = line.partition("=")
        values[name] = rest.split(";")[0]
    return values
