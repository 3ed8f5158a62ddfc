"""Errors of finding a run by its id (or a prefix of it) and of acting on it: all exit 2."""

from __future__ import annotations

from collections.abc import Sequence

from assetflow.errors import EXIT_USAGE, StoreError, UsageError
from assetflow.store.records import RunRecord

#: How many candidate run ids an "ambiguous prefix" error lists.
CANDIDATES_SHOWN = 10
#: Where a user finds run ids.
RUNS_HINT = "`assetflow runs` lists recent runs with their ids"


class AmbiguousRunIdError(StoreError):
    """A run id prefix matches several runs: the user's input is wrong, so it exits 2."""

    exit_code = EXIT_USAGE

    def __init__(self, prefix: str, candidates: Sequence[str], message: str, *, hint: str):
        self.prefix = prefix
        #: the matching run ids, in id order (at most ``CANDIDATES_SHOWN + 1``)
        self.candidates = tuple(candidates)
        super().__init__(message, hint=hint)


def ambiguous_run_error(
    prefix: str, candidates: Sequence[str], location: str
) -> AmbiguousRunIdError:
    """The error for a run id prefix that matches several runs.

    Args:
        prefix: What the user typed.
        candidates: Matching run ids in order, at most ``CANDIDATES_SHOWN + 1``.
        location: Where the store is, for the message.
    """
    shown = ", ".join(candidates[:CANDIDATES_SHOWN])
    more = " and more" if len(candidates) > CANDIDATES_SHOWN else ""
    return AmbiguousRunIdError(
        prefix,
        candidates,
        f"run id prefix '{prefix}' is ambiguous in {location}: it matches {shown}{more}.",
        hint="Give more characters of the run id (`assetflow runs` lists recent runs).",
    )


class UnknownRunError(UsageError):
    """No run id starts with what was given."""

    def __init__(self, prefix: str, *, hint: str = f"{RUNS_HINT}.") -> None:
        self.prefix = prefix
        super().__init__(f"no run has an id starting with '{prefix}'.", hint=hint)


class RunFinishedError(UsageError):
    """A cancel was asked of a run that is no longer running."""

    def __init__(self, run: RunRecord) -> None:
        self.run = run
        when = (
            "at an unrecorded time"
            if run.finished_at is None
            else f"at {run.finished_at:%Y-%m-%d %H:%M:%S} UTC"
        )
        super().__init__(
            f"run {run.run_id} cannot be cancelled: it already finished ({run.status.value}) "
            f"{when}.",
            hint=f"Only a running run can be cancelled; {RUNS_HINT} and statuses.",
        )
