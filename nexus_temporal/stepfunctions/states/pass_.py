"""ASL Pass states → NEXUS ``pass``: Parameters or Result (JSONPath) or Output (JSONata) as the
new value, Assign into the variables."""

from __future__ import annotations

from typing import Any

from nexus_temporal.stepfunctions.context import StateContext
from nexus_temporal.stepfunctions.paths import literal


def convert(ctx: StateContext) -> list[dict[str, Any]]:
    if ctx.jsonata:
        value = ctx.value_after("$data.value")
        vars_ = ctx.vars_after("$data.value")
    else:
        eff = ctx.effective_input()
        if "Parameters" in ctx.state:
            payload = ctx.parameters(eff)
        elif "Result" in ctx.state:
            payload = literal(ctx.state["Result"])
        else:
            payload = eff
        value = ctx.value_after(payload)
        vars_ = ctx.vars_after(payload)
    assign: dict[str, Any] = {"value": value}
    if vars_:
        assign["vars"] = vars_
    out: dict[str, Any] = {"name": ctx.name, "type": "pass", "assign": assign}
    ctx.set_next(out)
    ctx.ok("Pass → pass")
    return [out]
