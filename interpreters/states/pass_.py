"""What happens in a pass (or set) state: ``output`` replaces the data, ``assign`` sets keys;
both are JSONata over the data."""

from __future__ import annotations

from typing import Any

from interpreters.context import Outcome, RunContext
from interpreters.states.data import evaluate
from nexus_temporal.dsl.schema import PassState


async def run(state: PassState, data: Any, ctx: RunContext) -> Outcome:
    new = evaluate(state.output, data, ctx, data, state.name) if state.output is not None else data
    if state.assign:
        new = dict(new) if isinstance(new, dict) else {"input": new}
        for key, expr in state.assign.items():
            new[key] = evaluate(expr, data, ctx, data, state.name)
    return Outcome(new, state.next)
