"""``retry.retry_on``: retry only the listed error types (Step Functions' ``Retry`` semantics).

Temporal's retry policy can only exclude error types, so when ``retry_on`` is set each attempt
is one activity execution and the interpreter waits between attempts on durable timers
(``initial_interval`` × ``backoff_coefficient``ⁿ, capped by ``maximum_interval``). Workflow
code: deterministic (timers only).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

from temporalio import workflow

from interpreters.errors import NexusError, matches
from nexus_temporal.dsl.schema import RetrySpec


async def with_retry_on(
    retry: RetrySpec, call: Callable[[RetrySpec], Awaitable[Any]], state: str
) -> Any:
    """Run ``call`` under ``retry``; with ``retry_on``, retry only matching errors."""
    if retry.retry_on is None:
        return await call(retry)
    once = retry.model_copy(update={"max_attempts": 1, "retry_on": None})
    attempt, delay = 1, retry.initial_interval
    while True:
        try:
            return await call(once)
        except NexusError as err:
            if (
                not matches(retry.retry_on, err.type)
                or err.type in retry.non_retryable
                or (retry.max_attempts and attempt >= retry.max_attempts)
            ):
                raise
        wait = min(delay, retry.maximum_interval) if retry.maximum_interval else delay
        await workflow.sleep(timedelta(seconds=wait), summary=f"{state} retry {attempt}")
        attempt += 1
        delay *= retry.backoff_coefficient
