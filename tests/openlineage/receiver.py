"""A real lineage receiver on 127.0.0.1: an HTTP server that validates every event posted
to it against the OpenLineage JSON schema (and assetflow's facet against its published
schema), answering with scripted status codes."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema

from tests.http_servers import Recorded, RecordingHTTPServer

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


class LineageReceiver(RecordingHTTPServer):
    """Receives OpenLineage events on `url`; `answers` are the status codes of successive
    requests (the last repeats). An event that is not valid is answered 400 and named in
    `invalid`; only events answered 2xx count as `events`."""

    def __init__(self, answers: list[int] | None = None) -> None:
        super().__init__(answers, body=b"", judge=self._judge)
        self.events: list[dict[str, Any]] = []
        self.invalid: list[str] = []

    @property
    def headers(self) -> list[dict[str, str]]:
        """The headers of each request, in the order they came."""
        return [request.headers for request in self.requests]

    def _judge(self, request: Recorded, status: int) -> int:
        body = json.loads(request.body)
        try:
            validate(body)
        except (jsonschema.ValidationError, AssertionError) as error:
            self.invalid.append(str(error).splitlines()[0])
            return 400
        if 200 <= status < 300:
            self.events.append(body)
        return status
