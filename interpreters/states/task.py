"""What happens in a task state: call its action as an activity, store the result, and push
its compensation once it has run."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from functools import partial
from typing import Any

from temporalio import workflow

from interpreters.context import Outcome, PendingCompensation, RunContext
from interpreters.errors import NexusError, from_temporal
from interpreters.fallback import with_fallback
from interpreters.retry import to_retry_policy
from interpreters.selective_retry import with_retry_on
from interpreters.states.data import check_payload_size, evaluate, store
from interpreters.uncertain import PATCH, is_uncertain, uncertain_compensation
from nexus_temporal.dsl.schema import FunctionSpec, RetrySpec, TaskState
from nexus_temporal.protocol import INVOKE_ACTIVITY, InvokeRequest


def provider_options(spec: FunctionSpec) -> dict[str, Any]:
    """The function's provider options (``region``, ``qualifier``) that were set."""
    return {k: v for k, v in (("region", spec.region), ("qualifier", spec.qualifier)) if v}


def _seconds(value: float | None) -> timedelta | None:
    return timedelta(seconds=value) if value is not None else None


async def call_action(
    ctx: RunContext,
    *,
    state: str,
    action: str,
    payload: Any,
    retry: RetrySpec,
    timeout: float | None,
    schedule_to_close: float | None,
    heartbeat: float | None,
    task_queue: str | None,
    summary: str | None,
    key: str,
    express: bool = False,
    on_failure: Callable[[BaseException], None] | None = None,
) -> Any:
    """Schedule one action as an activity (a local activity when ``express``) and translate
    its failure into a NexusError (``on_failure`` sees the raw failure first)."""
    check_payload_size(payload, state, "input")
    target = ctx.plan.target(action)
    if target.activity_type:
        activity: str = target.activity_type
        arg: Any = payload
    else:
        activity = INVOKE_ACTIVITY
        arg = InvokeRequest(
            function=target.function,
            uri=target.uri,
            payload=payload,
            idempotency_key=key,
            state=state,
            method=target.spec.method,
            headers=dict(target.spec.headers),
            options=provider_options(target.spec),
            circuit_breaker=(
                target.spec.circuit_breaker.model_dump(exclude_none=True)
                if target.spec.circuit_breaker
                else None
            ),
            retry_policy=retry.policy,
        )
    try:
        if express:
            # Runs in this worker, recorded as a marker: no task-queue round trip. Retries with
            # longer backoff than the local threshold become durable timers.
            return await workflow.execute_local_activity(
                activity,
                arg,
                start_to_close_timeout=_seconds(timeout),
                schedule_to_close_timeout=_seconds(schedule_to_close),
                retry_policy=to_retry_policy(retry),
                summary=summary,
            )
        return await workflow.execute_activity(
            activity,
            arg,
            start_to_close_timeout=_seconds(timeout),
            schedule_to_close_timeout=_seconds(schedule_to_close),
            heartbeat_timeout=_seconds(heartbeat),
            retry_policy=to_retry_policy(retry),
            task_queue=task_queue or target.spec.task_queue,
            summary=summary,
        )
    except Exception as exc:  # ActivityError: routed by the type history recorded
        if on_failure is not None:
            on_failure(exc)
        raise from_temporal(exc, state) from None


async def run_compensation(ctx: RunContext, comp: PendingCompensation, summary: str) -> None:
    """Run one compensation now, with its own retry and timeout (raises its NexusError)."""
    await call_action(
        ctx,
        state=comp.state,
        action=comp.action,
        payload=comp.payload,
        retry=comp.spec.retry or RetrySpec(max_attempts=5),
        timeout=comp.timeout,
        schedule_to_close=None,
        heartbeat=None,
        task_queue=comp.task_queue,
        summary=summary,
        key=comp.key,
        express=comp.express,
    )


async def run(state: TaskState, data: Any, ctx: RunContext) -> Outcome:
    payload = data if state.input is None else evaluate(state.input, data, ctx, data, state.name)
    assert state.retry is None or isinstance(state.retry, RetrySpec)
    comp = state.compensate
    spec = comp if comp is not None and not isinstance(comp, str) else None
    comp_key = f"{ctx.idempotency_key(state.name)}/compensate"
    # The actions whose last failure left their outcome uncertain, and not undone yet.
    uncertain: list[str] = []

    def pending(action: str, err: NexusError, key: str) -> PendingCompensation:
        assert spec is not None
        target = ctx.plan.target(spec.action)
        return uncertain_compensation(
            ctx,
            state=state.name,
            comp=spec,
            data=data,
            action=action,
            error=err,
            key=key,
            task_queue=target.spec.task_queue or ctx.plan.definition.defaults.task_queue,
            express=state.mode == "express",
        )

    def note(action: str, retry: RetrySpec, exc: BaseException) -> None:
        if spec is not None and is_uncertain(exc, retry):
            uncertain.append(action)

    async def undo_before_fallback(action: str, err: NexusError) -> None:
        # The primary may have done the work (a lost reply, a late completion): undo it before
        # another provider does it again. If the undo fails, do not fall back (raise the
        # primary's error); the unwinding saga tries the undo again.
        if not uncertain or uncertain[-1] != action or not workflow.patched(PATCH):
            return
        try:
            await run_compensation(
                ctx,
                pending(action, err, f"{comp_key}/{action}"),
                f"compensate {state.name} ({action}) before fallback",
            )
        except NexusError:
            raise err from None
        uncertain.pop()

    async def attempt(action: str, retry: RetrySpec) -> Any:
        return await call_action(
            ctx,
            state=state.name,
            action=action,
            payload=payload,
            retry=retry,
            timeout=state.timeout,
            schedule_to_close=state.schedule_to_close,
            heartbeat=state.heartbeat,
            task_queue=(
                state.task_queue
                if action == state.action
                else ctx.plan.target(action).spec.task_queue
                or ctx.plan.definition.defaults.task_queue
            ),
            summary=state.name if action == state.action else f"{state.name} (fallback {action})",
            key=ctx.idempotency_key(state.name),
            express=state.mode == "express",
            on_failure=partial(note, action, retry),
        )

    retry = state.retry or RetrySpec()
    try:
        if state.fallback:
            result = await with_fallback(
                (state.action, *state.fallback),
                retry,
                attempt,
                before_next=undo_before_fallback if spec is not None else None,
            )
        else:
            result = await with_retry_on(retry, partial(attempt, state.action), state.name)
    except NexusError as err:
        # Register the compensation of an uncertain failure (docs/dsl.md §11), as if it had
        # been registered before the call: it runs if the saga unwinds.
        if uncertain and workflow.patched(PATCH):
            ctx.compensations.append(pending(uncertain[-1], err, comp_key))
        raise
    new = store(state.name, result, state.output, state.assign, data, ctx)
    if comp is not None and not isinstance(comp, str):
        comp_payload = (
            new if comp.input is None else evaluate(comp.input, new, ctx, new, state.name)
        )
        target = ctx.plan.target(comp.action)
        defaults = ctx.plan.definition.defaults
        ctx.compensations.append(
            PendingCompensation(
                state=state.name,
                action=comp.action,
                spec=comp,
                payload=comp_payload,
                # Keyed by this visit, so each run of a state in a loop is undone once.
                key=f"{ctx.idempotency_key(state.name)}/compensate",
                timeout=comp.timeout or target.spec.timeout or defaults.timeout or 60.0,
                task_queue=target.spec.task_queue or defaults.task_queue,
                express=state.mode == "express",
            )
        )
    return Outcome(new, state.next)
