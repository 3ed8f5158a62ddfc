"""A real UI server for tests: uvicorn on a free port of 127.0.0.1, in a thread."""

from __future__ import annotations

import json
import socket
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import uvicorn

import assetflow
from assetflow.ui.app import create_app
from assetflow.ui.state import UiState


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextmanager
def serving(root: Path, *, token: str | None = None) -> Iterator[str]:
    """Serve the project at `root`; yields the base URL (http://127.0.0.1:PORT)."""
    state = UiState(project=assetflow.load(root), token=token)
    port = free_port()
    config = uvicorn.Config(
        create_app(state), host="127.0.0.1", port=port, log_level="warning", lifespan="off"
    )
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
