"""RetryPolicy: how often, after how long, and on which errors a failed asset is tried again."""

from __future__ import annotations

import random
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

#: What `retry_on` means when not given: any error of the user's code.
DEFAULT_RETRY_ON: tuple[type[BaseException], ...] = (Exception,)


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """Retries of one asset, as `@asset(retries=3, retry_delay=2.0, backoff=2.0, jitter=0.2,
    retry_on=(ConnectionError,))` declares them.

    The delay before retry n (1 for the first retry) is `retry_delay[n - 1]` (the
    last one repeating) when a list is given, else `retry_delay * backoff ** (n - 1)`;
    then it is multiplied by a random factor in `[1 - jitter, 1 + jitter]`, so that
    many partitions failing together do not all retry at the same instant.
    """

    retries: int = 0
    retry_delay: float | tuple[float, ...] = 0.0
    backoff: float = 1.0
    jitter: float = 0.0
    retry_on: tuple[type[BaseException], ...] = DEFAULT_RETRY_ON

    @property
    def attempts(self) -> int:
        """How many times the asset may run in all: the first try and the retries."""
        return 1 + self.retries

    def should_retry(self, error: BaseException, attempt: int) -> bool:
        """Whether attempt number `attempt` (1 for the first), which raised `error`, is
        followed by another."""
        return attempt < self.attempts and isinstance(error, self.retry_on)

    def delay(self, retry: int, rng: random.Random) -> float:
        """Seconds to wait before retry number `retry` (1 for the first retry)."""
        if isinstance(self.retry_delay, tuple):
            if not self.retry_delay:
                return 0.0
            base = self.retry_delay[min(retry, len(self.retry_delay)) - 1]
        else:
            base = self.retry_delay * self.backoff ** (retry - 1)
        if self.jitter:
            base *= rng.uniform(1 - self.jitter, 1 + self.jitter)
        return max(base, 0.0)


def make_policy(
    retries: int = 0,
    retry_delay: float | Sequence[float] = 0.0,
    backoff: float = 1.0,
    jitter: float = 0.0,
    retry_on: type[BaseException] | Iterable[type[BaseException]] | None = None,
) -> RetryPolicy:
    """The policy of `@asset`'s retry settings, stored as given: `policy_problems` says
    what is wrong with them when the project loads, with every other problem."""
    delays = tuple(retry_delay) if isinstance(retry_delay, Sequence) else retry_delay
    if retry_on is None:
        on: Any = DEFAULT_RETRY_ON
    elif isinstance(retry_on, type):
        on = (retry_on,)
    else:
        # Kept as given when not iterable: policy_problems names the wrong value.
        on = tuple(retry_on) if _iterable(retry_on) else retry_on
    return RetryPolicy(retries, delays, backoff, jitter, on)


def policy_problems(policy: RetryPolicy) -> list[str]:
    """What is wrong with a policy's settings, each as a sentence (empty when fine)."""
    problems = []
    if isinstance(policy.retries, bool) or not isinstance(policy.retries, int):
        problems.append(f"retries={policy.retries!r} must be a whole number (e.g. retries=3)")
    elif policy.retries < 0:
        problems.append(f"retries={policy.retries} must not be negative")
    delays = policy.retry_delay if isinstance(policy.retry_delay, tuple) else (policy.retry_delay,)
    if not all(_number(d) and d >= 0 for d in delays):
        problems.append(
            f"retry_delay={policy.retry_delay!r} must be seconds (a number >= 0) or a list "
            "of them (e.g. retry_delay=[1, 10, 60])"
        )
    if not _number(policy.backoff) or policy.backoff < 1:
        problems.append(f"backoff={policy.backoff!r} must be a number >= 1 (2 doubles each delay)")
    if not _number(policy.jitter) or not 0 <= policy.jitter <= 1:
        problems.append(f"jitter={policy.jitter!r} must be a fraction from 0 to 1 (e.g. 0.2)")
    on = policy.retry_on
    if not isinstance(on, tuple) or not all(
        isinstance(kind, type) and issubclass(kind, BaseException) for kind in on
    ):
        problems.append(
            f"retry_on={on!r} must be exception classes (e.g. retry_on=(ConnectionError, "
            "TimeoutError))"
        )
    return problems


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _iterable(value: Any) -> bool:
    try:
        iter(value)
    except TypeError:
        return False
    return not isinstance(value, str)
