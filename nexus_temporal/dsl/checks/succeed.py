"""Checks of a ``succeed`` state."""

from __future__ import annotations

from nexus_temporal.dsl.checks.common import StateCheck
from nexus_temporal.dsl.schema import SucceedState

MODEL = SucceedState


def check(state: SucceedState, ctx: StateCheck) -> None:
    ctx.expr(("output",), state.output)
