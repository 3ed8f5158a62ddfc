"""`why ASSET`: trace an asset's state back to its causes, with the code diff when code changed."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from assetflow.planner.explain import key_ranges, split_key_text
from assetflow.planner.staleness import REMOVED, Reason, ReasonKind, Status, Verdict, key_text
from assetflow.views.text import short, when

if TYPE_CHECKING:
    from assetflow.planner.plan import Step
    from assetflow.services.history import Explanation
    from assetflow.services.planning import PlanContext
    from assetflow.store.records import MaterializationState

_INDENT = "    "
#: Reasons about one input partition, grouped when many partitions of an input share one.
_PER_INPUT = (ReasonKind.UPSTREAM_STALE, ReasonKind.UPSTREAM_CHANGED)


def why_text(explanation: Explanation) -> str:
    """Explain why an asset (or one partition of it) is fresh, stale or waiting, down to
    the root causes; for a partitioned asset without a partition, the first partition
    that is not fresh (or the newest) is explained."""
    name, partition = explanation.asset, explanation.partition
    context, diffs = explanation.context, explanation.code_diffs
    spec = context.project.graph.spec(name)
    if spec.is_source:
        return _explain_source(name, context)
    verdicts = {
        key_text((step.asset, step.partition)): Verdict(
            step.asset, step.partition, step.status, step.reasons
        )
        for step in context.plan.steps
    }
    verdicts.update({key_text((v.asset, v.partition)): v for v in context.plan.fresh})
    lines: list[str] = []
    if spec.partitions is not None and partition is None:
        mine = _judged(explanation)
        if not mine:
            return f"'{name}' has no complete partitions yet."
        partition = explained_partition(explanation)
        lines.append(
            f"'{name}' has {len(mine)} partitions; explaining {partition} "
            f"(`--partition KEY` for another; `assetflow status '{name}'` shows them all)."
        )
        lines.append("")
    _explain(key_text((name, partition)), verdicts, context, diffs, lines, depth=0, seen=set())
    return "\n".join(lines)


def explained_partition(explanation: Explanation) -> str | None:
    """The partition `why` explains: the one asked for; for a partitioned asset without
    one, the first partition that is not fresh, else the newest; None otherwise."""
    spec = explanation.context.project.graph.spec(explanation.asset)
    if explanation.partition is not None or spec.partitions is None:
        return explanation.partition
    mine = _judged(explanation)
    if not mine:
        return None
    return next((v for v in mine if v.status is not Status.FRESH), mine[-1]).partition


def _judged(explanation: Explanation) -> list[Step | Verdict]:
    """Every verdict of the explained asset's partitions, in plan order."""
    context = explanation.context
    judged: list[Step | Verdict] = [*context.plan.steps, *context.plan.fresh]
    return [v for v in judged if v.asset == explanation.asset]


def _explain(
    label: str,
    verdicts: dict[str, Verdict],
    context: PlanContext,
    diffs: Mapping[tuple[str, str], str],
    lines: list[str],
    depth: int,
    seen: set[str],
) -> None:
    pad = _INDENT * depth
    verdict = verdicts[label]
    key = (verdict.asset, verdict.partition)
    latest = context.snapshot.latest.get(key)
    if label in seen:
        lines.append(f"{pad}'{label}' is {verdict.status.value} (explained above).")
        return
    seen.add(label)
    if verdict.status is Status.FRESH:
        lines.append(
            f"{pad}'{label}' is fresh: {_made(latest)}, and neither its code nor its "
            "inputs changed since."
        )
        return
    kinds = [reason.kind for reason in verdict.reasons]
    if ReasonKind.NEVER_MATERIALIZED in kinds:
        option = f" --partition {verdict.partition}" if verdict.partition else ""
        lines.append(f"{pad}'{label}' has never been materialized.")
        if ReasonKind.LAST_RUN_FAILED in kinds:
            _explain_failure(verdict, context, lines, pad + "  - ")
        lines.append(
            f"{pad}To build it with everything it needs: "
            f"assetflow materialize '+{verdict.asset}'{option}"
        )
        return
    lines.append(f"{pad}'{label}' is {verdict.status.value}: {_made(latest)}, and since then:")
    # Several partitions of one input for the same kind of reason: the first is
    # explained in full, the others are named in one line.
    others: dict[tuple[ReasonKind, str, tuple[str, ...]], list[str]] = {}
    for reason in verdict.reasons:
        asset, partition = split_key_text(reason.upstream)
        group = (reason.kind, asset or "", reason.details)
        if partition is not None and reason.kind in _PER_INPUT:
            if group in others:
                others[group].append(partition)
                continue
            others[group] = []
        _explain_reason(label, reason, verdicts, context, diffs, lines, depth, seen, latest)
    for (kind, asset, details), partitions in others.items():
        if partitions:
            graph = context.project.graph
            what = ": ".join([kind.value, *details])
            lines.append(
                f"{pad}  - and the same for {len(partitions)} more partitions of '{asset}': "
                f"{key_ranges(graph, asset, partitions)} ({what})"
            )


