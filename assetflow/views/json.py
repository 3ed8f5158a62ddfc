"""The JSON twin of each screen: one versioned document per view, for scripts and the UI.

Each `*_document` function turns what a service returned into plain JSON data
(dicts, lists, strings, numbers, None); `dumps` prints it. A layout's `version`
is bumped only when a field changes meaning or goes away: new fields may appear
in any version. The layouts are documented in docs/cli.md.
"""

from __future__ import annotations

import datetime as dt
import decimal
import json
import math
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from assetflow.freshness import Overdue
    from assetflow.graph import AssetGraph
    from assetflow.planner import Plan
    from assetflow.planner.staleness import Reason
    from assetflow.planner.status import AssetStatus, Attempt
    from assetflow.run_detail import EventRow, RunDetail
    from assetflow.services.health import HealthReport
    from assetflow.services.history import (
        AssetHistory,
        AttemptRow,
        Explanation,
        RunList,
        StepLogs,
    )
    from assetflow.services.reading import AssetHead
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
LINEAGE_JSON_VERSION = 1
WHY_JSON_VERSION = 1
HEALTH_JSON_VERSION = 1
SHOW_JSON_VERSION = 1


def dumps(document: Mapping[str, Any]) -> str:
    """A document as indented JSON text."""
    return json.dumps(document, indent=2)


def _time(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment is not None else None


def plan_document(plan: Plan, overdue: Iterable[Overdue] = ()) -> dict[str, Any]:
    """`plan --json`: the steps in run order with their reasons, what is fresh, and
    the selected assets that are late by their freshness or deadline."""
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
        "overdue": [overdue_document(found, plan.created_at) for found in overdue],
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


def status_document(states: Iterable[AssetStatus], now: datetime | None = None) -> dict[str, Any]:
    """`status --json`: each asset-partition's state, newest materialization, reasons,
    checks, and the freshness or deadline rules it is late by at `now`."""
    now = now or datetime.now(dt.UTC)
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
                "attempt": attempt_document(state.attempt),
                "overdue": [overdue_document(found, now) for found in state.overdue],
            }
            for state in states
        ],
    }


def overdue_document(found: Overdue, now: datetime) -> dict[str, Any]:
    """One rule an asset (or one partition of it) is late by, and how late at `now`."""
    return {
        "asset": found.asset,
        "partition": found.partition or None,
        "rule": found.rule,
        "due_at": found.due_at.isoformat(),
        "last_materialized_at": _time(found.last_materialized_at),
        "overdue_by_s": round(found.overdue_by(now).total_seconds(), 3),
        "text": found.describe(now),
    }


def attempt_document(attempt: Attempt | None) -> dict[str, Any] | None:
    """How an asset-partition's last attempt ended: outcome, run, time, message."""
    if attempt is None:
        return None
    return {
        "outcome": attempt.outcome.value,
        "run_id": attempt.run_id,
        "at": _time(attempt.at),
        "summary": attempt.summary,
        "message": attempt.message,
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
        "next_before": found.next_before,
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
        "started_at": _time(row.started_at),
        "worker": {"host": row.host, "pid": row.pid} if row.pid is not None else None,
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
        "attempts": None
        if found.attempts is None
        else [_attempt_row(row) for row in found.attempts],
    }


