"""What happens in a pass (or set) state: ``output`` replaces the data, ``assign`` sets keys;
both are JSONata over the data. What they make is measured against the payload limit."""

from __future__ import annotations

from typing import Any

from interpreters.context import Outcome, RunContext
from interpreters.states.data import check_output_size, evaluate
from nexus_temporal.dsl.schema import PassState


async def run(state: PassState, data: Any, ctx: RunContext) -> Outcome:
    new = data
    if state.output is not None:
        new = evaluate(state.output, data, ctx, data, state.name)
        check_output_size(new, state.name)
    if state.assign:
        new = dict(new) if isinstance(new, dict) else {"input": new}
        assigned = {k: evaluate(e, data, ctx, data, state.name) for k, e in state.assign.items()}
        check_output_size(assigned, state.name, "assigned values")
        new.update(assigned)
    return Outcome(new, state.next)
