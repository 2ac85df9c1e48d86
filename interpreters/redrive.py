"""Workflow side of redrive (docs/operations.md, "Redrive and rerun").

``nexus redrive`` resets a failed execution (Temporal reset) to just before the state that
failed: the new run replays the states that succeeded from history and runs the failed state
again. What the earlier runs did after that point is no longer in the new run's history, so
two things are looked up on the server, by the worker, from those runs' histories (trusted
data, never a start or signal input):

- the compensations that already completed, so a saga that fails again does not undo them
  twice (recorded as ``compensated (earlier run)``);
- the units of a map that succeeded, so only its failed and never-run items run again.

Workflow code: deterministic. A lookup is one activity, made only in a run that was reset
(``workflow.info().original_execution_run_id`` differs from its run id), and only past the
reset point: each lookup is behind a ``workflow.patched`` id of its own, which is false while
the reset run replays events copied from before the reset (where the earlier run made no such
call) and true from there on, and on every later replay of the new run.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError

from nexus_temporal.redrive_protocol import (
    LINEAGE_COMPENSATIONS,
    LINEAGE_MAP_ITEMS,
    REFUSED,
    RERUN_KEY,
    RERUN_SOURCE,
    LineageRequest,
    RerunRequest,
    RerunSource,
)

#: ``workflow.patched`` id: a reset run skips compensations its earlier runs completed.
COMPENSATIONS_PATCH = "nexus-redrive-compensations"
#: ``workflow.patched`` id prefix (``/<state>/<visit>`` follows): a reset run's map keeps the
#: results of the units its earlier runs completed.
MAP_PATCH = "nexus-redrive-map"
#: ``workflow.patched`` id: ``__nexus_rerun__`` starts a rerun (docs/security.md).
RERUN_PATCH = "nexus-rerun"
#: The status of a compensation an earlier run completed (not run again).
EARLIER = "compensated (earlier run)"

_TIMEOUT = timedelta(minutes=2)
_RETRY = RetryPolicy(maximum_attempts=5)


def was_reset() -> bool:
    """Whether this run was made by a reset of another run (deterministic: from the start
    event's attributes, which a reset copies)."""
    info = workflow.info()
    return bool(info.original_execution_run_id) and info.original_execution_run_id != info.run_id


def _request(state: str = "", visit: int = 1) -> LineageRequest:
    info = workflow.info()
    return LineageRequest(
        workflow_id=info.workflow_id, run_id=info.run_id, state=state, visit=visit
    )


async def earlier_compensations() -> set[str]:
    """The idempotency keys of the compensations the runs this run was reset from completed
    (empty for a run that was not reset)."""
    if not was_reset() or not workflow.patched(COMPENSATIONS_PATCH):
        return set()
    keys = await workflow.execute_activity(
        LINEAGE_COMPENSATIONS,
        _request(),
        start_to_close_timeout=_TIMEOUT,
        retry_policy=_RETRY,
        summary="redrive: compensations done in earlier runs",
        result_type=list,
    )
    return {str(k) for k in keys}


async def earlier_map_units(state: str, visit: int) -> dict[str, Any]:
    """``{unit start index: result}`` of the units of this map visit that succeeded in the runs
    this run was reset from (empty for a run that was not reset)."""
    if not was_reset() or not workflow.patched(f"{MAP_PATCH}/{state}/{visit}"):
        return {}
    found = await workflow.execute_activity(
        LINEAGE_MAP_ITEMS,
        _request(state, visit),
        start_to_close_timeout=_TIMEOUT,
        retry_policy=_RETRY,
        summary=f"{state}: items done in earlier runs",
        result_type=dict,
    )
    return {str(k): v for k, v in found.items()}


async def rerun_source(data: Any) -> RerunSource | None:
    """The source of a rerun (``nexus rerun``), proved by the worker from the source's history:
    the state was reached there, and the data is what it was entered with. None: not a rerun."""
    if not isinstance(data, dict) or RERUN_KEY not in data or not workflow.patched(RERUN_PATCH):
        return None
    raw = data[RERUN_KEY]
    if (
        not isinstance(raw, dict)
        or not isinstance(raw.get("workflow_id"), str)
        or not isinstance(raw.get("state"), str)
        or not isinstance(raw.get("run_id"), str | None)
    ):
        raise ApplicationError(
            f"'{RERUN_KEY}' must name a source execution and state "
            '({"workflow_id": ..., "state": ...}); use `nexus rerun`',
            type="InvalidInput",
            non_retryable=True,
        )
    request = RerunRequest(
        workflow_id=raw["workflow_id"],
        run_id=raw.get("run_id"),
        state=raw["state"],
        has_input="input" in raw,
        input=raw.get("input"),
    )
    try:
        return await workflow.execute_activity(
            RERUN_SOURCE,
            request,
            start_to_close_timeout=_TIMEOUT,
            retry_policy=RetryPolicy(maximum_attempts=3, non_retryable_error_types=[REFUSED]),
            summary=f"rerun: {request.workflow_id} from {request.state}",
            result_type=RerunSource,
        )
    except ActivityError as exc:
        cause = exc.cause
        reason = cause.message if isinstance(cause, ApplicationError) else str(cause or exc)
        raise ApplicationError(
            f"cannot rerun '{request.workflow_id}' from '{request.state}': {reason}",
            type=REFUSED,
            non_retryable=True,
        ) from None


def earlier_slice(prior: dict[str, Any] | None, start: int, end: int) -> dict[str, Any] | None:
    """The part of a map's earlier results a shard running items ``[start, end)`` needs."""
    if not prior:
        return None
    return {k: v for k, v in prior.items() if start <= int(k) < end} or None
