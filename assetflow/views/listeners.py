"""The run listeners that print: a line per finished step, or JSON lines for scripts."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING

from assetflow.textwidth import display_width, pad
from assetflow.views.text import FAILURES_SHOWN, duration, short, step_label

if TYPE_CHECKING:
    from assetflow.execution import RunResult, StepResult
    from assetflow.graph import AssetGraph
    from assetflow.planner import Plan, Step


class ConsoleReporter:
    """Prints one line per finished step, and a summary, through an injected `echo`."""

    def __init__(
        self, echo: Callable[[str], None], graph: AssetGraph | None = None, *, quiet: bool = False
    ) -> None:
        self._echo = echo
        self._graph = graph
        #: only failures and the final line (nothing at all when there is nothing to do)
        self._quiet = quiet
        encoding = (getattr(sys.stdout, "encoding", None) or "ascii").lower()
        fancy = encoding.startswith("utf")
        self._marks = {
            "materialized": "✓" if fancy else "+",
            "failed": "✗" if fancy else "x",
            "check failed": "!",
            "skipped": "=",
            "blocked": "-",
            "cancelled": "-",
            "waiting": "…" if fancy else "~",
        }
        self._width = 0

    def run_started(self, run_id: str, plan: Plan) -> None:
        from assetflow.planner import Status
        from assetflow.planner.explain import nothing_to_do

        fresh = plan.count(Status.FRESH)
        if self._quiet:
            return
        if plan.is_empty:
            self._echo(nothing_to_do(plan))
            return
        self._width = max(display_width(step_label(step)) for step in plan.steps)
        count = len(plan.steps)
        waiting = plan.count(Status.WAITING)
        parts = [f"{count} to materialize"]
        if waiting:
            parts.append(f"{waiting} of them only if their inputs change")
        if fresh:
            parts.append(f"{fresh} fresh")
        self._echo(f"Run {short(run_id)}: {', '.join(parts)}")

    def step_started(self, step: Step) -> None:
        pass

    def step_waiting(self, step: Step, message: str) -> None:
        if not self._quiet:
            label = pad(step_label(step), self._width)
            self._echo(f"  {self._marks['waiting']} {label}  {message}")

    def step_finished(self, result: StepResult) -> None:
        if self._quiet:
            return
        mark = self._marks[result.state.value]
        label = pad(step_label(result), self._width)
        if result.state.value in ("materialized", "check failed"):
            rows = f"{result.rows:,} rows" if result.rows is not None else ""
            detail = f"{rows:>14}  {duration(result.duration_s):>8}"
            if result.checks:
                detail += f"  {result.checks}"
            if result.attempts > 1:
                detail += f"  ({result.attempts} attempts)"
        elif result.state.value == "failed":
            detail = "failed" + (
                f" after {result.attempts} attempts" if result.attempts > 1 else ""
            )
        elif result.state.value == "cancelled":
            detail = result.message
        else:
            detail = f"skipped: {result.message}"
        self._echo(f"  {mark} {label}  {detail}".rstrip())

    def run_finished(self, result: RunResult) -> None:
        if result.plan.is_empty:
            return
        failures = result.failures()
        for failure in failures[:FAILURES_SHOWN]:
            self._echo(f"\n{failure.message}")
        if len(failures) > FAILURES_SHOWN:
            self._echo(
                f"\n... and {len(failures) - FAILURES_SHOWN} more failures: "
                f"`assetflow runs` and `assetflow status` show them all."
            )
        self._failed_partitions(failures)
        counts = result.counts()
        never = result.not_started()
        # The steps never started are counted apart, as `assetflow runs` counts them.
        for state in counts:
            if state.value == "cancelled":
                counts[state] -= len(never)
        parts = [f"{counts[state]} {state.value}" for state in sorted(counts, key=str)]
        parts = [part for part in parts if not part.startswith("0 ")]
        if never:
            parts.append(f"{len(never)} not started")
        verdict = {"success": "succeeded", "cancelled": "was cancelled"}.get(
            result.status.value, "failed"
        )
        self._echo(
            f"\nRun {short(result.run_id)} {verdict} in {duration(result.duration_s)}: "
            f"{', '.join(parts)}."
        )
        if never:
            self._echo(f"Not started: {self._labels(never)}.")

    def _labels(self, results: list[StepResult]) -> str:
        """The steps as `asset` or `asset[2026-03-01..2026-03-03]`, asset by asset."""
        from assetflow.planner.explain import labelled

        by_asset: dict[str, list[str | None]] = {}
        for result in results:
            by_asset.setdefault(result.asset, []).append(result.partition)
        return "; ".join(labelled(self._graph, asset, keys) for asset, keys in by_asset.items())

    def _failed_partitions(self, failures: list[StepResult]) -> None:
        from assetflow.planner.explain import labelled

        by_asset: dict[str, list[str | None]] = {}
        for failure in failures:
            if failure.partition is not None:
                by_asset.setdefault(failure.asset, []).append(failure.partition)
        if by_asset:
            listed = "; ".join(
                labelled(self._graph, asset, keys) for asset, keys in by_asset.items()
            )
            self._echo(f"\nFailed partitions: {listed}")


class JsonReporter:
    """One JSON object per line, for scripts: `run_started`, `step_finished`, `run_finished`."""

    def __init__(self, echo: Callable[[str], None]) -> None:
        self._echo = echo

    def _emit(self, event: str, **fields: object) -> None:
        self._echo(json.dumps({"event": event, **fields}, default=str))

    def run_started(self, run_id: str, plan: Plan) -> None:
        from assetflow.planner import Status

        self._emit(
            "run_started",
            run_id=run_id,
            selection=plan.selection,
            partitions=plan.partitions,
            steps=len(plan.steps),
            fresh=plan.count(Status.FRESH),
            warnings=list(plan.warnings),
        )

    def step_started(self, step: Step) -> None:
        pass

    def step_waiting(self, step: Step, message: str) -> None:
        self._emit("step_waiting", asset=step.asset, partition=step.partition, message=message)

    def step_finished(self, result: StepResult) -> None:
        self._emit(
            "step_finished",
            asset=result.asset,
            partition=result.partition,
            state=result.state.value,
            duration_s=round(result.duration_s, 6),
            rows=result.rows,
            attempts=result.attempts,
            checks=result.checks,
            message=result.message,
            worker=({"host": result.worker[0], "pid": result.worker[1]} if result.worker else None),
        )

    def run_finished(self, result: RunResult) -> None:
        self._emit(
            "run_finished",
            run_id=result.run_id,
            status=result.status.value,
            duration_s=round(result.duration_s, 6),
            counts={state.value: count for state, count in sorted(result.counts().items())},
            # The cancelled steps that never started (counted with "cancelled" above).
            not_started=[
                {"asset": r.asset, "partition": r.partition} for r in result.not_started()
            ],
        )