def _attempt_row(row: AttemptRow) -> dict[str, Any]:
    event = row.event
    return {
        "run_id": event.run_id,
        "partition": event.partition,
        "outcome": event.kind.value,
        "not_started": row.is_not_started,
        "at": _time(event.at),
        "attempt": event.attempt,
        "duration_s": event.duration_s,
        "message": event.message,
        "materialization": None
        if row.materialization is None
        else _materialization(row.materialization),
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


def lineage_document(graph: AssetGraph, names: Iterable[str]) -> dict[str, Any]:
    """`lineage --json` (`--format json`): the selected assets in dependency order, each
    with its direct upstream and downstream, and the edges between selected assets."""
    chosen = set(names)
    ordered = graph.topological_order(chosen)
    assets = [
        {
            "name": name,
            "group": graph.spec(name).group,
            "kind": graph.spec(name).kind,
            "tags": sorted(graph.spec(name).tags),
            "description": graph.spec(name).description,
            "upstream": list(graph.parents(name)),
            "downstream": list(graph.children(name)),
        }
        for name in ordered
    ]
    edges = [
        [parent, name] for name in ordered for parent in graph.parents(name) if parent in chosen
    ]
    return {"version": LINEAGE_JSON_VERSION, "assets": assets, "edges": edges}


def why_document(explanation: Explanation) -> dict[str, Any]:
    """`why --json`: the asset-partition explained, and every asset-partition its state
    traces back to (through inputs that will be rebuilt first), each with its reasons."""
    from assetflow.planner.staleness import ReasonKind, Verdict, key_text
    from assetflow.views.why import explained_partition, why_text

    context = explanation.context
    spec = context.project.graph.spec(explanation.asset)
    partition = explained_partition(explanation)
    document: dict[str, Any] = {
        "version": WHY_JSON_VERSION,
        "asset": explanation.asset,
        "partition": partition,
        "is_source": spec.is_source,
        "explained": [],
        "text": why_text(explanation),
    }
    verdicts = {
        key_text((step.asset, step.partition)): Verdict(
            step.asset, step.partition, step.status, step.reasons
        )
        for step in context.plan.steps
    }
    verdicts.update({key_text((v.asset, v.partition)): v for v in context.plan.fresh})
    root = key_text((explanation.asset, partition))
    if spec.is_source or root not in verdicts:
        return document
    queue, seen = [root], {root}
    while queue:
        label = queue.pop(0)
        verdict = verdicts[label]
        key = (verdict.asset, verdict.partition)
        latest = context.snapshot.latest.get(key)
        failure = context.snapshot.failures.get(key)
        diff = None
        if latest is not None and latest.code_version:
            diff = explanation.code_diffs.get((verdict.asset, latest.code_version)) or None
        document["explained"].append(
            {
                "asset": verdict.asset,
                "partition": verdict.partition,
                "state": verdict.status.value,
                "last_run_id": latest.run_id if latest else None,
                "last_materialized_at": _time(latest.finished_at) if latest else None,
                "reasons": [reason_document(reason) for reason in verdict.reasons],
                "last_failure": (
                    {
                        "run_id": failure.run_id,
                        "at": _time(failure.at),
                        "message": failure.message,
                    }
                    if failure is not None
                    and any(r.kind is ReasonKind.LAST_RUN_FAILED for r in verdict.reasons)
                    else None
                ),
                "code_diff": diff
                if any(r.kind is ReasonKind.CODE_CHANGED for r in verdict.reasons)
                else None,
            }
        )
        for reason in verdict.reasons:
            upstream = reason.upstream
            is_followed = reason.kind is ReasonKind.UPSTREAM_STALE and upstream in verdicts
            if is_followed and upstream is not None and upstream not in seen:
                seen.add(upstream)
                queue.append(upstream)
    return document


def show_document(head: AssetHead) -> dict[str, Any]:
    """`show --json`: the first rows of an asset-partition's stored value, each row an
    object by column name (a JSON value's head under `value`)."""
    names = [name for name, _ in head.columns]
    return {
        "version": SHOW_JSON_VERSION,
        "asset": head.asset,
        "partition": head.partition,
        "kind": head.kind,
        "run_id": head.run_id,
        "materialized_at": _time(head.materialized_at),
        "limit": head.limit,
        "total": head.total,
        "columns": [{"name": name, "type": kind} for name, kind in head.columns],
        "rows": [
            {name: plain(value) for name, value in zip(names, row, strict=True)}
            for row in head.rows
        ],
        "value": plain(head.value),
    }


def plain(value: Any) -> Any:
    """A stored value as JSON data: times in ISO 8601, durations in seconds, decimals as
    text, bytes as hex, NaN and infinities as null."""
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, dt.timedelta):
        return value.total_seconds()
    if isinstance(value, decimal.Decimal):
        return str(value)
    if isinstance(value, bytes):
        return value.hex()
    if isinstance(value, Mapping):
        return {str(key): plain(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [plain(item) for item in value]
    return str(value)


def health_document(report: HealthReport) -> dict[str, Any]:
    """`health --json`: the scheduler's heartbeat, stuck runs, overdue assets, verdict."""
    scheduler = report.scheduler
    return {
        "version": HEALTH_JSON_VERSION,
        "checked_at": report.checked_at.isoformat(),
        "healthy": report.healthy,
        "problems": report.problems(),
        "scheduler": {
            "needed": scheduler.needed,
            "alive": scheduler.alive,
            "holder": scheduler.holder,
            "pid": scheduler.pid,
            "host": scheduler.host,
            "heartbeat_at": _time(scheduler.heartbeat_at),
            "age_s": None if scheduler.age_s is None else round(scheduler.age_s, 3),
        },
        "stuck_runs": [
            {
                "run_id": run.run_id,
                "started_at": run.started_at.isoformat(),
                "pid": run.pid,
                "host": run.host,
                "reason": run.reason,
            }
            for run in report.stuck_runs
        ],
        "overdue": [overdue_document(found, report.checked_at) for found in report.overdue],
    }