def _explain_failure(verdict: Verdict, context: PlanContext, lines: list[str], pad: str) -> None:
    failure = context.snapshot.failures.get((verdict.asset, verdict.partition))
    message = failure.message.splitlines()[0] if failure and failure.message else ""
    at = f" at {when(failure.at)} UTC" if failure else ""
    run = short(failure.run_id) if failure else "-"
    lines.append(f"{pad}its last attempt failed in run {run}{at}: {message}")


def _explain_reason(
    label: str,
    reason: Reason,
    verdicts: dict[str, Verdict],
    context: PlanContext,
    diffs: Mapping[tuple[str, str], str],
    lines: list[str],
    depth: int,
    seen: set[str],
    latest: MaterializationState | None,
) -> None:
    pad = _INDENT * depth + "  - "
    if reason.kind is ReasonKind.CODE_CHANGED:
        lines.append(
            f"{pad}its code changed" + (f": {', '.join(reason.details)}" if reason.details else "")
        )
        asset = verdicts[label].asset
        if latest is not None and latest.code_version:
            diff = diffs.get((asset, latest.code_version), "")
            if diff:
                lines.extend(_INDENT * (depth + 1) + line for line in diff.splitlines())
    elif reason.kind is ReasonKind.UPSTREAM_CHANGED and REMOVED in reason.details:
        lines.append(
            f"{pad}input '{reason.upstream}' is gone (its partition key was removed): this "
            f"asset last read it at data version {short(reason.old)}, and its data is "
            "no longer among its inputs"
        )
    elif reason.kind is ReasonKind.UPSTREAM_CHANGED:
        origin = f"written by run {short(reason.run_id)}" if reason.run_id else "as observed now"
        lines.append(
            f"{pad}input '{reason.upstream}' changed: it was data version {short(reason.old)} "
            f"when this asset last read it; now it is {short(reason.new)}, {origin}"
        )
    elif reason.kind is ReasonKind.UPSTREAM_STALE:
        upstream = reason.upstream or ""
        lines.append(
            f"{pad}input '{upstream}' will be rebuilt first; this asset runs only "
            "if that changes its data. Because:"
        )
        _explain(upstream, verdicts, context, diffs, lines, depth + 1, seen)
    elif reason.kind is ReasonKind.LAST_RUN_FAILED:
        _explain_failure(verdicts[label], context, lines, pad)
    elif reason.kind is ReasonKind.SOURCE_UNAVAILABLE:
        # The observer's own words: for a file, the path it looked for.
        problem = _unavailable_problem(context, reason.upstream or "")
        lines.append(f"{pad}{reason.render()}" + (f": {problem}" if problem else ""))
    else:
        lines.append(f"{pad}{reason.render()}")


def _unavailable_problem(context: PlanContext, upstream: str) -> str:
    """What went wrong observing a source-partition (`orders[2026-03-02]`), after its
    "could not be observed" preamble, which the reason already says."""
    for (name, partition), message in context.snapshot.unavailable.items():
        if key_text((name, partition)) == upstream:
            after = message.split("could not be observed", 1)[-1]  # [for partition K]: ...
            return after.split(": ", 1)[-1]
    return ""


def _explain_source(name: str, context: PlanContext) -> str:
    key = (name, None)
    if key in context.snapshot.unavailable:
        return f"{context.snapshot.unavailable[key]}\nThe assets that read it fail until it can be."
    version = context.snapshot.observed.get(key)
    observed = f" Its version now is {short(version)}." if version else ""
    return (
        f"'{name}' is a source: it is observed each time assetflow plans, never "
        f"materialized.{observed} The assets that read it are stale when it changes "
        f"(`assetflow status '{name}+'` shows them)."
    )


def _made(latest: MaterializationState | None) -> str:
    if latest is None:
        return "never materialized"
    return f"last materialized by run {short(latest.run_id)} at {when(latest.finished_at)} UTC"
