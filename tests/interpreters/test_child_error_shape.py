"""A caught child-workflow error has the shape of a caught task error: the child's own type, its
raw message and its details (issue 14)."""

from __future__ import annotations

from typing import Any

from temporalio.exceptions import ApplicationError
from temporalio.testing import WorkflowEnvironment

from tests.helpers.run import execute, nexus_worker

FN = "python:tests.interpreters.test_child_error_shape:reject"


def reject(payload: dict[str, Any]) -> None:
    raise ApplicationError(
        f"{payload['name']} failed screening",
        {"score": 91, "list": "sanctions"},
        type="KycRejected",
        non_retryable=True,
    )


CHILD = f"""
name: kyc
functions:
  screen: {FN}
states:
  - name: Screen
    action: screen
    retry: 1
"""

PARENT = f"""
name: onboarding
functions:
  screen: {FN}
states:
  - name: Verify
    type: workflow
    workflow: kyc
    catch:
      - errors: [KycRejected]
        as: child_error
        next: Direct
  - name: Direct
    action: screen
    retry: 1
    catch:
      - errors: [KycRejected]
        as: task_error
        next: Done
  - name: Done
    type: succeed
"""


async def test_caught_child_error_has_the_task_error_shape(env: WorkflowEnvironment) -> None:
    async with nexus_worker(env.client, CHILD, PARENT) as w:
        result = await execute(env.client, w, "onboarding", {"name": "Mallory"})
    child, task = result["child_error"], result["task_error"]
    assert child == {
        "type": "KycRejected",
        "message": "Mallory failed screening",
        "state": "Verify",
        "details": {"score": 91, "list": "sanctions"},
    }
    assert {k: v for k, v in child.items() if k != "state"} == {
        k: v for k, v in task.items() if k != "state"
    }
