"""One handler per state type, behind one protocol: ``run(state, data, ctx) -> Outcome``."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from interpreters.context import Outcome, RunContext
from interpreters.states import choice, fail, parallel, pass_, succeed, task, wait

Handler = Callable[[Any, Any, RunContext], Awaitable[Outcome]]

HANDLERS: dict[str, Handler] = {
    "task": task.run,
    "choice": choice.run,
    "pass": pass_.run,
    "set": pass_.run,
    "wait": wait.run,
    "parallel": parallel.run,
    "succeed": succeed.run,
    "fail": fail.run,
}
