"""Transient failures are retried with capped exponential backoff."""

from __future__ import annotations

import pytest

from processors.retry import RetryPolicy


def test_backoff_doubles_and_is_capped() -> None:
    policy = RetryPolicy(max_attempts=10, base_seconds=1.0, max_seconds=5.0)
    delays = [policy.delay(n) for n in range(1, 7)]
    for delay, ceiling in zip(delays, [1, 2, 4, 5, 5, 5], strict=True):
        assert ceiling * 0.8 <= delay <= ceiling


@pytest.mark.parametrize(("attempt", "allowed"), [(1, True), (3, True), (4, False)])
def test_attempts_are_counted_against_the_maximum(attempt: int, allowed: bool) -> None:
    assert RetryPolicy(max_attempts=3).may_run(attempt) is allowed
