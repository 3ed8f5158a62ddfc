"""One step's attempts: load the inputs, run the asset, retry as its policy says.

This runs wherever the step runs: on the coordinator's thread (in-process
executor) or in a worker process. It never touches the metadata store; what
happened comes back as `Attempts` for the coordinator to record.
"""

from __future__ import annotations

import os
import random
import socket
import time
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import TYPE_CHECKING, Any, NamedTuple

from assetflow.errors import AssetFailedError, AssetflowError, StoreError
from assetflow.execution.inputs import ParamInput, load_inputs
from assetflow.execution.interrupts import StepCancelled, interruptible
from assetflow.execution.logs import StepLog
from assetflow.execution.step import StepOutput, run_step
from assetflow.io.atomic import deferring_syncs
from assetflow.typecheck import TypeCheckError

if TYPE_CHECKING:
    from pathlib import Path

    from assetflow.asset import AssetSpec
    from assetflow.clock import Clock
    from assetflow.context import RunContext
    from assetflow.io import IOSettings
    from assetflow.planner.plan import Step


@dataclass(frozen=True, slots=True)
class Work:
    """Everything needed to run one step, prepared by the coordinator."""

    step: Step
    spec: AssetSpec
    params: tuple[ParamInput, ...]
    context: RunContext
    started_at: datetime
    checks: tuple[Any, ...] = ()
    #: later steps of the run read the output: a worker keeps it in memory for them
    keep: bool = False
    #: the number of this submission's first attempt: above 1 when earlier attempts were
    #: lost with their worker, so that the step's retry policy counts them too
    first_attempt: int = 1


class Worker(NamedTuple):
    """The process a step's attempts ran in: a worker process, or the coordinator's own
    for the in-process executor."""

    host: str
    pid: int


def this_worker() -> Worker:
    """The process this is called in, on this machine."""
    return Worker(socket.gethostname(), os.getpid())


class Retried(NamedTuple):
    """One attempt that failed and was retried."""

    attempt: int
    started_at: datetime
    failed_at: datetime
    message: str


@dataclass(frozen=True, slots=True)
class Attempts:
    """How a step's attempts went: the last outcome, and each earlier failed attempt."""

    outcome: StepOutput | AssetflowError
    #: each retried attempt, in order
    retried: tuple[Retried, ...] = ()
    #: what each attempt wrote (stdout, stderr, asset logs), in attempt order
    logs: tuple[str, ...] = ()
    #: when the last attempt started; None when no attempt started (the step could not
    #: be handed to a worker, or its worker was lost before it said)
    started_at: datetime | None = None
    #: where the attempts ran; None when that is not known
    worker: Worker | None = None

    @property
    def count(self) -> int:
        return len(self.retried) + 1


@dataclass(frozen=True, slots=True)
class Retrying:
    """What retries need besides the policy: a way to wait, randomness, the time."""

    clock: Clock
    sleep: Callable[[float], None] = time.sleep
    rng: random.Random = field(default_factory=random.Random)


def run_attempts(
    work: Work,
    state_dir: Path,
    retrying: Retrying,
    on_attempt: Callable[[int], None] | None = None,
    settings: IOSettings | None = None,
    *,
    defer_syncs: bool = False,
) -> Attempts:
    """Load the inputs and run the step, retrying as its policy says; assetflow errors are
    returned, not raised, so the coordinator records them wherever the step ran.

    Only errors of the user's code are retried (a timeout is one): a value that
    fails its type check or cannot be stored would fail the same way again.
    ``settings`` are the storage kinds' (the project's `duckdb_wait`). With
    ``defer_syncs`` (the coordinator shares this machine's disks), the output is
    renamed into place unsynced, and the `StepOutput` names the files for the
    coordinator to sync before it records them (``assetflow.io.atomic.deferring_syncs``).

    Raises:
        StepCancelled: The run is being cancelled; nothing of this attempt was written.
    """
    policy = work.spec.retry
    retried: list[Retried] = []
    logs: list[str] = []
    worker = this_worker()
    attempt = work.first_attempt
    while True:
        if on_attempt is not None:
            on_attempt(attempt)
        started_at = retrying.clock.now()
        log = StepLog()
        try:
            with log.capturing():
                with interruptible():
                    inputs = load_inputs(
                        work.params,
                        asset=work.step.asset,
                        partition=work.step.partition,
                        settings=settings,
                    )
                collecting: AbstractContextManager[list[Path]] = (
                    deferring_syncs() if defer_syncs else nullcontext([])
                )
                with collecting as unsynced:
                    output = run_step(
                        work.spec,
                        inputs,
                        work.context,
                        state_dir,
                        work.step.partition,
                        checks=work.checks,
                        now=work.started_at,
                        settings=settings,
                    )
                if unsynced:
                    output = replace(output, unsynced=tuple(unsynced))
            logs.append(log.text())
            return Attempts(output, tuple(retried), tuple(logs), started_at, worker)
        except AssetFailedError as error:
            logs.append(log.text())
            cause = error.__cause__
            if (
                policy is None
                or cause is None
                or isinstance(cause, AssetflowError)
                or not policy.should_retry(cause, attempt)
            ):
                return Attempts(error, tuple(retried), tuple(logs), started_at, worker)
            retried.append(
                Retried(attempt, started_at, retrying.clock.now(), error.format_message())
            )
            with interruptible():
                retrying.sleep(policy.delay(attempt, retrying.rng))
            attempt += 1
        except (StoreError, TypeCheckError) as error:
            logs.append(log.text())
            return Attempts(error, tuple(retried), tuple(logs), started_at, worker)
        except StepCancelled as cancelled:
            # What the step wrote before it was stopped is kept with the run.
            logs.append(log.text())
            cancelled.logs = tuple(logs)
            cancelled.started_at = started_at
            raise


def failure_message(step: Step, error: AssetflowError) -> str:
    """The text a failed step is recorded with."""
    message = error.format_message()
    if isinstance(error, StoreError):
        # An input could not be read back (deleted, or not of the annotated type):
        # it fails this step, not the run.
        message = f"asset '{step.asset}' could not read its inputs: {message}"
    return message
