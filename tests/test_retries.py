"""RetryPolicy: delays (fixed, listed, exponential, jittered) and which errors are retried."""

from __future__ import annotations

import random

import pytest

from assetflow.asset import asset
from assetflow.errors import DefinitionError
from assetflow.graph import build_graph
from assetflow.retries import RetryPolicy, make_policy, policy_problems


def test_attempts_and_which_errors_are_retried():
    policy = make_policy(retries=2, retry_on=(ConnectionError, TimeoutError))
    assert policy.attempts == 3
    assert policy.should_retry(ConnectionError("reset"), attempt=1)
    assert policy.should_retry(TimeoutError(), attempt=2)
    assert not policy.should_retry(TimeoutError(), attempt=3)  # no attempts left
    assert not policy.should_retry(ValueError("bad row"), attempt=1)
    assert make_policy(retries=1).should_retry(ValueError(), attempt=1)  # default: any error
    assert make_policy(retries=1, retry_on=KeyError).retry_on == (KeyError,)


def test_fixed_listed_and_exponential_delays():
    rng = random.Random(0)
    assert [make_policy(3, 2.0).delay(n, rng) for n in (1, 2, 3)] == [2.0, 2.0, 2.0]
    exponential = make_policy(3, 1.5, backoff=2.0)
    assert [exponential.delay(n, rng) for n in (1, 2, 3)] == [1.5, 3.0, 6.0]
    listed = make_policy(4, [1, 10, 60])
    assert [listed.delay(n, rng) for n in (1, 2, 3, 4)] == [1, 10, 60, 60]  # the last repeats


def test_jitter_really_varies_the_delays_within_its_bounds():
    policy = make_policy(retries=5, retry_delay=10.0, jitter=0.2)
    rng = random.Random(42)
    delays = [policy.delay(1, rng) for _ in range(200)]
    assert all(8.0 <= delay <= 12.0 for delay in delays)
    assert len({round(delay, 6) for delay in delays}) > 150
    assert min(delays) < 9.0
    assert max(delays) > 11.0


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"retries": -1}, "retries=-1 must not be negative"),
        ({"retries": 2.5}, r"retries=2\.5 must be a whole number"),
        ({"retries": 1, "retry_delay": -3}, "retry_delay=-3 must be seconds"),
        ({"retries": 1, "backoff": 0.5}, r"backoff=0\.5 must be a number >= 1"),
        ({"retries": 1, "jitter": 2}, "jitter=2 must be a fraction from 0 to 1"),
        ({"retries": 1, "retry_on": ("ConnectionError",)}, "retry_on=.* must be exception classes"),
    ],
)
def test_bad_settings_are_definition_problems(settings, message):
    @asset(**settings)
    def fetch() -> dict:
        return {}

    assert policy_problems(fetch.retry)
    with pytest.raises(DefinitionError, match=message):
        build_graph([fetch])


def test_no_retries_means_no_policy():
    @asset
    def plain() -> dict:
        return {}

    assert plain.retry is None
    assert RetryPolicy().attempts == 1
