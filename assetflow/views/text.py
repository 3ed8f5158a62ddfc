"""Text for people: asset tables, lineage trees and diagrams, run tables, histories."""

from __future__ import annotations

import collections
import itertools
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING

from assetflow.textwidth import cut, display_width, pad

if TYPE_CHECKING:
    from assetflow.execution import StepResult
    from assetflow.freshness import Overdue
    from assetflow.graph import AssetGraph
    from assetflow.planner import Step
    from assetflow.planner.status import AssetStatus, Attempt
    from assetflow.run_detail import RunDetail
    from assetflow.services.history import AttemptRow
    from assetflow.store.records import (
        CheckRecord,
        LogRecord,
        MaterializationRecord,
        RunRecord,
    )

#: Descriptions longer than this are cut in tables.
DESCRIPTION_WIDTH = 60
#: How many characters of a run id or version tables show (like git's short hashes).
SHORT_ID = 8
#: Messages longer than this are cut in the `runs show` table (errors follow it in full).
MESSAGE_WIDTH = 80
#: How many failure messages (with tracebacks) a run summary prints in full.
FAILURES_SHOWN = 3


def table(headers: Sequence[str], rows: Iterable[Sequence[str]]) -> str:
    """Left-aligned columns separated by two spaces, with a header row.

    Widths are terminal columns, not characters: a CJK asset name takes two
    columns per character, and its column is as wide as that (see ``textwidth``).
    """
    rows = [list(map(str, row)) for row in rows]
    widths = [display_width(h) for h in headers]
    for row in rows:
        widths = [max(w, display_width(cell)) for w, cell in zip(widths, row, strict=True)]
    lines = ["  ".join(pad(h, w) for h, w in zip(headers, widths, strict=True)).rstrip()]
    for row in rows:
        lines.append("  ".join(pad(c, w) for c, w in zip(row, widths, strict=True)).rstrip())
    return "\n".join(lines)


def short(text: str | None) -> str:
    return (text or "-")[:SHORT_ID]


def when(moment: datetime | None) -> str:
    """A timestamp as `YYYY-MM-DD HH:MM:SS` in UTC."""
    return moment.strftime("%Y-%m-%d %H:%M:%S") if moment else "-"


def duration(seconds: float | None) -> str:
    """`12 ms`, `3.4 s` or `2m05s`."""
    if seconds is None:
        return "-"
    # Thresholds sit just below each unit's boundary, where rounding would
    # otherwise print "1000 ms" or "60.0 s".
    if seconds < 0.9995:
        return f"{seconds * 1000:.0f} ms"
    if seconds < 59.95:
        return f"{seconds:.1f} s"
    minutes, rest = divmod(round(seconds), 60)
    return f"{minutes}m{rest:02d}s"


def size(count: int | None) -> str:
    """A byte count as `512 B`, `1.2 KiB`, `3.4 MiB`."""
    if count is None:
        return "-"
    if count < 1024:
        return f"{count} B"
    value = count / 1024
    for unit in ("KiB", "MiB", "GiB"):
        # 1023.95 and above would print as "1024.0": show it in the next unit.
        if value < 1023.95 or unit == "GiB":
            return f"{value:.1f} {unit}"
        value /= 1024
    raise AssertionError("unreachable")  # pragma: no cover


def asset_table(graph: AssetGraph, names: Iterable[str]) -> str:
    """The `list` output: one row per asset."""
    rows = []
    for name in graph.topological_order(names):
        spec = graph.spec(name)
        description = spec.description.splitlines()[0] if spec.description else ""
        description = cut(description, DESCRIPTION_WIDTH)
        rows.append(
            [
                name,
                spec.group,
                spec.kind,
                ",".join(sorted(spec.tags)) or "-",
                ",".join(graph.parents(name)) or "-",
                description,
            ]
        )
    return table(["ASSET", "GROUP", "KIND", "TAGS", "READS", "DESCRIPTION"], rows)


