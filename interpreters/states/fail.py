"""What happens in a fail state: raise the named error; compensations run if nothing catches it
(only an enclosing parallel state's ``catch`` can).

``error_expr`` / ``message_expr`` compute the type / message from the data (JSONata); they must
give a string (the type a non-empty one), else the state fails with ``ExpressionError``.
"""

from __future__ import annotations

from typing import Any

from interpreters.context import Outcome, RunContext
from interpreters.errors import NexusError
from interpreters.states.data import evaluate
from nexus_temporal.dsl.schema import FailState


def _computed(state: FailState, field: str, expression: str, data: Any, ctx: RunContext) -> str:
    value = evaluate(expression, data, ctx, data, state.name)
    if not isinstance(value, str) or (field == "error_expr" and not value):
        shown = "nothing" if value is None else f"{type(value).__name__} {value!r}"[:200]
        wanted = "a non-empty string" if field == "error_expr" else "a string"
        raise NexusError(
            "ExpressionError",
            f"'{field}' must give {wanted}, got {shown} from {expression!r}",
            state.name,
        )
    return value


async def run(state: FailState, data: Any, ctx: RunContext) -> Outcome:
    error = state.error
    if state.error_expr is not None:
        error = _computed(state, "error_expr", state.error_expr, data, ctx)
    message = state.message or f"reached fail state '{state.name}'"
    if state.message_expr is not None:
        message = _computed(state, "message_expr", state.message_expr, data, ctx)
    raise NexusError(error, message, state.name)
