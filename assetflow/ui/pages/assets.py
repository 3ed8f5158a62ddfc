"""The asset page (`/assets/{name}`) and its JSON twin (`/api/assets/{name}`).

What an asset is (description, type, schema, code version), where it stands
(its state partition by partition, sent as ranges; why it is not fresh, with the
code diff; freshness and deadline; its checks), what it did (materialization
history) and what it holds (the first rows of its newest output). Everything is
read through the services the CLI's `status`, `why`, `history` and `show` use.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from assetflow.ui.rendering import api, not_found, page

if TYPE_CHECKING:
    from assetflow.partitions.base import PartitionsDefinition
    from assetflow.planner.status import AssetStatus
    from assetflow.project import Project
    from assetflow.store.base import MetadataStore
    from assetflow.ui.state import UiState

#: How many rows the preview shows, at most.
PREVIEW_ROWS = 100
#: How many materializations the history shows.
HISTORY_ROWS = 20


def routes() -> list[BaseRoute]:
    return [
        Route("/assets/{name}", asset_page, methods=["GET"]),
        Route("/api/assets/{name}", asset_api, methods=["GET"]),
    ]


@dataclass(frozen=True, slots=True)
class PartitionRange:
    """A run of partitions, consecutive in the definition's order, that share one state."""

    first: str
    last: str
    count: int
    state: str

    def to_json(self) -> dict[str, Any]:
        return {"first": self.first, "last": self.last, "count": self.count, "state": self.state}


def partition_ranges(
    definition: PartitionsDefinition, states: Iterable[tuple[str, str]]
) -> list[PartitionRange]:
    """`(key, state)` pairs as runs of consecutive keys with the same state, in key order.

    Keys the definition no longer has are left out (the page shows the definition's
    partitions); a gap in the keys ends a run, so every run holds exactly `count`
    keys from `first` to `last`.
    """
    positioned = []
    for key, state in states:
        if definition.has_key(key):
            positioned.append((definition.index(key), key, state))
    positioned.sort()
    ranges: list[PartitionRange] = []
    start = 0
    for at in range(1, len(positioned) + 1):
        ends = (
            at == len(positioned)
            or positioned[at][0] != positioned[at - 1][0] + 1
            or positioned[at][2] != positioned[at - 1][2]
        )
        if ends:
            first, last = positioned[start], positioned[at - 1]
            ranges.append(PartitionRange(first[1], last[1], last[0] - first[0] + 1, first[2]))
            start = at
    return ranges


def shown_state(status: AssetStatus) -> str:
    """The state a row is coloured by: the planner's state, or `running` while a run
    has started and not finished it."""
    from assetflow.planner.status import Outcome

    if status.attempt is not None and status.attempt.outcome is Outcome.RUNNING:
        return "running"
    return status.state.value


def type_text(annotation: Any) -> str:
    """A return annotation as people write it: `Annotated[DataFrame, Schema(Order)]`."""
    if annotation is None or annotation is type(None):
        return "None"
    if isinstance(annotation, type) and not getattr(annotation, "__args__", None):
        return annotation.__qualname__
    text = repr(annotation)
    # `typing.` and dotted module paths (pandas.core.frame.DataFrame) say nothing here.
    return re.sub(r"\b(?:[A-Za-z_]\w*\.)+(?=[A-Za-z_])", "", text)


def asset_document(state: UiState, name: str, partition: str | None = None) -> dict[str, Any]:
    """Everything the asset page shows, as JSON data (the `/api/assets/{name}` layout).

    Raises:
        SelectionError: No asset has that name, or it has no such partition.
    """
    from assetflow.services.planning import bind_partitions, check_asset_name, check_partition

    project = state.project
    check_asset_name(project, name)
    with state.reading() as store:
        if partition is not None:
            check_partition(project, name, partition, store)
        bound = bind_partitions(project, store)
        return _document(bound, store, state, name, partition)


def _document(
    project: Project,
    store: MetadataStore,
    state: UiState,
    name: str,
    partition: str | None,
) -> dict[str, Any]:
    from assetflow.request import RunRequest
    from assetflow.services import history
    from assetflow.views.json import history_document

    graph = project.graph
    spec = graph.spec(name)
    now = (state.clock.now() if state.clock is not None else datetime.now(UTC)).astimezone(UTC)
    rows = history.status(project, RunRequest(name), store=store, clock=state.clock)
    rows = [row for row in rows if row.asset == name]
    # The history of the partition asked for, else of every partition (newest first).
    found = history.history(project, name, partition=partition, limit=HISTORY_ROWS, store=store)
    past = history_document(found)
    newest = found.materializations[0] if found.materializations else None
    definition = spec.partitions
    states = Counter(shown_state(row) for row in rows)
    document: dict[str, Any] = {
        "name": name,
        "group": spec.group,
        "kind": spec.kind,
        "tags": sorted(spec.tags),
        "description": spec.description or "",
        "is_source": spec.is_source,
        "returns": type_text(spec.returns),
        "defined_at": _defined_at(project, spec.file, spec.line),
        "code_version": _code_version(project, name),
        "last_code_version": newest.code_version if newest is not None else None,
        "schema": [{"name": c.name, "type": c.type} for c in newest.columns] if newest else [],
        "state": _overall(rows, states),
        "states": dict(sorted(states.items())),
        "upstream": list(graph.parents(name)),
        "downstream": list(graph.children(name)),
        "partitioned": definition is not None,
        "partition": partition,
        "partitions": None,
        "freshness": _freshness(spec.freshness_policy, rows, now),
        "checks": _latest_checks(rows),
        "history": past["materializations"],
        "why": _why(project, store, state, name, partition, rows),
        "preview": _preview(project, store, name, partition),
    }
    if definition is not None:
        pairs = [(row.partition, shown_state(row)) for row in rows if row.partition is not None]
        document["partitions"] = {
            "count": len(pairs),
            "ranges": [r.to_json() for r in partition_ranges(definition, pairs)],
        }
    return document


