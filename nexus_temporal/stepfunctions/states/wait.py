"""ASL Wait states → NEXUS ``wait`` (a duration, or ``until`` a computed time), plus a pass
for InputPath/OutputPath/Output/Assign."""

from __future__ import annotations

import json
from typing import Any

from nexus_temporal.stepfunctions.context import StateContext, seconds
from nexus_temporal.stepfunctions.paths import PathError, output_path_expr, reference


def convert(ctx: StateContext) -> list[dict[str, Any]]:
    out: dict[str, Any] = {"name": ctx.name, "type": "wait"}
    eff = "$data.value" if ctx.jsonata else ctx.effective_input()
    env = ctx.env.at(eff)
    if "Seconds" in ctx.state:
        sec = ctx.state["Seconds"]
        if isinstance(sec, (int, float)):
            out["duration"] = seconds(sec)
        else:
            out["until"] = (
                "$fromMillis($toMillis($context.State.EnteredTime) + "
                f"({ctx.jsonata_expr(sec)}) * 1000)"
            )
    elif "SecondsPath" in ctx.state:
        secs = reference(ctx.state["SecondsPath"], env)
        out["until"] = f"$fromMillis($toMillis($context.State.EnteredTime) + ({secs}) * 1000)"
    elif "Timestamp" in ctx.state:
        ts = ctx.state["Timestamp"]
        out["until"] = ctx.jsonata_expr(ts) if ctx.jsonata else json.dumps(ts)
    elif "TimestampPath" in ctx.state:
        out["until"] = reference(ctx.state["TimestampPath"], env)
    else:
        raise PathError("a Wait state needs Seconds, SecondsPath, Timestamp or TimestampPath")
    shaped = (
        ("Output" in ctx.state or "Assign" in ctx.state)
        if ctx.jsonata
        else ("InputPath" in ctx.state or "OutputPath" in ctx.state or "Assign" in ctx.state)
    )
    if shaped:
        after = ctx.helper("output")
        if ctx.jsonata:
            value = ctx.value_after("$data.value")
            vars_ = ctx.vars_after("$data.value")
        else:
            value = output_path_expr(ctx.get("OutputPath"), eff)
            vars_ = ctx.vars_after(eff)
        assign: dict[str, Any] = {"value": value}
        if vars_:
            assign["vars"] = vars_
        post: dict[str, Any] = {"name": after, "type": "pass", "assign": assign}
        ctx.set_next(post)
        out["next"] = after
        ctx.ok("Wait → wait, then a pass for its InputPath/OutputPath")
        return [out, post]
    ctx.set_next(out)
    ctx.ok("Wait → wait")
    return [out]