def render_lineage(graph: AssetGraph, names: Iterable[str], output_format: str) -> str:
    """The selected part of the graph as text, mermaid, dot or json."""
    chosen = set(names)
    ordered = graph.topological_order(chosen)
    edges = [(p, n) for n in ordered for p in graph.parents(n) if p in chosen]
    if output_format == "mermaid":
        lines = ["graph LR"] + [f"    {n}" for n in ordered if not _has_edge(n, edges)]
        lines += [f"    {parent} --> {child}" for parent, child in edges]
        return "\n".join(lines)
    if output_format == "dot":
        lines = ["digraph assetflow {", "    rankdir=LR;", "    node [shape=box];"]
        lines += [f'    "{n}";' for n in ordered]
        lines += [f'    "{parent}" -> "{child}";' for parent, child in edges]
        return "\n".join([*lines, "}"])
    if output_format == "json":
        from assetflow.views.json import dumps, lineage_document

        return dumps(lineage_document(graph, chosen))
    return lineage_tree(graph, ordered, chosen)


def _has_edge(name: str, edges: list[tuple[str, str]]) -> bool:
    return any(name in edge for edge in edges)


def lineage_tree(graph: AssetGraph, ordered: list[str], chosen: set[str]) -> str:
    """An indented tree from the roots of the selection down; repeats say `(see above)`."""
    roots = [n for n in ordered if not any(p in chosen for p in graph.parents(n))]
    shown: set[str] = set()
    lines: list[str] = []
    # (name, prefix, is_last, is_root), walked depth-first without recursion.
    stack = [(root, "", True, True) for root in reversed(roots)]
    while stack:
        name, prefix, is_last, is_root = stack.pop()
        connector = "" if is_root else ("└── " if is_last else "├── ")
        if name in shown:
            lines.append(f"{prefix}{connector}{name}  (see above)")
            continue
        shown.add(name)
        spec = graph.spec(name)
        lines.append(f"{prefix}{connector}{name}  [{spec.group}, {spec.kind}]")
        children = [c for c in graph.children(name) if c in chosen]
        child_prefix = prefix if is_root else prefix + ("    " if is_last else "│   ")
        for index in reversed(range(len(children))):
            stack.append((children[index], child_prefix, index == len(children) - 1, False))
    return "\n".join(lines)


def runs_table(
    records: Sequence[RunRecord], counts: Mapping[str, Mapping[str, int]] | None = None
) -> str:
    """The `runs` output; `counts`: each run's step events by kind (`store.step_counts`)."""
    if not records:
        return "No runs yet. `assetflow materialize` starts one."
    counts = counts or {}
    rows = [
        [
            short(run.run_id),
            when(run.started_at),
            duration((run.finished_at - run.started_at).total_seconds())
            if run.finished_at
            else "-",
            run.status.value,
            run.trigger,
            _step_counts(counts.get(run.run_id, {})),
            run.selection,
        ]
        for run in records
    ]
    headers = ["RUN", "STARTED (UTC)", "DURATION", "STATUS", "TRIGGER", "STEPS", "SELECTION"]
    return table(headers, rows)


#: The order (and words) of step counts in the `runs` table; retries are not steps.
_COUNTED = (
    ("materialized", "ok"),
    ("failed", "failed"),
    ("skipped", "skipped"),
    ("cancelled", "cancelled"),
    ("not_started", "not started"),
)


def _step_counts(kinds: Mapping[str, int]) -> str:
    """`12 ok, 1 failed, 3 skipped` (kinds with none left out), or `-`."""
    parts = [f"{kinds[kind]} {word}" for kind, word in _COUNTED if kinds.get(kind)]
    return ", ".join(parts) or "-"


def run_detail(detail: RunDetail, now: datetime | None = None) -> str:
    """The `runs show RUN_ID` output: the run, a row per step event, then each error in full.

    Args:
        detail: The run and its rows.
        now: The current time, to say how long a run still running has taken.
    """
    import textwrap

    lines = _run_header(detail, now)
    if not detail.rows:
        lines.append("\nNo step events recorded.")
        return "\n".join(lines)
    # The worker column appears once a step recorded where it ran.
    workers = any(row.pid is not None for row in detail.rows)
    rows = [
        [
            row.label,
            row.state.value,
            str(row.attempt) if row.attempt else "-",
            *([row.worker(detail.run.host) or "-"] if workers else []),
            duration(row.duration_s),
            _cut(row.summary, MESSAGE_WIDTH),
        ]
        for row in detail.rows
    ]
    header = ["STEP", "STATE", "ATTEMPT", *(["WORKER"] if workers else []), "DURATION", "MESSAGE"]
    lines += ["", table(header, rows)]
    # An error that the table shows whole (one short line) is not repeated.
    for row in (r for r in detail.errors if r.message.strip() != _cut(r.summary, MESSAGE_WIDTH)):
        lines += ["", f"{row.label} {row.state.value} (attempt {row.attempt}):"]
        lines.append(textwrap.indent(row.message.strip(), "    "))
    return "\n".join(lines)


