"""What happens in a parallel state: every branch walks its own states on a copy of the data;
the first branch failure cancels the others and fails the state (catchable).

The state's error keeps the branch's type; its message is prefixed with the branch name for
people, and ``cause`` carries the original message unprefixed (through nested parallels too).
"""

from __future__ import annotations

import copy
from typing import Any

from temporalio import workflow

from interpreters.concurrency import run_all
from interpreters.context import Outcome, RunContext
from interpreters.errors import NexusError
from interpreters.states.data import store
from nexus_temporal.dsl.schema import ParallelState

#: ``workflow.patched`` id of the ``cause`` field of a parallel state's error.
CAUSE_PATCH = "nexus-parallel-error-cause"


async def run(state: ParallelState, data: Any, ctx: RunContext) -> Outcome:
    scopes = [ctx.plan.scopes[f"{state.name}/{b.name}"] for b in state.branches]
    tasks = await run_all([ctx.walk(scope, copy.deepcopy(data)) for scope in scopes])
    for branch, task in zip(state.branches, tasks, strict=True):
        if task.cancelled():
            continue
        exc = task.exception()
        if isinstance(exc, NexusError):
            # Executions that failed a parallel before `cause` existed replay without it.
            original = exc.cause if exc.cause is not None else exc.message
            raise NexusError(
                exc.type,
                f"branch '{branch.name}': {exc.message}",
                state.name,
                exc.to_data(),
                cause=original if workflow.patched(CAUSE_PATCH) else None,
            ) from None
        if exc is not None:
            raise exc
    results = {b.name: t.result() for b, t in zip(state.branches, tasks, strict=True)}
    return Outcome(store(state.name, results, state.output, state.assign, data, ctx), state.next)
