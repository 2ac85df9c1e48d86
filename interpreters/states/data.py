"""How a state's result flows into the workflow's data (``output`` then ``assign``)."""

from __future__ import annotations

from typing import Any

from interpreters.context import RunContext
from interpreters.errors import NexusError
from nexus_temporal.dsl.expressions import ExpressionError, evaluate_template


def evaluate(template: Any, value: Any, ctx: RunContext, data: Any, state: str) -> Any:
    """Evaluate an expression field; a runtime JSONata error becomes a catchable error."""
    try:
        return evaluate_template(template, value, ctx.bindings(data, state=state))
    except ExpressionError as exc:
        raise NexusError(
            "ExpressionError", exc.message + f" in {exc.expression!r}", state
        ) from None


def store(
    state: str, result: Any, output: Any, assign: dict[str, Any] | None, data: Any, ctx: RunContext
) -> dict[str, Any]:
    """Shape ``result`` with ``output`` ($ = result) and put it into a copy of the data.

    Without ``assign`` the shaped result is stored under the state's name; with it, each key is
    set from its expression ($ = shaped result).
    """
    shaped = evaluate(output, result, ctx, data, state) if output is not None else result
    new = dict(data) if isinstance(data, dict) else {"input": data}
    if assign is None:
        new[state] = shaped
    else:
        for key, expr in assign.items():
            new[key] = evaluate(expr, shaped, ctx, data, state)
    return new