def step_logs_text(logs: Sequence[LogRecord]) -> str:
    """The `logs RUN_ID` output: each step attempt's header, then what it wrote."""
    if not logs:
        return "no output was captured"
    sections = []
    for log in logs:
        where = log.asset + (f"[{log.partition}]" if log.partition is not None else "")
        text = log.text.rstrip("\n")
        sections.append(f"== {where} (attempt {log.attempt}) ==\n{text}")
    return "\n\n".join(sections)


def _run_header(detail: RunDetail, now: datetime | None) -> list[str]:
    """`Run <id>`, then one `name  value` line per field of the run."""
    from assetflow.store.records import RunStatus

    run = detail.run
    if run.finished_at is not None:
        took = duration((run.finished_at - run.started_at).total_seconds())
        if run.status is RunStatus.CRASHED:
            took += " (until the crash was noticed)"
    elif now is not None:
        took = f"{duration((now - run.started_at).total_seconds())} so far"
    else:
        took = "-"
    fields = [
        ("status", run.status.value),
        ("trigger", run.trigger),
        ("selection", run.selection),
        ("partitions", run.partitions or "-"),
        ("started", f"{when(run.started_at)} UTC"),
        ("duration", took),
    ]
    if run.pid is not None and run.status in (RunStatus.RUNNING, RunStatus.CRASHED):
        fields.append(("process", f"pid {run.pid}"))
    steps = [row for row in detail.rows if row.asset is not None and row.state != "retried"]
    if steps:
        counts = collections.Counter(row.state.value for row in steps)
        fields.append(("steps", ", ".join(f"{n} {state}" for state, n in counts.items())))
    return [f"Run {run.run_id}", *(f"  {name:<11}{value}" for name, value in fields)]


def _cut(text: str, width: int) -> str:
    return cut(text, width)


def history_table(
    asset: str,
    records: Sequence[MaterializationRecord],
    checks: Sequence[CheckRecord] = (),
) -> str:
    """The `history ASSET` output: its materializations with their checks, then the
    changes of its stored columns over time."""
    if not records:
        return f"'{asset}' has never been materialized."
    partitioned = any(record.partition is not None for record in records)
    checks_by_run: dict[tuple[str, str | None], list[CheckRecord]] = {}
    for result in checks:
        checks_by_run.setdefault((result.run_id, result.partition), []).append(result)
    rows = [
        [
            short(record.run_id),
            *([record.partition or "-"] if partitioned else []),
            when(record.finished_at),
            f"{record.rows:,}" if record.rows is not None else "-",
            size(record.bytes),
            duration(record.duration_s),
            short(record.data_version),
            short(record.code_version),
            *(
                [checks_summary(checks_by_run.get((record.run_id, record.partition), []))]
                if checks
                else []
            ),
        ]
        for record in records
    ]
    headers = ["RUN", *(["PARTITION"] if partitioned else []), "FINISHED (UTC)", "ROWS"]
    headers += ["SIZE", "DURATION", "DATA", "CODE", *(["CHECKS"] if checks else [])]
    text = table(headers, rows)
    changes = schema_changes(records)
    if changes:
        text += "\n\nSchema changes:\n" + "\n".join(f"  {change}" for change in changes)
    return text


def attempts_table(asset: str, attempts: Sequence[AttemptRow]) -> str:
    """The `history ASSET --all` output: every attempt, newest first, with what a
    materialization wrote and why a step failed or was skipped."""
    if not attempts:
        return f"'{asset}' has never been attempted: no run has reached it."
    partitioned = any(row.event.partition is not None for row in attempts)
    rows = []
    for row in attempts:
        event, written = row.event, row.materialization
        outcome = event.kind.value
        if row.is_not_started:
            outcome = "not started"
        rows.append(
            [
                short(event.run_id),
                *([event.partition or "-"] if partitioned else []),
                when(event.at),
                outcome,
                str(event.attempt) if event.attempt else "-",
                duration(event.duration_s),
                f"{written.rows:,}" if written is not None and written.rows is not None else "-",
                _cut(row.summary, MESSAGE_WIDTH),
            ]
        )
    headers = ["RUN", *(["PARTITION"] if partitioned else []), "AT (UTC)", "OUTCOME"]
    headers += ["ATTEMPT", "DURATION", "ROWS", "MESSAGE"]
    return table(headers, rows)


