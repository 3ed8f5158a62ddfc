"""The JSON twin of each screen: one versioned document per view, for scripts and the UI.

Each `*_document` function turns what a service returned into plain JSON data
(dicts, lists, strings, numbers, None); `dumps` prints it. A layout's `version`
is bumped only when a field changes meaning or goes away: new fields may appear
in any version. The layouts are documented in docs/cli.md.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from assetflow.graph import AssetGraph
    from assetflow.planner import Plan
    from assetflow.planner.staleness import Reason
    from assetflow.planner.status import AssetStatus
    from assetflow.runs import EventRow, RunDetail
    from assetflow.services.history import AssetHistory, RunList, StepLogs
    from assetflow.services.running import CheckRun
    from assetflow.store.records import CheckRecord, MaterializationRecord, RunRecord

#: The layout version of every document below (each may move on its own later).
PLAN_JSON_VERSION = 1
#: 2: the state `damaged`, and `missing` for an output deleted since it was recorded,
#: each with the reason `output missing` or `output damaged` naming the run that wrote it.
STATUS_JSON_VERSION = 2
RUNS_JSON_VERSION = 1
RUN_JSON_VERSION = 1
LOGS_JSON_VERSION = 1
HISTORY_JSON_VERSION = 1
CHECKS_JSON_VERSION = 1
ASSETS_JSON_VERSION = 1


def dumps(document: Mapping[str, Any]) -> str:
    """A document as indented JSON text."""
    return json.dumps(document, indent=2)


def _time(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment is not None else None


def plan_document(plan: Plan) -> dict[str, Any]:
    """`plan --json`: the steps in run order with their reasons, and what is fresh."""
    from assetflow.planner import Status

    return {
        "version": PLAN_JSON_VERSION,
        "selection": plan.selection,
        "created_at": plan.created_at.isoformat(),
        "counts": {status.value: plan.count(status) for status in Status},
        "warnings": list(plan.warnings),
        "steps": [
            {
                "asset": step.asset,
                "partition": step.partition,
                "status": step.status.value,
                "reasons": [reason_document(reason) for reason in step.reasons],
            }
            for step in plan.steps
        ],
        "fresh": [{"asset": v.asset, "partition": v.partition} for v in plan.fresh],
    }


def reason_document(reason: Reason) -> dict[str, Any]:
    """One reason a step is not fresh, with its rendering for people."""
    return {
        "kind": reason.kind.value,
        "upstream": reason.upstream,
        "old": reason.old,
        "new": reason.new,
        "run_id": reason.run_id,
        "details": list(reason.details),
        "text": reason.render(),
    }


def status_document(states: Iterable[AssetStatus]) -> dict[str, Any]:
    """`status --json`: each asset-partition's state, newest materialization, reasons, checks."""
    return {
        "version": STATUS_JSON_VERSION,
        "assets": [
            {
                "asset": state.asset,
                "partition": state.partition,
                "state": state.state.value,
                "last_run_id": state.last.run_id if state.last else None,
                "last_materialized_at": state.last.finished_at.isoformat() if state.last else None,
                "rows": state.last.rows if state.last else None,
                "reasons": [reason_document(reason) for reason in state.reasons],
                "checks": [_check_brief(result) for result in state.checks],
            }
            for state in states
        ],
    }


def _check_brief(result: CheckRecord) -> dict[str, Any]:
    return {
        "check": result.check,
        "passed": result.passed,
        "severity": result.severity,
        "blocking": result.blocking,
        "message": result.message,
        "run_id": result.run_id,
    }


def _run(run: RunRecord) -> dict[str, Any]:
    duration = (run.finished_at - run.started_at).total_seconds() if run.finished_at else None
    return {
        "run_id": run.run_id,
        "status": run.status.value,
        "trigger": run.trigger,
        "selection": run.selection,
        "partitions": run.partitions,
        "started_at": _time(run.started_at),
        "finished_at": _time(run.finished_at),
        "duration_s": duration,
        "pid": run.pid,
        "host": run.host,
        "run_key": run.run_key,
        "tags": dict(run.tags),
    }


def runs_document(found: RunList) -> dict[str, Any]:
    """`runs --json`: the newest runs, each with its step counts by event kind."""
    return {
        "version": RUNS_JSON_VERSION,
        "runs": [
            {**_run(run), "steps": dict(found.counts.get(run.run_id, {}))} for run in found.runs
        ],
    }


def run_document(detail: RunDetail) -> dict[str, Any]:
    """`runs show --json`: one run and a row per step event, in time order."""
    return {
        "version": RUN_JSON_VERSION,
        "run": _run(detail.run),
        "steps": [_row(row) for row in detail.rows],
    }


def _row(row: EventRow) -> dict[str, Any]:
    return {
        "asset": row.asset,
        "partition": row.partition,
        "state": row.state.value,
        "at": _time(row.at),
        "attempt": row.attempt,
        "duration_s": row.duration_s,
        "message": row.message,
    }


def logs_document(found: StepLogs) -> dict[str, Any]:
    """`logs --json`: what each step attempt of a run wrote."""
    return {
        "version": LOGS_JSON_VERSION,
        "run_id": found.run.run_id,
        "logs": [
            {
                "asset": record.asset,
                "partition": record.partition,
                "attempt": record.attempt,
                "at": _time(record.at),
                "text": record.text,
            }
            for record in found.logs
        ],
    }


def history_document(found: AssetHistory) -> dict[str, Any]:
    """`history --json`: an asset's materializations, newest first, and its check results."""
    return {
        "version": HISTORY_JSON_VERSION,
        "asset": found.asset,
        "materializations": [_materialization(record) for record in found.materializations],
        "checks": [
            {**_check_brief(result), "partition": result.partition, "at": _time(result.at)}
            for result in found.checks
        ],
    }


def _materialization(record: MaterializationRecord) -> dict[str, Any]:
    return {
        "run_id": record.run_id,
        "partition": record.partition,
        "io": record.io,
        "rows": record.rows,
        "bytes": record.bytes,
        "columns": [{"name": column.name, "type": column.type} for column in record.columns],
        "started_at": _time(record.started_at),
        "finished_at": _time(record.finished_at),
        "duration_s": record.duration_s,
        "code_version": record.code_version,
        "data_version": record.data_version,
        "input_versions": dict(record.input_versions),
    }


def checks_document(done: CheckRun) -> dict[str, Any]:
    """`check --json`: the check run and each result."""
    return {
        "version": CHECKS_JSON_VERSION,
        "run_id": done.run_id,
        "has_blocking_failure": done.has_blocking_failure,
        "results": [
            {
                **_check_brief(result),
                "asset": result.asset,
                "partition": result.partition,
                "metadata": result.metadata,
                "at": _time(result.at),
            }
            for result in done.results
        ],
    }


def assets_document(graph: AssetGraph, names: Iterable[str]) -> dict[str, Any]:
    """`list --json`: each selected asset in dependency order, with what it reads."""
    assets = []
    for name in graph.topological_order(names):
        spec = graph.spec(name)
        assets.append(
            {
                "asset": name,
                "group": spec.group,
                "kind": spec.kind,
                "tags": sorted(spec.tags),
                "reads": list(graph.parents(name)),
                "partitioned": spec.partitions is not None,
                "description": spec.description or "",
            }
        )
    return {"version": ASSETS_JSON_VERSION, "assets": assets}
