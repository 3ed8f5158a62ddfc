"""Render a Plan for people, walking the steps `run` executes (its JSON twin is in views/)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

# Re-exported: why.py still imports split_key_text from here.
from assetflow.keys import split_key_text as split_key_text
from assetflow.planner.staleness import Reason, Status, Verdict
from assetflow.textwidth import display_width, pad

if TYPE_CHECKING:
    from assetflow.graph import AssetGraph
    from assetflow.planner.plan import Plan, Step


def plan_text(plan: Plan, graph: AssetGraph | None = None) -> str:
    """The `plan` command's output: steps in order with state and reasons, then what is fresh.

    Consecutive partitions of one asset with the same state and reasons share a
    line, as ranges (`clean_records[2026-03-01..2026-03-31 (31)]`); `graph`
    gives the partition definitions that say which keys are consecutive.
    """
    fresh = plan.count(Status.FRESH)
    warnings = [f"Warning: {warning}" for warning in plan.warnings]
    if plan.is_empty:
        return "\n".join([*warnings, nothing_to_do(plan)])
    stale, waiting = plan.count(Status.STALE), plan.count(Status.WAITING)
    header = f"Plan for {plan.selection!r}"
    if plan.partitions:
        header += f" ({plan.partitions})"
    header += f": {stale} stale, {waiting} waiting, {fresh} fresh"
    rows = []
    for steps in _groups(plan.steps):
        first = steps[0]
        label = labelled(graph, first.asset, [step.partition for step in steps])
        reasons = reasons_text(first.reasons, graph, with_keys=len(steps) == 1)
        rows.append((label, first.status.value, reasons))
    width = max(display_width(label) for label, _, _ in rows)
    lines = [*warnings, header, ""]
    for number, (label, status, reasons) in enumerate(rows, start=1):
        lines.append(f"  {number:>3}. {pad(label, width)}  {status:<7}  {reasons}")
    if waiting:
        lines += ["", "Waiting steps run only if an upstream rebuild changes its data."]
    if fresh:
        by_asset: dict[str, list[str | None]] = {}
        for verdict in plan.fresh:
            by_asset.setdefault(verdict.asset, []).append(verdict.partition)
        names = ", ".join(labelled(graph, asset, keys) for asset, keys in by_asset.items())
        lines += ["", f"Fresh (will not run): {names}"]
    return "\n".join(lines)


def nothing_to_do(plan: Plan) -> str:
    """The line for a plan with no steps: how many assets (and partitions) are fresh."""
    text = f"Nothing to do: {_count_text(plan.fresh)} fresh"
    return text + (f" for {plan.partitions}." if plan.partitions else ".")


def _groups(steps: tuple[Step, ...]) -> list[list[Step]]:
    """Consecutive steps of one asset with the same state and kinds of reasons."""
    groups: list[list[Step]] = []
    for step in steps:
        if groups and _signature(groups[-1][-1]) == _signature(step) and step.partition:
            groups[-1].append(step)
        else:
            groups.append([step])
    return groups


def _signature(step: Step) -> tuple[Any, ...]:
    return (
        step.asset,
        step.partition is None,
        step.status,
        tuple((r.kind, _asset_of(r.upstream), r.details) for r in step.reasons),
    )


def _asset_of(upstream: str | None) -> str | None:
    return split_key_text(upstream)[0]


def reasons_text(
    reasons: tuple[Reason, ...], graph: AssetGraph | None = None, *, with_keys: bool = True
) -> str:
    """Reasons on one line, those about several partitions of one upstream asset merged:
    `upstream stale: clean_records[2026-03-01..2026-03-07 (7)]`. Without keys (for a
    line that stands for many partitions), just `upstream stale: clean_records`."""
    groups: dict[tuple[Any, ...], list[str]] = {}
    for reason in reasons:
        asset, partition = split_key_text(reason.upstream)
        keys = groups.setdefault((reason.kind, asset, reason.details, reason.upstream), [])
        if partition is not None:
            groups.pop((reason.kind, asset, reason.details, reason.upstream))
            groups.setdefault((reason.kind, asset, reason.details, None), []).append(partition)
    parts = []
    for (kind, asset, details, whole), keys in groups.items():
        text = kind.value
        if asset:
            text += f": {whole or asset}"
            if keys and with_keys:
                text += f"[{key_ranges(graph, asset, keys)}]"
        if details:
            text += f": {', '.join(details)}"
        parts.append(text)
    return "; ".join(parts)


def _count_text(verdicts: tuple[Verdict, ...]) -> str:
    assets = len({v.asset for v in verdicts})
    partitions = sum(1 for v in verdicts if v.partition is not None)
    text = f"{assets} {'asset' if assets == 1 else 'assets'}"
    if partitions:
        text += f" ({partitions} {'partition' if partitions == 1 else 'partitions'})"
    return text


def labelled(graph: AssetGraph | None, asset: str, keys: list[str | None]) -> str:
    """`asset`, or `asset[ranges]` for some of its partitions."""
    named = [key for key in keys if key is not None]
    if not named:
        return asset
    return f"{asset}[{key_ranges(graph, asset, named)}]"


def key_ranges(graph: AssetGraph | None, asset: str, keys: list[str]) -> str:
    """Partition keys as short ranges, e.g. `2026-03-01..2026-03-14 (14), 2026-03-16`."""
    from assetflow.partitions import compact

    definition = graph.spec(asset).partitions if graph is not None and asset in graph else None
    if definition is None:
        ordered = sorted(keys)
        if len(ordered) == 1:
            return ordered[0]
        return f"{ordered[0]}..{ordered[-1]} ({len(ordered)})"
    # A key the definition no longer has (a removed dynamic key) is listed as it is.
    known = [key for key in keys if definition.has_key(key)]
    gone = sorted({key for key in keys if not definition.has_key(key)})
    return ", ".join([*(part.render() for part in compact(known, definition)), *gone])
