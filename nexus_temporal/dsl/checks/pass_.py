"""Checks of a ``pass`` (``set``) state."""

from __future__ import annotations

from nexus_temporal.dsl.checks.common import StateCheck
from nexus_temporal.dsl.schema import PassState

MODEL = PassState


def check(state: PassState, ctx: StateCheck) -> None:
    ctx.expr(("assign",), state.assign)
    ctx.expr(("output",), state.output)
