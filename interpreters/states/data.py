"""How a state's result flows into the workflow's data (``output`` then ``assign``), under the
expression bounds and the payload limit."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from temporalio import workflow

from interpreters.context import RunContext
from interpreters.errors import NexusError
from nexus_temporal.dsl.expressions import (
    BoundExceeded,
    Bounds,
    ExpressionError,
    evaluate_template,
)
from nexus_temporal.payloads import PAYLOAD_LIMIT, json_size

#: ``workflow.patched`` id: an expression over its bounds fails its state (ExpressionError).
#: Before the bounds, such an expression either ran until Temporal's deadlock detector failed
#: the workflow task, again on every retry (no history records a completed task for it, so
#: nothing there can diverge), or it finished in time and the execution went on. Only the
#: second kind can be in a completed history; replaying it, ``patched`` is False and the
#: expression is evaluated without bounds, as it was then.
BOUNDS_PATCH = "nexus-expression-bounds"
#: ``workflow.patched`` id: a state whose output is over the payload limit fails
#: (PayloadTooLarge). Before, such an output failed the workflow task forever once it reached a
#: payload (the result, a continue-as-new, an action's input), or, if a later state made it
#: small again, never mattered; a history of the second kind replays with ``patched`` False.
PAYLOAD_PATCH = "nexus-state-payload-limit"


def bounds_of(ctx: RunContext) -> Bounds:
    """The expression bounds the definition sets (``defaults.expression_*``)."""
    d = ctx.plan.definition.defaults
    return Bounds(
        steps=d.expression_steps,
        items=d.expression_items,
        chars=d.expression_chars,
        depth=d.expression_depth,
    )


def evaluate_bound(
    template: Any, subject: Any, bindings: Mapping[str, Any], ctx: RunContext, state: str
) -> Any:
    """Evaluate an expression field under the definition's bounds; a runtime JSONata error (a
    bound exceeded included) becomes a catchable ``ExpressionError`` of ``state``."""
    try:
        try:
            return evaluate_template(template, subject, bindings, bounds_of(ctx))
        except BoundExceeded:
            # Called only once a bound is exceeded, so executions within bounds record no
            # marker and issue exactly the commands they did before.
            if workflow.patched(BOUNDS_PATCH):
                raise
            return evaluate_template(template, subject, bindings, None)
    except ExpressionError as exc:
        raise NexusError(
            "ExpressionError", exc.message + f" in {exc.expression!r}", state
        ) from None


def evaluate(template: Any, value: Any, ctx: RunContext, data: Any, state: str) -> Any:
    """Evaluate an expression field; a runtime JSONata error becomes a catchable error."""
    return evaluate_bound(template, value, ctx.bindings(data, state=state), ctx, state)


def _too_large(size: int, what: str, fix: str, state: str) -> NexusError:
    # ``size`` may be json_size's lower bound (it stops counting past the limit): "at least".
    return NexusError(
        "PayloadTooLarge",
        f"the {what} is at least {size / 1e6:.2f} MB of JSON, over Temporal's 2 MB payload "
        f"limit ({PAYLOAD_LIMIT:,} bytes); {fix}",
        state,
    )


def check_payload_size(value: Any, state: str, what: str) -> None:
    """Fail the state with a clear, catchable error instead of Temporal's raw size error."""
    size = json_size(value, PAYLOAD_LIMIT)
    if size > PAYLOAD_LIMIT:
        raise _too_large(
            size,
            what,
            "pass a reference instead (a file or s3:// URI; for maps, 'item_source' and "
            "'results: store')",
            state,
        )


def check_output_size(value: Any, state: str, what: str = "output") -> None:
    """Fail ``state`` with ``PayloadTooLarge`` if ``value`` (what it computed) is over the limit.

    Data over the limit cannot be the workflow's result, carried over a continue-as-new or sent
    to an action; failing the state that made it names the culprit, and ``catch`` can route it.
    Measured with :func:`json_size`'s bound, so a shared-reference bomb costs ~the limit.
    """
    size = json_size(value, PAYLOAD_LIMIT)
    if size > PAYLOAD_LIMIT and workflow.patched(PAYLOAD_PATCH):
        raise _too_large(
            size,
            f"{what} of state '{state}'",
            "keep large data out of the workflow's data: have an action write it to a file or "
            "an s3:// URI and keep the reference",
            state,
        )


def store(
    state: str, result: Any, output: Any, assign: dict[str, Any] | None, data: Any, ctx: RunContext
) -> dict[str, Any]:
    """Shape ``result`` with ``output`` ($ = result) and put it into a copy of the data.

    Without ``assign`` the shaped result is stored under the state's name; with it, each key is
    set from its expression ($ = shaped result). What the expressions made is measured against
    the payload limit (an action's result itself is, by the worker's PayloadGuard).
    """
    shaped = evaluate(output, result, ctx, data, state) if output is not None else result
    new = dict(data) if isinstance(data, dict) else {"input": data}
    if assign is None:
        new[state] = shaped
        if output is not None:
            check_output_size(shaped, state)
    else:
        assigned = {key: evaluate(expr, shaped, ctx, data, state) for key, expr in assign.items()}
        check_output_size(assigned, state, "assigned values")
        new.update(assigned)
    return new
