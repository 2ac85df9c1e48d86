"""Complete a migrated ``.waitForTaskToken`` task: the NEXUS counterparts of Step Functions'
``SendTaskSuccess`` and ``SendTaskFailure``.

A converted callback task hands out the token ``<workflow id>|task-token:<state>`` (where
``$$.Task.Token`` was) and waits for the signal ``task-token:<state>``. These helpers send it;
the Temporal CLI works too::

    temporal workflow signal --workflow-id ID --name 'task-token:<state>' \\
      --input '{"output": {"approved": true}}'
"""

from __future__ import annotations

from typing import Any

from temporalio.client import Client

SEPARATOR = "|task-token:"


def parse_token(token: str) -> tuple[str, str]:
    """``(workflow id, signal name)`` of a task token.

    Raises:
        ValueError: the text is not a NEXUS task token.
    """
    workflow_id, sep, state = token.rpartition(SEPARATOR)
    if not sep or not workflow_id or not state:
        raise ValueError(
            f"{token!r} is not a NEXUS task token ('<workflow id>|task-token:<state>')"
        )
    return workflow_id, f"task-token:{state}"


async def send_task_success(client: Client, token: str, output: Any) -> None:
    """Resume the waiting task with ``output`` as its result."""
    workflow_id, signal = parse_token(token)
    await client.get_workflow_handle(workflow_id).signal(signal, {"output": output})


async def send_task_failure(
    client: Client, token: str, error: str = "States.TaskFailed", cause: str = ""
) -> None:
    """Fail the waiting task with ``error`` (matched by its Catch) and ``cause``."""
    workflow_id, signal = parse_token(token)
    await client.get_workflow_handle(workflow_id).signal(signal, {"error": error, "cause": cause})
