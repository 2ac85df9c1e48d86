"""ASL Choice states → NEXUS ``choice`` (rules through ``stepfunctions/choice.py``), with
helper states for InputPath/OutputPath, a rule's Assign/Output, a path the rules read that is
missing, and a missing Default."""

from __future__ import annotations

from typing import Any

from nexus_temporal.stepfunctions.choice import condition, invalid, paths_read
from nexus_temporal.stepfunctions.context import StateContext
from nexus_temporal.stepfunctions.paths import output_path_expr, template


def convert(ctx: StateContext) -> list[dict[str, Any]]:
    pre: list[dict[str, Any]] = []
    base = "$data.value"
    choice_name = ctx.name
    if not ctx.jsonata and ("InputPath" in ctx.state or "OutputPath" in ctx.state):
        eff = ctx.effective_input()
        choice_name = ctx.helper("choice")
        pre.append(
            {
                "name": ctx.name,
                "type": "pass",
                "assign": {
                    "choice_input": eff,
                    "value": output_path_expr(ctx.get("OutputPath"), eff),
                },
                "next": choice_name,
            }
        )
        base = "$data.choice_input"
    env = ctx.env.at(base)
    rules = []
    invalid_path: str | None = None
    for i, rule in enumerate(ctx.state["Choices"], start=1):
        target = ctx.target_name(rule["Next"])
        if "Assign" in rule or "Output" in rule:
            target = choice_effects(ctx, f"rule {i}", rule, target, base)
        bad = invalid(rule, env)
        if bad is not None:
            if invalid_path is None:
                invalid_path = ctx.helper("invalid path")
            rules.append({"when": bad, "next": invalid_path})
        rules.append({"when": condition(rule, env), "next": target})
    if invalid_path is not None:
        read = dict.fromkeys(p for r in ctx.state["Choices"] for p in paths_read(r))
        ctx.extra.append(
            {
                "name": invalid_path,
                "type": "fail",
                "error": "States.Runtime",
                "message": f"Invalid path: a choice rule of '{ctx.asl_name}' reads a path "
                f"that is not in its input (one of {', '.join(read)})",
            }
        )
    out: dict[str, Any] = {
        "name": choice_name if pre else ctx.name,
        "type": "choice",
        "choices": rules,
    }
    if "Default" in ctx.state:
        out["default"] = ctx.target_name(ctx.state["Default"])
        if "Assign" in ctx.state or "Output" in ctx.state:
            out["default"] = choice_effects(ctx, "default", ctx.state, out["default"], base)
    else:
        nomatch = ctx.helper("no match")
        out["default"] = nomatch
        ctx.extra.append(
            {
                "name": nomatch,
                "type": "fail",
                "error": "States.NoChoiceMatched",
                "message": f"no choice rule of '{ctx.asl_name}' matched and it has no Default",
            }
        )
    ctx.ok(f"Choice → choice with {len(ctx.state['Choices'])} rule(s)")
    if pre:
        return [*pre, out]
    return [out]


def choice_effects(
    ctx: StateContext, role: str, where: dict[str, Any], target: str, base: str
) -> str:
    """A pass on the way from a choice to ``target`` carrying a rule's (or the Default's)
    Assign and Output; returns its name."""
    name = ctx.helper(role)
    assign: dict[str, Any] = {}
    if ctx.jsonata:
        if "Output" in where:
            assign["value"] = ctx.jsonata_expr(where["Output"])
        if isinstance(where.get("Assign"), dict) and where["Assign"]:
            assign["vars"] = f"$merge([$data.vars, {ctx.jsonata_expr(where['Assign'])}])"
    elif isinstance(where.get("Assign"), dict) and where["Assign"]:
        body = template(where["Assign"], ctx.env.at(base))
        assign["vars"] = f"$merge([$data.vars, {body}])"
    ctx.extra.append({"name": name, "type": "pass", "assign": assign, "next": target})
    return name
