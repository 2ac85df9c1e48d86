"""Render a plan as a Mermaid flowchart (``nexus graph FILE``)."""

from __future__ import annotations

import re

from nexus_temporal.dsl.plan import Plan, Scope
from nexus_temporal.dsl.schema import ChoiceState, State

_SHAPES = {"choice": "{{%s}}", "wait": "([%s])", "succeed": "(((%s)))", "fail": "[[%s]]"}


def _id(scope: Scope, name: str) -> str:
    return re.sub(r"\W", "_", f"{scope.id}_{name}" if scope.id else name)


def _label(state: State) -> str:
    text = state.name
    action = getattr(state, "action", None)
    if action:
        text += f"<br/><small>{action}</small>"
    return '"' + text.replace('"', "'") + '"'


def to_mermaid(plan: Plan) -> str:
    lines = ["flowchart TD", f"  start(( )) --> {_id(plan.root, plan.root.start)}"]
    _scope(plan, plan.root, lines, "  ")
    return "\n".join(lines) + "\n"


def _scope(plan: Plan, scope: Scope, lines: list[str], pad: str) -> None:
    for state in scope.states.values():
        sid = _id(scope, state.name)
        shape = _SHAPES.get(state.type, "[%s]")
        lines.append(f"{pad}{sid}{shape % _label(state)}")
        for child in state.children():
            if child.kind != "branch":  # a map's item states run per item: not drawn
                continue
            sub = plan.scopes[f"{state.name}/{child.key}"]
            lines.append(f'{pad}subgraph {_id(sub, "branch")}["{child.key}"]')
            _scope(plan, sub, lines, pad + "  ")
            lines.append(f"{pad}end")
            lines.append(f"{pad}{sid} --> {_id(sub, sub.start)}")
        if state.next:
            lines.append(f"{pad}{sid} --> {_id(scope, state.next)}")
        if isinstance(state, ChoiceState):
            for rule in state.choices:
                cond = rule.when.replace('"', "'").replace("|", "/")
                lines.append(f'{pad}{sid} -->|"{cond}"| {_id(scope, rule.next)}')
            if state.default:
                lines.append(f"{pad}{sid} -->|default| {_id(scope, state.default)}")
        for c in getattr(state, "catch", ()):
            lines.append(f'{pad}{sid} -.->|"catch {", ".join(c.errors)}"| {_id(scope, c.next)}')
