"""Uncertain outcomes: a task that failed for good may still have done its side effect.

Workflow code: deterministic. It classifies the failure Temporal recorded in history (the
``ActivityError`` of the task's activity and its cause) and builds the compensation of a task
whose outcome is uncertain (docs/dsl.md §11, *Uncertain outcomes*).

A failure is **certain** (the action did nothing) only when it is a typed business error the
function declared final: an ``ApplicationError`` raised non-retryable, or whose type the task's
``retry.non_retryable`` lists. Everything else is **uncertain**: a timeout of any kind (start-
to-close, heartbeat, schedule-to-close, and the adaptive policy's worker-side ``AttemptTimedOut``,
even when listed non-retryable: the attempt may have completed after the deadline), a
retryable error whose attempts or time ran out (the last attempt may have done the work and
lost its reply), the retry policy's own refusals (``RetryBudgetExhausted``, ``CircuitOpen``:
earlier attempts may have run), and anything the workflow cannot type. Under ``policy:
adaptive`` a non-retryable error is certain only when ``retry.non_retryable`` lists its type,
because the worker also ends retries that have no time left by re-raising the last error
non-retryable (docs/resilience.md): the workflow cannot tell the two apart, so it assumes the
worst. Compensations are therefore required to tolerate "nothing to undo".
"""

from __future__ import annotations

from typing import Any

from temporalio.exceptions import (
    ActivityError,
    ApplicationError,
    ChildWorkflowError,
    RetryState,
    TimeoutError,
)

from interpreters.context import PendingCompensation, RunContext
from interpreters.errors import WORKER_TIMEOUT, NexusError
from interpreters.states.data import evaluate
from nexus_temporal.dsl.schema import CompensationSpec, RetrySpec
from nexus_temporal.protocol import CIRCUIT_OPEN, RETRY_BUDGET_EXHAUSTED

__all__ = ["PATCH", "REFUSALS", "is_uncertain", "uncertain_compensation"]

#: The ``workflow.patched`` id guarding the uncertain-outcome semantics: executions that ran
#: before it replay unchanged (a failed task registered no compensation then).
PATCH = "nexus-compensate-uncertain"
#: Error types of the retry machinery itself: the target was not (or no longer) called, but
#: earlier attempts of the same activity may have been.
REFUSALS = frozenset({RETRY_BUDGET_EXHAUSTED, CIRCUIT_OPEN})


def is_uncertain(exc: BaseException, retry: RetrySpec) -> bool:
    """Whether the activity failure ``exc`` may hide a side effect (see the module doc)."""
    retry_state: RetryState | None = None
    cause: BaseException | None = exc
    while isinstance(cause, (ActivityError, ChildWorkflowError)):
        if retry_state is None:
            retry_state = cause.retry_state
        if cause.cause is None:
            break
        cause = cause.cause
    if isinstance(cause, TimeoutError):
        return True
    if not isinstance(cause, ApplicationError):
        return True
    error_type = cause.type or "Error"
    if error_type in REFUSALS or error_type == WORKER_TIMEOUT:
        return True
    declared = error_type in retry.non_retryable
    final = cause.non_retryable or declared or retry_state is RetryState.NON_RETRYABLE_FAILURE
    if not final:
        return True  # retryable: its attempts (or its schedule-to-close) ran out
    if retry.policy == "adaptive" and not declared:
        return True  # may be the worker's "no time left" ending of a retryable error
    return False


def uncertain_compensation(
    ctx: RunContext,
    *,
    state: str,
    comp: CompensationSpec,
    data: Any,
    action: str,
    error: NexusError,
    key: str,
    task_queue: str | None,
    express: bool,
) -> PendingCompensation:
    """The compensation of a task whose ``action`` failed with an uncertain outcome.

    Its ``input`` is evaluated over the data the task started with, where the task's own
    entry (its name) is ``{"uncertain": true, "function": action, "error": {...}}`` instead of
    a result: a field of the result the input refers to is undefined. If the expression
    fails on that, the undo gets that data itself.
    """
    view = dict(data) if isinstance(data, dict) else {"input": data}
    view[state] = {"uncertain": True, "function": action, "error": error.to_data()}
    try:
        payload = view if comp.input is None else evaluate(comp.input, view, ctx, view, state)
    except NexusError:
        payload = view
    target = ctx.plan.target(comp.action)
    defaults = ctx.plan.definition.defaults
    return PendingCompensation(
        state=state,
        action=comp.action,
        spec=comp,
        payload=payload,
        key=key,
        timeout=comp.timeout or target.spec.timeout or defaults.timeout or 60.0,
        task_queue=task_queue,
        express=express,
    )