def attempt_text(attempt: Attempt | None) -> str:
    """How the last attempt at an asset-partition ended, in one line for `status`:
    `failed in run 1c2d3e4f at 2026-03-04 03:00:12: KeyError: 'x'`."""
    if attempt is None:
        return "-"
    outcome = attempt.outcome.value
    if attempt.run_id is None:
        return outcome
    verb = "by" if outcome == "materialized" else "in"
    text = f"{outcome} {verb} run {short(attempt.run_id)} at {when(attempt.at)}"
    return f"{text}: {_cut(attempt.summary, MESSAGE_WIDTH)}" if attempt.summary else text


def _attempts_summary(entries: Sequence[AssetStatus]) -> str:
    """One asset's last attempts: the one, or counts of the outcomes of its not-fresh
    partitions (`2 failed, 1 skipped`)."""
    if len(entries) == 1:
        return attempt_text(entries[0].attempt)
    counts = collections.Counter(
        e.attempt.outcome.value
        for e in entries
        if e.attempt is not None and e.state.value != "fresh"
    )
    return ", ".join(f"{n} {outcome}" for outcome, n in counts.items()) or "-"


def schema_changes(records: Sequence[MaterializationRecord]) -> list[str]:
    """When columns were added, removed or changed type, oldest first (newest-first input)."""
    changes = []
    ordered = list(reversed(records))
    for before, after in itertools.pairwise(ordered):
        if not before.columns or not after.columns:
            continue
        old = {column.name: column.type for column in before.columns}
        new = {column.name: column.type for column in after.columns}
        notes = [f"added '{name}' ({new[name]})" for name in new if name not in old]
        notes += [f"removed '{name}'" for name in old if name not in new]
        notes += [
            f"'{name}' {old[name]} -> {new[name]}"
            for name in new
            if name in old and old[name] != new[name]
        ]
        if notes:
            where = f" [{after.partition}]" if after.partition else ""
            changes.append(
                f"{when(after.finished_at)} run {short(after.run_id)}{where}: {'; '.join(notes)}"
            )
    return changes


def status_table(
    states: Sequence[AssetStatus],
    graph: AssetGraph | None = None,
    now: datetime | None = None,
) -> str:
    """The `status` output: one row per asset, not-fresh ones first.

    A partitioned asset's row shows its partitions as runs of one state, in
    key order: `2026-01-01..2026-03-14 fresh (73) | 2026-03-15 failed`. When an
    asset is late by its freshness or deadline, a LATE column says by how much at
    `now` (default: the clock's now).
    """
    from assetflow.planner.explain import reasons_text

    by_asset: dict[str, list[AssetStatus]] = {}
    for state in states:
        by_asset.setdefault(state.asset, []).append(state)
    rows = []
    for asset, entries in by_asset.items():
        newest = max(
            (e.last for e in entries if e.last is not None),
            key=lambda last: last.finished_at,
            default=None,
        )
        if len(entries) == 1 and entries[0].partition is None:
            state_text = entries[0].state.value
        else:
            state_text = _partition_states(graph, asset, entries)
        many = len(entries) > 1
        reasons = dict.fromkeys(
            reasons_text(e.reasons, graph, with_keys=not many) for e in entries if e.reasons
        )
        rows.append(
            [
                asset,
                state_text,
                checks_summary([result for e in entries for result in e.checks]),
                when(newest.finished_at) if newest else "-",
                short(newest.run_id) if newest else "-",
                "; ".join(dict.fromkeys("; ".join(reasons).split("; "))) if reasons else "",
            ]
        )
    headers = ["ASSET", "STATE", "CHECKS", "LAST MATERIALIZED (UTC)", "RUN", "WHY"]
    if any(state.attempt is not None for state in states):
        # The services look attempts up; states built by hand may leave them out.
        for row, entries in zip(rows, by_asset.values(), strict=True):
            row.append(_attempts_summary(entries))
        headers.append("LAST ATTEMPT (UTC)")
    if any(state.overdue for state in states):
        for row, entries in zip(rows, by_asset.values(), strict=True):
            row.append(overdue_text([o for e in entries for o in e.overdue], now) or "-")
        headers.append("LATE")
    return table(headers, rows)


