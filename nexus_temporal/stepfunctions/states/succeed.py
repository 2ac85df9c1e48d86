"""ASL Succeed states → NEXUS ``succeed`` (OutputPath or Output as the result of the scope)."""

from __future__ import annotations

from typing import Any

from nexus_temporal.stepfunctions.context import StateContext
from nexus_temporal.stepfunctions.paths import output_path_expr


def convert(ctx: StateContext) -> list[dict[str, Any]]:
    if ctx.jsonata:
        value = ctx.jsonata_expr(ctx.state["Output"]) if "Output" in ctx.state else "$data.value"
    else:
        value = output_path_expr(ctx.get("OutputPath"), ctx.effective_input())
    out: dict[str, Any] = {"name": ctx.name, "type": "succeed"}
    if ctx.top:
        out["output"] = "value" if value == "$data.value" else value
    elif value != "$data.value":
        out["output"] = f'{{"value": {value}, "vars": $data.vars}}'
    ctx.ok("Succeed → succeed")
    return [out]
