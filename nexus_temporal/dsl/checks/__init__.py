"""Per-state-type checks: one module per type (``checks/<type>.py``), one table keyed by type.

Each module names the schema model it checks (``MODEL``) and has ``check(state, ctx)``
(:data:`~nexus_temporal.dsl.checks.common.Check`); :data:`CHECKS` is derived from them and must
cover the schema's state union exactly (checked at import and by tests/test_registries.py).
"""

from __future__ import annotations

from types import ModuleType

from nexus_temporal.dsl.checks import (
    choice,
    fail,
    map,
    parallel,
    pass_,
    succeed,
    task,
    wait,
    workflow,
)
from nexus_temporal.dsl.checks.common import Check, StateCheck, issue
from nexus_temporal.dsl.errors import Code
from nexus_temporal.dsl.expressions import iter_template_errors
from nexus_temporal.dsl.schema import STATE_MODELS, STATE_TYPES, type_names

MODULES: tuple[ModuleType, ...] = (
    task,
    choice,
    pass_,
    wait,
    parallel,
    map,
    workflow,
    succeed,
    fail,
)
#: The check of each state ``type:`` value.
CHECKS: dict[str, Check] = {t: m.check for m in MODULES for t in type_names(m.MODEL)}
if tuple(m.MODEL for m in MODULES) != STATE_MODELS or tuple(CHECKS) != STATE_TYPES:
    raise ImportError("nexus_temporal.dsl.checks must have one module per state model")

#: State types that end their workflow or branch.
TERMINAL_TYPES = ("succeed", "fail")


def check_state(ctx: StateCheck) -> None:
    """Every check of one state: what all types share, its type's check, then its JSONata."""
    state = ctx.state
    if state.next is not None and state.type in ("choice", *TERMINAL_TYPES):
        hint = (
            "route with 'choices' and 'default'"
            if state.type == "choice"
            else f"a {state.type} state ends its workflow or branch; remove 'next'"
        )
        ctx.report(
            ("next",),
            f"'next' has no effect on a {state.type} state",
            hint=hint,
            code=Code.USELESS_NEXT,
            key=True,
        )
    CHECKS[state.type](state, ctx)
    for rel, template in ctx.exprs:
        if template is None:
            continue
        for sub, err in iter_template_errors(template):
            ctx.issues.append(
                issue(
                    ctx.doc,
                    ctx.path + rel + sub,
                    f"invalid JSONata: {err.message}",
                    state=state.name,
                    code=Code.JSONATA,
                    hint="fix the expression; literal strings are written quoted, e.g. '\"text\"'",
                )
            )


__all__ = ["CHECKS", "MODULES", "TERMINAL_TYPES", "Check", "StateCheck", "check_state"]
