"""Fallback routing for a task's ``fallback:`` functions.

Workflow code: deterministic. The decision to move on to the next function rests only on the
typed error the previous function's activity recorded in history (a :class:`NexusError`), never
on worker-local state such as a circuit breaker: a breaker that is open shows up here as a
``CircuitOpen`` activity failure.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from interpreters.errors import NexusError
from nexus_temporal.dsl.schema import RetrySpec

CIRCUIT_OPEN = "CircuitOpen"
#: Errors after which the next function is not tried: the workflow itself is going away.
NO_FALLBACK = ("Cancelled",)


def retry_for(retry: RetrySpec, has_next: bool) -> RetrySpec:
    """A function with a fallback after it does not wait out its open breaker: ``CircuitOpen``
    ends its attempts at once so the next function is tried."""
    if not has_next or CIRCUIT_OPEN in retry.non_retryable:
        return retry
    return retry.model_copy(update={"non_retryable": (*retry.non_retryable, CIRCUIT_OPEN)})


async def with_fallback(
    actions: Sequence[str],
    retry: RetrySpec,
    attempt: Callable[[str, RetrySpec], Awaitable[Any]],
    before_next: Callable[[str, NexusError], Awaitable[None]] | None = None,
) -> dict[str, Any]:
    """Call ``actions`` in order until one succeeds.

    Returns ``{"served_by", "result", "failed": [{"function", "type", "message"}]}``; raises
    the last function's error when all fail (its ``details`` list the earlier failures).
    ``before_next(action, error)`` runs after ``action`` failed and before the next one is
    tried (the task undoes an uncertain primary there); an error it raises ends the fallback.
    """
    failed: list[dict[str, Any]] = []
    for i, action in enumerate(actions):
        has_next = i + 1 < len(actions)
        try:
            result = await attempt(action, retry_for(retry, has_next))
        except NexusError as err:
            failed.append({"function": action, "type": err.type, "message": err.message})
            if not has_next or err.type in NO_FALLBACK:
                if len(failed) > 1:
                    err.details = {"original": err.details, "failed": failed}
                raise
            if before_next is not None:
                await before_next(action, err)
            continue
        return {"served_by": action, "result": result, "failed": failed}
    raise AssertionError("with_fallback needs at least one action")
