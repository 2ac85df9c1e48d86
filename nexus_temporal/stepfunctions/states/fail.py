"""ASL Fail states → NEXUS ``fail`` (Error/Cause, or ErrorPath/CausePath and JSONata
expressions computed at run time)."""

from __future__ import annotations

from typing import Any

from nexus_temporal.stepfunctions.context import StateContext
from nexus_temporal.stepfunctions.jsonata_mode import is_expression
from nexus_temporal.stepfunctions.paths import reference


def convert(ctx: StateContext) -> list[dict[str, Any]]:
    out: dict[str, Any] = {"name": ctx.name, "type": "fail"}
    dynamic: list[str] = []
    for key, fixed, computed in (
        ("Error", "error", "error_expr"),
        ("Cause", "message", "message_expr"),
    ):
        value = ctx.state.get(key)
        if ctx.jsonata and is_expression(value):
            out[computed] = ctx.jsonata_expr(value)
            dynamic.append(key)
        elif isinstance(value, str):
            out[fixed] = value
        elif not ctx.jsonata and isinstance(ctx.state.get(f"{key}Path"), str):
            out[computed] = reference(ctx.state[f"{key}Path"], ctx.env)
            dynamic.append(f"{key}Path")
    if dynamic:
        ctx.ok(f"Fail → fail with {', '.join(dynamic)} computed at run time")
    else:
        ctx.ok("Fail → fail")
    return [out]
