"""What happens in a wait state: a durable timer (duration or timestamp), or waiting for a
signal or update by name (a human approval), optionally with a timeout."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from temporalio import workflow

from interpreters.context import Outcome, RunContext
from interpreters.errors import NexusError
from interpreters.states.data import evaluate, store
from nexus_temporal.dsl.schema import WaitState


def parse_timestamp(value: Any, state: str) -> datetime:
    if not isinstance(value, str):
        raise NexusError("InvalidTimestamp", f"'until' gave {value!r}, not a timestamp", state)
    try:
        ts = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise NexusError(
            "InvalidTimestamp", f"'until' gave {value!r}, not ISO-8601", state
        ) from None
    return ts if ts.tzinfo else ts.replace(tzinfo=UTC)


async def run(state: WaitState, data: Any, ctx: RunContext) -> Outcome:
    if state.duration is not None:
        await workflow.sleep(timedelta(seconds=state.duration), summary=state.name)
        return Outcome(data, state.next)
    if state.until is not None:
        when = parse_timestamp(evaluate(state.until, data, ctx, data, state.name), state.name)
        delay = (when - workflow.now()).total_seconds()
        if delay > 0:
            await workflow.sleep(timedelta(seconds=delay), summary=state.name)
        return Outcome(data, state.next)
    name = state.signal or ""
    try:
        await workflow.wait_condition(
            lambda: bool(ctx.signals.get(name)),
            timeout=timedelta(seconds=state.timeout) if state.timeout else None,
            timeout_summary=f"{state.name} timeout",
        )
    except TimeoutError:
        raise NexusError(
            "Timeout", f"no '{name}' signal within {state.timeout:g}s", state.name
        ) from None
    payload = ctx.signals[name].pop(0)
    return Outcome(store(state.name, payload, None, state.assign, data, ctx), state.next)
