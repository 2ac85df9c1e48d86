"""Checks of a ``choice`` state (its routes are checked with the graph)."""

from __future__ import annotations

from nexus_temporal.dsl.checks.common import StateCheck
from nexus_temporal.dsl.schema import ChoiceState

MODEL = ChoiceState


def check(state: ChoiceState, ctx: StateCheck) -> None:
    for i, rule in enumerate(state.choices):
        ctx.expr(("choices", i, "when"), rule.when)
