"""What happens in a workflow state: another NEXUS definition runs as a child workflow.

Attached (the default), the parent waits and the child's failure is a catchable error of this
state, typed as the child's own error. Detached, the child is started and the parent goes on;
the child survives the parent (parent close policy ``abandon`` unless set otherwise).
"""

from __future__ import annotations

from typing import Any

from temporalio import workflow
from temporalio.exceptions import ChildWorkflowError
from temporalio.workflow import ParentClosePolicy

from interpreters.context import Outcome, RunContext
from interpreters.errors import from_child, from_temporal
from interpreters.states.data import evaluate, store
from nexus_temporal.dsl.schema import WorkflowState

_POLICIES = {
    "terminate": ParentClosePolicy.TERMINATE,
    "abandon": ParentClosePolicy.ABANDON,
    "request_cancel": ParentClosePolicy.REQUEST_CANCEL,
}

#: ``workflow.patched`` id: a caught child failure has a task error's shape (the child's type,
#: raw message and details), not ``state 'X' failed: ...`` with the failure record as details.
CHILD_ERROR_PATCH = "nexus-child-error-shape"


async def run(state: WorkflowState, data: Any, ctx: RunContext) -> Outcome:
    payload = data if state.input is None else evaluate(state.input, data, ctx, data, state.name)
    visit = ctx.visits.get(state.name, 1)
    child_id = f"{workflow.info().workflow_id}/{state.name}" + (f"/{visit}" if visit > 1 else "")
    policy = state.parent_close_policy or ("abandon" if state.detached else "terminate")
    try:
        if state.detached:
            handle = await workflow.start_child_workflow(
                state.workflow,
                payload,
                id=child_id,
                task_queue=workflow.info().task_queue,
                parent_close_policy=_POLICIES[policy],
                static_summary=state.name,
            )
            result: Any = {"workflow_id": child_id, "run_id": handle.first_execution_run_id}
        else:
            result = await workflow.execute_child_workflow(
                state.workflow,
                payload,
                id=child_id,
                task_queue=workflow.info().task_queue,
                parent_close_policy=_POLICIES[policy],
                static_summary=state.name,
            )
    except ChildWorkflowError as exc:
        if workflow.patched(CHILD_ERROR_PATCH):
            raise from_child(exc, state.name) from None
        raise from_temporal(exc, state.name) from None
    except Exception as exc:  # a start failure
        raise from_temporal(exc, state.name) from None
    return Outcome(store(state.name, result, state.output, state.assign, data, ctx), state.next)