def late_lines(found: Sequence[Overdue], now: datetime | None = None) -> list[str]:
    """The lines `plan` adds under the plan when selected assets are late: a blank line,
    `Late:` and one line per asset (none when nothing is late)."""
    if not found:
        return []
    by_asset: dict[str, list[Overdue]] = {}
    for entry in found:
        by_asset.setdefault(entry.asset, []).append(entry)
    lines = ["", "Late:"]
    lines += [f"  {asset}  {overdue_text(entries, now)}" for asset, entries in by_asset.items()]
    return lines


def overdue_text(found: Sequence[Overdue], now: datetime | None = None) -> str:
    """What one asset is late by, in one cell: `overdue by 2 h 14 min (freshness 6h)`;
    several partitions late by one deadline are one entry with their count."""
    from datetime import UTC

    if not found:
        return ""
    now = now or datetime.now(UTC)
    by_rule: dict[str, list[Overdue]] = {}
    for entry in found:
        by_rule.setdefault(entry.rule, []).append(entry)
    parts = []
    for entries in by_rule.values():
        text = max(entries, key=lambda e: e.overdue_by(now)).describe(now)
        keys = [e.partition for e in entries if e.partition]
        if len(keys) == 1:
            text = f"{keys[0]} {text}"
        elif keys:
            text = f"{len(keys)} partitions {text}"
        parts.append(text)
    return "; ".join(parts)


def checks_summary(results: Sequence[CheckRecord]) -> str:
    """`4 passed`, or `1 failed: unique(id) | 3 passed` (over every partition)."""
    if not results:
        return "-"
    failed = sorted({r.check for r in results if not r.passed and r.severity == "error"})
    warned = sorted({r.check for r in results if not r.passed and r.severity != "error"})
    passed = sum(1 for r in results if r.passed)
    parts = []
    if failed:
        parts.append(f"{len(failed)} failed: {', '.join(failed)}")
    if warned:
        parts.append(f"{len(warned)} warned: {', '.join(warned)}")
    if passed:
        parts.append(f"{passed} passed")
    return " | ".join(parts)


def _partition_states(graph: AssetGraph | None, asset: str, entries: list[AssetStatus]) -> str:
    """Runs of partitions in one state, in key order, each as ranges."""
    from assetflow.planner.explain import key_ranges

    ordered = sorted(entries, key=lambda e: e.partition or "")
    runs: list[tuple[str, list[str]]] = []
    for entry in ordered:
        if runs and runs[-1][0] == entry.state.value:
            runs[-1][1].append(entry.partition or "")
        else:
            runs.append((entry.state.value, [entry.partition or ""]))
    parts = []
    for state, keys in runs:
        text = key_ranges(graph, asset, keys)
        if len(keys) > 1 and text.endswith(")") and "," not in text:
            ranges, count = text.rsplit(" (", 1)
            parts.append(f"{ranges} {state} ({count}")
        else:
            parts.append(f"{text} {state}")
    return " | ".join(parts)


def checks_table(results: Sequence[CheckRecord], graph: AssetGraph | None = None) -> str:
    """The `check` output: one row per asset, check and outcome, partitions as ranges."""
    from assetflow.planner.explain import key_ranges

    if not results:
        return "No checks ran: no selected asset with checks has been materialized."
    groups: dict[tuple[str, str, str], list[CheckRecord]] = {}
    for result in results:
        outcome = (
            "passed" if result.passed else ("failed" if result.severity == "error" else "warned")
        )
        groups.setdefault((result.asset, result.check, outcome), []).append(result)
    rows = []
    for (asset, name, outcome), found in groups.items():
        keys = [r.partition for r in found if r.partition is not None]
        where = key_ranges(graph, asset, keys) if keys else "-"
        message = next((r.message for r in found if r.message), "")
        rows.append([asset, name, outcome, where, message if outcome != "passed" else ""])
    return table(["ASSET", "CHECK", "RESULT", "PARTITIONS", "MESSAGE"], rows)


def step_label(item: Step | StepResult | AssetStatus) -> str:
    return item.asset if item.partition is None else f"{item.asset}[{item.partition}]"
