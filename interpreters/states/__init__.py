"""One handler per state type, behind one protocol: ``run(state, data, ctx) -> Outcome``.

:data:`HANDLERS` is keyed by the schema's ``type:`` values, derived from the state models: a
state model without a handler (or a handler for no model) fails at import.
"""

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
from nexus_temporal.dsl.schema import (
    STATE_MODELS,
    ChoiceState,
    FailState,
    MapState,
    ParallelState,
    PassState,
    StateBase,
    SucceedState,
    TaskState,
    WaitState,
    WorkflowState,
    type_names,
)

Handler = Callable[[Any, Any, RunContext], Awaitable[Outcome]]

_BY_MODEL: dict[type[StateBase], Handler] = {
    TaskState: task.run,
    ChoiceState: choice.run,
    PassState: pass_.run,
    WaitState: wait.run,
    ParallelState: parallel.run,
    MapState: map.run,
    WorkflowState: workflow_.run,
    SucceedState: succeed.run,
    FailState: fail.run,
}
if set(_BY_MODEL) != set(STATE_MODELS):
    raise ImportError("interpreters.states needs exactly one handler per state model")

#: The handler of each ``type:`` value (``pass`` and ``set`` share one).
HANDLERS: dict[str, Handler] = {
    t: _BY_MODEL[model] for model in STATE_MODELS for t in type_names(model)
}
