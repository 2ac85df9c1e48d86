"""What happens in a choice state: the first rule whose JSONata condition is true wins."""

from __future__ import annotations

from typing import Any

from interpreters.context import Outcome, RunContext
from interpreters.errors import NexusError
from interpreters.states.data import evaluate
from nexus_temporal.dsl.schema import ChoiceState


def truthy(value: Any) -> bool:
    return bool(value) and value not in ([], {}, "")


async def run(state: ChoiceState, data: Any, ctx: RunContext) -> Outcome:
    for rule in state.choices:
        if truthy(evaluate(rule.when, data, ctx, data, state.name)):
            return Outcome(data, rule.next)
    if state.default is not None:
        return Outcome(data, state.default)
    raise NexusError(
        "NoChoiceMatched", "no rule matched and the state has no 'default'", state.name
    )
