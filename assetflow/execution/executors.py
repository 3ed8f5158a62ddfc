"""Which executor a run uses, and with how many workers."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from assetflow.errors import UsageError, did_you_mean, suggest

if TYPE_CHECKING:
    from assetflow.project import Project

#: The executors a run can use.
EXECUTORS = ("multiprocess", "inprocess")


def choose_executor(project: Project, executor: str | None, workers: int | None) -> tuple[str, int]:
    """The executor and worker count of a run, from what was asked and the configuration.

    Without an executor, more than one worker means "multiprocess" and one means
    "inprocess"; "multiprocess" without a count takes the configured `workers`,
    else the number of cores. The in-process executor always runs one at a time.

    Raises:
        UsageError: An unknown executor, a count below 1, or several in-process workers.
    """
    if executor is not None and executor not in EXECUTORS:
        raise UsageError(
            f"unknown executor {executor!r}. {did_you_mean(suggest(executor, EXECUTORS))}".rstrip(),
            hint=f"The executors are: {', '.join(EXECUTORS)}.",
        )
    if workers is not None and workers < 1:
        raise UsageError(f"--workers must be 1 or more, not {workers}.")
    if executor is None:
        executor = "multiprocess" if workers is not None and workers > 1 else "inprocess"
    if executor == "inprocess":
        if workers is not None and workers > 1:
            raise UsageError(
                f"the in-process executor runs one step at a time, so --workers {workers} "
                "cannot apply.",
                hint="To fix this, use --executor multiprocess for parallel steps, or "
                "leave --workers out.",
            )
        return executor, 1
    configured = project.location.config.workers
    return executor, workers or configured or os.cpu_count() or 1
