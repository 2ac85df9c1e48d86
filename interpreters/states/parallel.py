"""What happens in a parallel state: every branch walks its own states on a copy of the data;
the first branch failure cancels the others and fails the state (catchable)."""

from __future__ import annotations

import copy
from typing import Any

from interpreters.concurrency import run_all
from interpreters.context import Outcome, RunContext
from interpreters.errors import NexusError
from interpreters.states.data import store
from nexus_temporal.dsl.schema import ParallelState


async def run(state: ParallelState, data: Any, ctx: RunContext) -> Outcome:
    scopes = [ctx.plan.scopes[f"{state.name}/{b.name}"] for b in state.branches]
    tasks = await run_all([ctx.walk(scope, copy.deepcopy(data)) for scope in scopes])
    for branch, task in zip(state.branches, tasks, strict=True):
        if task.cancelled():
            continue
        exc = task.exception()
        if isinstance(exc, NexusError):
            raise NexusError(
                exc.type, f"branch '{branch.name}': {exc.message}", state.name, exc.to_data()
            ) from None
        if exc is not None:
            raise exc
    results = {b.name: t.result() for b, t in zip(state.branches, tasks, strict=True)}
    return Outcome(store(state.name, results, state.output, state.assign, data, ctx), state.next)