def _defined_at(project: Project, file: str, line: int) -> str | None:
    """`assets.py:12`: where the asset is defined, relative to the project."""
    from pathlib import Path

    if not file:
        return None
    path = Path(file).resolve()
    root = project.root.resolve()
    if path.is_relative_to(root):
        path = path.relative_to(root)
    return f"{path.as_posix()}:{line}"


def _code_version(project: Project, name: str) -> str | None:
    from assetflow.services.planning import fingerprints_of

    fingerprint = fingerprints_of(project, [name]).get(name)
    return fingerprint.version if fingerprint is not None else None


def _overall(rows: Sequence[AssetStatus], states: Counter[str]) -> str:
    """One word for the whole asset: its one row's state; for partitions, the worst."""
    if not rows:
        return "missing"
    order = ("running", "failed", "damaged", "stale", "waiting", "missing", "fresh")
    for word in order:
        if states.get(word):
            return word
    return shown_state(rows[0])


def _freshness(policy: Any, rows: Sequence[AssetStatus], now: datetime) -> dict[str, Any] | None:
    """The asset's freshness and deadline rules, and what it is late by now."""
    if policy is None:
        return None
    late = [found for row in rows for found in row.overdue]
    return {
        "rules": [rule for rule in (policy.freshness_rule, policy.deadline_rule) if rule],
        "overdue": bool(late),
        "late": [
            {
                "partition": found.partition or None,
                "rule": found.rule,
                "due_at": found.due_at.isoformat(),
                "text": found.describe(now),
            }
            for found in late
        ],
    }


def _latest_checks(rows: Sequence[AssetStatus]) -> list[dict[str, Any]]:
    """The newest result of each check of the asset (over its partitions)."""
    newest: dict[str, Any] = {}
    for row in rows:
        for result in row.checks:
            known = newest.get(result.check)
            if known is None or result.at > known.at:
                newest[result.check] = result
    return [
        {
            "check": result.check,
            "passed": result.passed,
            "severity": result.severity,
            "blocking": result.blocking,
            "message": result.message,
            "partition": result.partition,
            "run_id": result.run_id,
            "at": result.at.isoformat(),
        }
        for _, result in sorted(newest.items())
    ]


def _why(
    project: Project,
    store: MetadataStore,
    state: UiState,
    name: str,
    partition: str | None,
    rows: Sequence[AssetStatus],
) -> dict[str, Any] | None:
    """`assetflow why NAME` as JSON, when the asset (the partition asked for, else its
    first partition that is not fresh) is not fresh; None when it is."""
    from assetflow.planner.status import AssetState
    from assetflow.services import history
    from assetflow.views.json import why_document

    if partition is not None:
        mine = [row for row in rows if row.partition == partition]
    else:
        mine = [row for row in rows if row.state is not AssetState.FRESH]
    if not mine or mine[0].state is AssetState.FRESH:
        return None
    if project.graph.spec(name).partitions is not None and partition is None:
        definition = project.graph.spec(name).partitions
        assert definition is not None
        known = [row for row in mine if row.partition and definition.has_key(row.partition)]
        known.sort(key=lambda row: definition.index(row.partition or ""))
        partition = known[0].partition if known else None
    explanation = history.why(project, name, partition=partition, store=store, clock=state.clock)
    return why_document(explanation)


def _preview(
    project: Project, store: MetadataStore, name: str, partition: str | None
) -> dict[str, Any]:
    """The first rows of the newest output (of `partition`, else the newest partition), as
    `show --json` has them; or why there is nothing to show."""
    from assetflow.errors import AssetflowError
    from assetflow.services.reading import head
    from assetflow.views.json import show_document

    try:
        found = head(project, name, partition=partition, limit=PREVIEW_ROWS, store=store)
    except AssetflowError as error:
        return {"error": error.format_message()}
    return show_document(found)


def _partition_of(request: Request) -> str | None:
    key = request.query_params.get("partition")
    return key if key else None


def _answer(request: Request, as_json: bool) -> Response:
    from assetflow.errors import SelectionError, suggest

    state: UiState = request.app.state.ui
    name = request.path_params["name"]
    partition = _partition_of(request)
    if name not in state.project.graph:
        return not_found(request, "asset", name, suggest(name, state.project.graph.names))
    try:
        document = asset_document(state, name, partition)
    except SelectionError as error:  # a partition the asset does not have
        return not_found(
            request, f"partition of asset '{name}'", partition or "", error.suggestions
        )
    if as_json:
        return api({"asset": document})
    import json

    preview = document["preview"]
    # A value (not a table) is shown as indented JSON text, escaped like any other text.
    value_text = json.dumps(preview.get("value"), indent=2, ensure_ascii=False)
    return page(request, "assets_page.html", asset=document, value_text=value_text)


def asset_page(request: Request) -> Response:
    """`/assets/{name}`: the asset page (`?partition=KEY` for one partition)."""
    return _answer(request, as_json=False)


def asset_api(request: Request) -> Response:
    """`/api/assets/{name}`: its JSON twin."""
    return _answer(request, as_json=True)
