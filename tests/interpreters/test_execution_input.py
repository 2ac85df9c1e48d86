"""``$context.Execution.Input`` is the workflow input as given, where the data wraps a
non-object input as ``{"input": ...}``; continue-as-new keeps it."""

from __future__ import annotations

import pytest
from temporalio.api.enums.v1 import EventType
from temporalio.testing import WorkflowEnvironment

from tests.helpers.run import execute, nexus_worker, start

ECHO = """
name: raw-input
states:
  - name: Done
    type: succeed
    output: '{"raw": $context.Execution.Input, "data": $, "input": $input}'
"""


@pytest.mark.parametrize("given", [[1, 2, 3], "text", 7, {"input": [1]}, {"a": 1}], ids=repr)
async def test_the_context_holds_the_input_as_given(
    env: WorkflowEnvironment, given: object
) -> None:
    async with nexus_worker(env.client, ECHO) as w:
        result = await execute(env.client, w, "raw-input", given)
    wrapped = given if isinstance(given, dict) else {"input": given}
    assert result == {"raw": given, "data": wrapped, "input": wrapped}


LOOP = """
name: raw-input-loop
defaults:
  history_limit: 100
functions:
  echo: python:tests.helpers.functions:echo
states:
  - name: Count
    type: pass
    assign:
      i: '$exists(i) ? i + 1 : 1'
    next: Call
  - name: Call
    action: echo
    input: i
    next: Again
  - name: Again
    type: choice
    choices:
      - when: i < 30
        next: Count
    default: Done
  - name: Done
    type: succeed
    output: '{"raw": $context.Execution.Input, "i": i}'
"""


async def test_continue_as_new_keeps_the_input_as_given(env: WorkflowEnvironment) -> None:
    async with nexus_worker(env.client, LOOP) as w:
        handle = await start(env.client, w, "raw-input-loop", ["a", "b"])
        result = await handle.result()  # follows the chain of runs
        first = env.client.get_workflow_handle(handle.id, run_id=handle.first_execution_run_id)
        events = [e.event_type async for e in first.fetch_history_events()]
    assert events[-1] == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_CONTINUED_AS_NEW
    assert result == {"raw": ["a", "b"], "i": 30}
