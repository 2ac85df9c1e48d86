"""Checks of a ``fail`` state."""

from __future__ import annotations

from nexus_temporal.dsl.checks.common import StateCheck
from nexus_temporal.dsl.errors import Code
from nexus_temporal.dsl.schema import FailState

MODEL = FailState


def check(state: FailState, ctx: StateCheck) -> None:
    for fixed, computed in (("error", "error_expr"), ("message", "message_expr")):
        expression = getattr(state, computed)
        if expression is None:
            continue
        ctx.expr((computed,), expression)
        if fixed in state.model_fields_set:
            ctx.report(
                (computed,),
                f"a fail state takes '{fixed}' or '{computed}', not both",
                key=True,
                code=Code.FAIL_KIND,
                hint=f"keep '{computed}' to compute the value at run time, or "
                f"'{fixed}' for a fixed one",
            )
