"""Checks of a ``workflow`` state (a child workflow)."""

from __future__ import annotations

from nexus_temporal.dsl.checks.common import StateCheck
from nexus_temporal.dsl.schema import WorkflowState

MODEL = WorkflowState


def check(state: WorkflowState, ctx: StateCheck) -> None:
    ctx.expr(("input",), state.input)
    ctx.expr(("assign",), state.assign)
    ctx.expr(("output",), state.output)
