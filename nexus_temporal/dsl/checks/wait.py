"""Checks of a ``wait`` state."""

from __future__ import annotations

from nexus_temporal.dsl.checks.common import StateCheck
from nexus_temporal.dsl.errors import Code
from nexus_temporal.dsl.schema import WaitState

MODEL = WaitState


def check(state: WaitState, ctx: StateCheck) -> None:
    given = [f for f in ("duration", "until", "signal") if getattr(state, f) is not None]
    if len(given) != 1:
        ctx.report(
            (),
            "a wait state needs exactly one of 'duration', 'until' or 'signal'",
            key=True,
            code=Code.WAIT_KIND,
            hint="e.g. 'duration: 30s' or 'signal: approval'",
        )
    if state.until is not None:
        ctx.expr(("until",), state.until)
    ctx.expr(("assign",), state.assign)
    if state.signal is None and (state.timeout is not None or state.assign):
        ctx.report(
            (),
            "'timeout' and 'assign' apply only to a wait for a signal",
            key=True,
            code=Code.WAIT_KIND,
        )
