"""Static retry policies: NEXUS ``retry:`` specs as Temporal retry policies.

Temporal is the only retry layer; providers make one attempt per activity attempt.
"""

from __future__ import annotations

from datetime import timedelta
from functools import lru_cache

from temporalio.common import RetryPolicy

from nexus_temporal.dsl.schema import RetrySpec


@lru_cache(maxsize=1024)
def to_retry_policy(spec: RetrySpec) -> RetryPolicy:
    return RetryPolicy(
        initial_interval=timedelta(seconds=spec.initial_interval),
        backoff_coefficient=spec.backoff_coefficient,
        maximum_interval=(
            timedelta(seconds=spec.maximum_interval) if spec.maximum_interval else None
        ),
        maximum_attempts=spec.max_attempts,
        non_retryable_error_types=list(spec.non_retryable) or None,
    )
