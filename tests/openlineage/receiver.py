"""A real lineage receiver on 127.0.0.1: an HTTP server that validates every event posted
to it against the OpenLineage JSON schema (and assetflow's facet against its published
schema), answering with scripted status codes."""

from __future__ import annotations

import http.server
import json
import threading
from pathlib import Path
from typing import Any

import jsonschema

HERE = Path(__file__).parent
SPEC = json.loads((HERE / "OpenLineage.json").read_text())
FACET_SPEC = json.loads(
    (HERE.parent.parent / "docs" / "openlineage" / "assetflow-facet.json").read_text()
)
_CHECKER = jsonschema.FormatChecker()


def validate(event: dict[str, Any]) -> None:
    """Raise jsonschema.ValidationError unless `event` is a valid RunEvent with a valid
    assetflow facet."""
    jsonschema.Draft202012Validator(SPEC, format_checker=_CHECKER).validate(event)
    facet = event["run"].get("facets", {}).get("assetflow")
    assert facet is not None, "every event carries the assetflow facet"
    jsonschema.Draft202012Validator(FACET_SPEC, format_checker=_CHECKER).validate(facet)


class LineageReceiver:
    """Receives OpenLineage events on `url`; `answers` are the status codes of successive
    requests (the last repeats). Only events answered 2xx count as `events`."""

    def __init__(self, answers: list[int] | None = None) -> None:
        self.answers = list(answers or [200])
        self.events: list[dict[str, Any]] = []
        self.requests = 0
        self.invalid: list[str] = []
        self.headers: list[dict[str, str]] = []
        self._lock = threading.Lock()
        owner = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                body = json.loads(self.rfile.read(length))
                with owner._lock:
                    owner.requests += 1
                    owner.headers.append(dict(self.headers.items()))
                    status = owner.answers[0]
                    if len(owner.answers) > 1:
                        owner.answers.pop(0)
                    try:
                        validate(body)
                    except (jsonschema.ValidationError, AssertionError) as error:
                        owner.invalid.append(str(error).splitlines()[0])
                        status = 400
                    if 200 <= status < 300:
                        owner.events.append(body)
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def __enter__(self) -> LineageReceiver:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
