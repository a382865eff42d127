"""How often and how soon an analysis that failed transiently runs again."""

from __future__ import annotations

import random
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """Exponential backoff with a cap and a little jitter.

    ``max_attempts`` counts every run of one analysis: retries after a
    transient failure and re-runs after a lost processor alike.
    """

    max_attempts: int = 3
    base_seconds: float = 1.0
    max_seconds: float = 30.0

    def delay(self, failed_attempt: int) -> float:
        """Seconds to wait after run number ``failed_attempt`` failed."""
        exponential = self.base_seconds * float(2 ** max(failed_attempt - 1, 0))
        capped = min(exponential, self.max_seconds)
        # Jitter spreads retries of many analyses against one host.
        return capped * random.uniform(0.8, 1.0)  # noqa: S311 (not cryptographic)

    def may_run(self, attempt: int) -> bool:
        return attempt <= self.max_attempts
