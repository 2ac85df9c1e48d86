"""``retry.retry_on``: retry only the listed error types (Step Functions' ``Retry`` semantics).

Temporal's retry policy can only exclude error types, so when ``retry_on`` is set each attempt
is one activity execution and the interpreter waits between attempts on durable timers
(``initial_interval`` × ``backoff_coefficient``ⁿ, capped by ``maximum_interval``). With
``jitter: full`` (also without ``retry_on``) each delay is drawn uniformly in [0, delay] from
``workflow.random()``, seeded by Temporal, so a replay draws the same delays. Workflow code:
deterministic (timers and the workflow's random only).
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
    """Run ``call`` under ``retry``; with ``retry_on``, retry only matching errors; with
    ``jitter: full``, wait a random part of each delay."""
    if retry.retry_on is None and retry.jitter == "none":
        return await call(retry)
    retry_on = retry.retry_on if retry.retry_on is not None else ("*",)
    once = retry.model_copy(update={"max_attempts": 1, "retry_on": None, "jitter": "none"})
    attempt, delay = 1, retry.initial_interval
    while True:
        try:
            return await call(once)
        except NexusError as err:
            if (
                not matches(retry_on, err.type)
                or err.type in retry.non_retryable
                or (retry.max_attempts and attempt >= retry.max_attempts)
            ):
                raise
        wait = min(delay, retry.maximum_interval) if retry.maximum_interval else delay
        if retry.jitter == "full":
            wait = max(0.001, workflow.random().uniform(0, wait))
        await workflow.sleep(timedelta(seconds=wait), summary=f"{state} retry {attempt}")
        attempt += 1
        delay *= retry.backoff_coefficient
