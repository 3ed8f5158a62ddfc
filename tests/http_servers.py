"""A real HTTP server on 127.0.0.1 for the tests that post to one (alert webhooks,
OpenLineage's HTTP transport), and a URL where nothing listens.

`RecordingHTTPServer` records every request (method, path, headers, body) and answers
with scripted status codes; it can answer late (`delay_s`), never (`never_answers`),
or let a `judge` decide a request's status from what it received.
"""

from __future__ import annotations

import http.server
import socket
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Recorded:
    """One request as the server received it."""

    method: str
    path: str
    headers: dict[str, str]
    body: bytes


#: Decides the status of a request from the request and the scripted status (called
#: under the server's lock, in the order requests arrive).
Judge = Callable[[Recorded, int], int]


class RecordingHTTPServer:
    """A threaded HTTP server on 127.0.0.1, port 0, recording requests and scripted answers.

    `answers` are the status codes of successive requests (the last one repeats);
    `delay_s` holds each answer that long; `never_answers` accepts a request and says
    nothing until the server stops; `judge`, when given, has the last word on a status.
    """

    def __init__(
        self,
        answers: list[int] | None = None,
        *,
        never_answers: bool = False,
        delay_s: float = 0.0,
        body: bytes = b"ok",
        location: str | None = None,
        judge: Judge | None = None,
    ) -> None:
        self.answers = list(answers or [200])
        self.never_answers = never_answers
        self.delay_s = delay_s
        self.answer_body = body
        self.location = location
        self.judge = judge
        self.requests: list[Recorded] = []
        self._stop = threading.Event()
        self._lock = threading.Lock()
        owner = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                request = Recorded(
                    "POST", self.path, dict(self.headers.items()), self.rfile.read(length)
                )
                with owner._lock:
                    owner.requests.append(request)
                    status = owner.answers[0]
                    if len(owner.answers) > 1:
                        owner.answers.pop(0)
                    if owner.judge is not None:
                        status = owner.judge(request, status)
                if owner.never_answers:
                    owner._stop.wait(30)
                    return
                if owner.delay_s:
                    owner._stop.wait(owner.delay_s)
                self.send_response(status)
                if owner.location is not None:
                    self.send_header("Location", owner.location)
                self.send_header("Content-Type", "text/plain")
                self.send_header("Content-Length", str(len(owner.answer_body)))
                self.end_headers()
                self.wfile.write(owner.answer_body)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        """The server's base URL, e.g. http://127.0.0.1:43211."""
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def __enter__(self) -> RecordingHTTPServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._server.shutdown()
        self._server.server_close()


def refused_url(path: str = "") -> str:
    """A URL on 127.0.0.1 where nothing listens (a port bound, then released), ending
    with `path`."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}{path}"
