"""Checks of a ``parallel`` state (its branches are scopes, checked by the compiler's driver)."""

from __future__ import annotations

from nexus_temporal.dsl.checks.common import StateCheck
from nexus_temporal.dsl.errors import Code
from nexus_temporal.dsl.schema import ParallelState

MODEL = ParallelState


def check(state: ParallelState, ctx: StateCheck) -> None:
    ctx.expr(("assign",), state.assign)
    ctx.expr(("output",), state.output)
    names: set[str] = set()
    for b, branch in enumerate(state.branches):
        if branch.name in names:
            ctx.report(
                ("branches", b, "name"),
                f"duplicate branch name '{branch.name}'",
                code=Code.DUPLICATE_BRANCH,
            )
        names.add(branch.name)
