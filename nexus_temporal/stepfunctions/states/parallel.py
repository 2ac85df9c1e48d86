"""ASL Parallel states → NEXUS ``parallel`` with one branch per ASL branch; the result is the
list of the branches' values. A top-level Parallel's uncaught failure fails the execution with
the branch's own error."""

from __future__ import annotations

import json
from typing import Any

from nexus_temporal.stepfunctions.context import StateContext, bind_res


def convert(ctx: StateContext) -> list[dict[str, Any]]:
    pre: list[dict[str, Any]] = []
    raw = "$data.value"
    main_name = ctx.name
    needs_input = (
        "Arguments" in ctx.state
        if ctx.jsonata
        else ("InputPath" in ctx.state or "Parameters" in ctx.state)
    )
    if needs_input:
        eff = (
            ctx.jsonata_expr(ctx.state["Arguments"])
            if ctx.jsonata
            else ctx.parameters(ctx.effective_input())
        )
        main_name = ctx.helper("branches")
        pre.append(
            {
                "name": ctx.name,
                "type": "pass",
                "assign": {"value": eff, "raw": "$data.value"},
                "next": main_name,
            }
        )
        raw = "$data.raw"
    branches = []
    keys = []
    for i, branch in enumerate(ctx.state["Branches"]):
        key = f"branch{i + 1}"
        keys.append(key)
        states = ctx.convert_scope(branch, "Branches", i)
        branches.append({"name": key, "states": states})
    collected = f'$states_values($, {json.dumps(keys)}, "value")'
    out: dict[str, Any] = {
        "name": main_name if pre else ctx.name,
        "type": "parallel",
        "branches": branches,
        "output": bind_res(ctx.select_result(collected)),
        "assign": ctx.assign_block("$res", raw),
    }
    catch = ctx.catch_rules(raw)
    if ctx.top and not any(rule["errors"] == ["*"] for rule in catch):
        # An uncaught branch failure fails the execution with the branch's own cause, as
        # in Step Functions (the parallel state's message names the branch).
        rethrow = ctx.helper("failed")
        catch.append({"errors": ["*"], "next": rethrow})
        ctx.extra.append(
            {
                "name": rethrow,
                "type": "fail",
                "description": f"An uncaught failure of '{ctx.asl_name}', with the branch's "
                "own error type and message.",
                "error_expr": "$data.error.type",
                "message_expr": "$exists($data.error.cause) ? $data.error.cause : "
                "$data.error.message",
            }
        )
    if catch:
        out["catch"] = catch
    if ctx.state.get("Retry"):
        ctx.approx(
            "Retry on a Parallel state is not carried (NEXUS retries "
            "actions, not branches); add retries to the branch tasks",
        )
    ctx.set_next(out)
    ctx.ok(f"Parallel → parallel with {len(branches)} branch(es)")
    return [*pre, out]
