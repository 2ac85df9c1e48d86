"""Checks of a ``task`` state."""

from __future__ import annotations

from nexus_temporal.dsl.checks.common import StateCheck, check_express
from nexus_temporal.dsl.schema import CompensationSpec, TaskState

MODEL = TaskState


def check(state: TaskState, ctx: StateCheck) -> None:
    check_express(ctx, state)
    ctx.action(state.action, ("action",))
    for i, alternate in enumerate(state.fallback or ()):
        ctx.action(alternate, ("fallback", i))
    ctx.expr(("input",), state.input)
    ctx.expr(("output",), state.output)
    ctx.expr(("assign",), state.assign)
    if state.compensate is not None:
        assert isinstance(state.compensate, CompensationSpec)
        cpath = ("compensate",) if "compensate" in ctx.raw() else ("on_failure", "compensate")
        if isinstance(ctx.raw(cpath), dict):
            apath, ipath = cpath + ("action",), cpath + ("input",)
        else:
            apath, ipath = cpath, cpath
        ctx.action(state.compensate.action, apath)
        ctx.expr(ipath, state.compensate.input)
