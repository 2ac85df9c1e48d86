"""What happens in a succeed state: end the scope, optionally shaping the data with ``output``."""

from __future__ import annotations

from typing import Any

from interpreters.context import Outcome, RunContext
from interpreters.states.data import check_output_size, evaluate
from nexus_temporal.dsl.schema import SucceedState


async def run(state: SucceedState, data: Any, ctx: RunContext) -> Outcome:
    if state.output is not None:
        data = evaluate(state.output, data, ctx, data, state.name)
        check_output_size(data, state.name)
    return Outcome(data, None)
