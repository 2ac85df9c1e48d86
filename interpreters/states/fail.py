"""What happens in a fail state: raise the named error; compensations run if nothing catches it
(only an enclosing parallel state's ``catch`` can)."""

from __future__ import annotations

from typing import Any

from interpreters.context import Outcome, RunContext
from interpreters.errors import NexusError
from nexus_temporal.dsl.schema import FailState


async def run(state: FailState, data: Any, ctx: RunContext) -> Outcome:
    raise NexusError(state.error, state.message or f"reached fail state '{state.name}'", state.name)
