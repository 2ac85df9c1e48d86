"""Normalisation: a checked definition with every default applied and every shorthand expanded,
the form the plan and its content hash are made of (:mod:`nexus_temporal.dsl.compiler`).

Changing what this produces for an existing definition changes its content hash and strands
the executions pinned to it: a new field's default must normalise to "left out".
"""

from __future__ import annotations

from typing import Literal

from nexus_temporal.dsl.schema import (
    CompensationSpec,
    Definition,
    FunctionSpec,
    MapState,
    ParallelState,
    RetrySpec,
    State,
    TaskState,
)

DEFAULT_TIMEOUT = 60.0
#: Express tasks are local activities: short calls only (see docs/dsl.md, "express mode").
EXPRESS_DEFAULT_TIMEOUT = 10.0


def normalise(definition: Definition) -> Definition:
    """Every default applied and every shorthand expanded: what the plan (and its content
    hash) is made of."""
    return definition.model_copy(
        update={"states": tuple(_normalise_state(definition, s) for s in definition.states)}
    )


def _retry(value: int | RetrySpec | None) -> RetrySpec | None:
    if isinstance(value, int):
        return RetrySpec(max_attempts=value)
    return value


def _express_or_none(mode: str) -> Literal["express"] | None:
    """Normalised plans say ``mode`` only when it is express: a regular task's plan (and so its
    content hash) stays what it was before modes existed."""
    return "express" if mode == "express" else None


def _normalise_state(definition: Definition, state: State) -> State:
    if isinstance(state, ParallelState):
        branches = tuple(
            b.model_copy(
                update={"states": tuple(_normalise_state(definition, s) for s in b.states)}
            )
            for b in state.branches
        )
        return state.model_copy(update={"branches": branches})
    if isinstance(state, MapState):
        fn = definition.functions.get(state.action or "")
        spec = fn if isinstance(fn, FunctionSpec) else None
        return state.model_copy(
            update={
                "states": None
                if state.states is None
                else tuple(_normalise_state(definition, s) for s in state.states),
                "retry": _retry(state.retry)
                or (spec.retry if spec else None)
                or definition.defaults.retry
                or RetrySpec(),
                "mode": _express_or_none(state.mode or definition.mode),
                "timeout": state.timeout
                or (spec.timeout if spec else None)
                or definition.defaults.timeout
                or (
                    EXPRESS_DEFAULT_TIMEOUT
                    if (state.mode or definition.mode) == "express"
                    else DEFAULT_TIMEOUT
                ),
                "task_queue": state.task_queue
                or (spec.task_queue if spec else None)
                or definition.defaults.task_queue,
            }
        )
    if not isinstance(state, TaskState):
        return state
    fn = definition.functions.get(state.action)
    spec = fn if isinstance(fn, FunctionSpec) else None
    of = state.on_failure
    retry = (
        _retry(state.retry)
        or _retry(of.retry if of else None)
        or (spec.retry if spec else None)
        or definition.defaults.retry
        or RetrySpec()
    )
    if of and of.backoff:
        retry = retry.model_copy(
            update={"backoff_coefficient": 2.0 if of.backoff == "exponential" else 1.0}
        )
    compensate = state.compensate or (of.compensate if of else None)
    if isinstance(compensate, str):
        compensate = CompensationSpec(action=compensate)
    if compensate is not None and compensate.retry is None:
        compensate = compensate.model_copy(update={"retry": RetrySpec(max_attempts=5)})
    mode = state.mode or definition.mode
    timeout = (
        state.timeout
        or (spec.timeout if spec else None)
        or definition.defaults.timeout
        or (EXPRESS_DEFAULT_TIMEOUT if mode == "express" else DEFAULT_TIMEOUT)
    )
    return state.model_copy(
        update={
            "mode": _express_or_none(mode),
            "retry": retry,
            "compensate": compensate,
            "timeout": timeout,
            "schedule_to_close": state.schedule_to_close or definition.defaults.schedule_to_close,
            "heartbeat": state.heartbeat or definition.defaults.heartbeat,
            "task_queue": state.task_queue
            or (spec.task_queue if spec else None)
            or definition.defaults.task_queue,
            "catch": tuple(of.catch if of else ()) + tuple(state.catch),
            "on_failure": None,
        }
    )


# --- graph and reference checks --------------------------------------------------------------
