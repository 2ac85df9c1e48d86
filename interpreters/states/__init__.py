"""One handler per state type, behind one protocol: ``run(state, data, ctx) -> Outcome``."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from interpreters.context import Outcome, RunContext
from interpreters.states import (
    choice,
    fail,
    map,
    parallel,
    pass_,
    succeed,
    task,
    wait,
    workflow_,
)

Handler = Callable[[Any, Any, RunContext], Awaitable[Outcome]]

HANDLERS: dict[str, Handler] = {
    "task": task.run,
    "choice": choice.run,
    "pass": pass_.run,
    "set": pass_.run,
    "wait": wait.run,
    "parallel": parallel.run,
    "map": map.run,
    "workflow": workflow_.run,
    "succeed": succeed.run,
    "fail": fail.run,
}
