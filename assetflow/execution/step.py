"""Run one asset-partition: gather its inputs, call the function, write its output."""

from __future__ import annotations

import time
import traceback
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from assetflow.errors import AssetFailedError, AssetflowError, user_frames
from assetflow.execution.interrupts import StepTimedOut, interruptible

if TYPE_CHECKING:
    from datetime import datetime

    from assetflow.asset import AssetSpec
    from assetflow.checks import CheckOutcome, CheckSpec
    from assetflow.context import RunContext
    from assetflow.io import IOSettings, StoredOutput
    from assetflow.project import Project

#: Where outputs live under the state dir.
DATA_DIR = "data"


@dataclass(frozen=True, slots=True)
class StepOutput:
    """What one successful step produced: the value (for downstream), what was stored,
    and how its checks went."""

    value: Any
    stored: StoredOutput
    duration_s: float
    checks: tuple[CheckOutcome, ...] = ()
    #: the files written and not yet synced (``assetflow.io.atomic.deferring_syncs``):
    #: the coordinator syncs them before it records the step
    unsynced: tuple[Path, ...] = ()


def io_settings(project: Project) -> IOSettings:
    """What the storage kinds are built with for ``project``: its `duckdb_wait`, and its
    named io settings (`[tool.assetflow.io.NAME]`), their DuckDB files made absolute, and
    where the file kinds keep outputs (`storage`)."""
    from assetflow.io import IOSettings
    from assetflow.io.base import NamedIO

    config = project.location.config
    named = {}
    for name, entry in config.io.items():
        options = entry.options()
        if entry.kind == "duckdb" and options.get("database") is not None:
            options["database"] = str(project.root / str(options["database"]))
        named[name] = NamedIO(entry.kind, options)
    storage = None
    if config.storage is not None:
        from assetflow.io.storage import storage_settings

        storage = storage_settings(config.storage, project.root, project.state_dir)
    return IOSettings(lock_timeout=config.duckdb_wait, named=named, storage=storage)


def run_step(
    spec: AssetSpec,
    inputs: Mapping[str, Any],
    context: RunContext,
    state_dir: Path,
    partition: str | None = None,
    checks: Sequence[CheckSpec] = (),
    now: datetime | None = None,
    settings: IOSettings | None = None,
) -> StepOutput:
    """Call the asset's function with its inputs, write what it returns, run its checks.

    Checks run right after the write, on the value in memory; a check that fails
    or raises does not fail the step (its outcome says so, and the coordinator
    decides what it blocks).

    Raises:
        AssetFailedError: The function raised, or its value cannot be stored; the
            original exception is the `__cause__`.
    """
    from assetflow.io import io_kind_for_value, write_output
    from assetflow.io.output import DUCKDB_LOCK_TIMEOUT_S

    started = time.perf_counter()
    kwargs = dict(inputs)
    if spec.wants_context:
        kwargs["context"] = context
    try:
        # Only the user's code can be stopped by a timeout or Ctrl-C: what follows
        # (the type check, the write) always finishes once begun.
        with interruptible(spec.timeout):
            value = spec.fn(**kwargs)
    except (Exception, SystemExit) as error:  # sys.exit() in an asset fails the asset only
        raise AssetFailedError(
            spec.name, partition, describe_failure(spec.name, partition, error)
        ) from error
    from assetflow.typecheck import TypeCheckError, check_output

    try:
        # The return annotation is the asset's contract: checked before anything is
        # written, so a wrong value leaves the previous output current.
        check_output(value, spec.returns, asset=spec.name, partition=partition)
    except TypeCheckError as error:
        raise AssetFailedError(spec.name, partition, error.format_message()) from error
    try:
        kind = spec.kind if spec.kind != "auto" else io_kind_for_value(value, asset=spec.name)
        lock_timeout = settings.lock_timeout if settings is not None else DUCKDB_LOCK_TIMEOUT_S
        stored = write_output(
            spec.name,
            value,
            kind,
            state_dir / DATA_DIR,
            partition=partition,
            lock_timeout=lock_timeout,
            settings=settings,
        )
    except AssetflowError as error:
        raise AssetFailedError(spec.name, partition, error.format_message()) from error
    duration = time.perf_counter() - started
    outcomes: tuple[CheckOutcome, ...] = ()
    if checks:
        from assetflow.checks import run_checks

        outcomes = run_checks(checks, value, partition=partition, now=now, root=context.project_dir)
    return StepOutput(value, stored, duration, outcomes)


def describe_failure(asset: str, partition: str | None, error: BaseException) -> str:
    """The error and the user's own traceback frames (assetflow's frames left out)."""
    frames = user_frames(error)
    if isinstance(error, StepTimedOut):
        text = (
            f"{_where(asset, partition)} {error}, and was stopped; nothing was written. "
            "If it needs longer, raise its @asset(timeout=...)."
        )
        where = "Where it was"
    else:
        detail = "".join(traceback.format_exception_only(type(error), error)).strip()
        text = f"{_where(asset, partition)} raised {detail}"
        where = "Traceback (your code)"
    if frames:
        text += f"\n\n{where}:\n" + "".join(traceback.format_list(frames)).rstrip()
    return text


def _where(asset: str, partition: str | None) -> str:
    return f"asset '{asset}'" + (f" [{partition}]" if partition else "")
