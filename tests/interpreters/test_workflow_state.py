"""Workflow states chain definitions as child workflows; long loops continue-as-new."""

from __future__ import annotations

from temporalio.api.enums.v1 import EventType
from temporalio.testing import WorkflowEnvironment

from tests.helpers.run import nexus_worker, start

FNS = "python:tests.helpers.functions"

CHILD = f"""
name: child
version: "2"
functions:
  work: {FNS}:maybe_fail
states:
  - name: Work
    action: work
    input: '{{"n": n, "fail": fail}}'
    retry: 1
    output: double
"""

PARENT = """
name: parent
states:
  - name: Good
    type: workflow
    workflow: child@2
    input: '{"n": 21, "fail": false}'
    next: Bad
  - name: Bad
    type: workflow
    workflow: child
    input: '{"n": 1, "fail": true}'
    catch:
      - errors: [BadItem]
        next: Handled
  - name: Handled
    type: succeed
"""


async def test_child_result_and_failing_child_caught_by_parent(env: WorkflowEnvironment) -> None:
    async with nexus_worker(env.client, CHILD, PARENT) as w:
        handle = await start(env.client, w, "parent", {})
        result = await handle.result()
        child = env.client.get_workflow_handle(f"{handle.id}/Good")
        child_result = await child.result()
    assert result["Good"]["Work"] == 42 and child_result["Work"] == 42
    assert result["error"]["type"] == "BadItem" and result["error"]["state"] == "Bad"


async def test_detached_child_outlives_parent(env: WorkflowEnvironment) -> None:
    parent = """
    name: launcher
    states:
      - name: Launch
        type: workflow
        workflow: waiter
        detached: true
    """
    waiter = """
    name: waiter
    states:
      - name: Hold
        type: wait
        signal: go
    """
    async with nexus_worker(env.client, parent, waiter) as w:
        handle = await start(env.client, w, "launcher", {})
        result = await handle.result()
        child = env.client.get_workflow_handle(result["Launch"]["workflow_id"])
        assert (await child.describe()).status.name == "RUNNING"
        await child.signal("go", {"ok": 1})
        assert (await child.result())["Hold"] == {"ok": 1}


LOOP = f"""
name: poller
defaults:
  history_limit: 100
functions:
  echo: {FNS}:echo
states:
  - name: Poll
    action: echo
    input: '{{"i": i}}'
    assign:
      i: i + 1
    next: Again
  - name: Again
    type: choice
    choices:
      - when: i < 40
        next: Poll
    default: Done
  - name: Done
    type: succeed
    output: '{{"polls": i}}'
"""


async def test_loop_continues_as_new_and_finishes_with_its_data(env: WorkflowEnvironment) -> None:
    async with nexus_worker(env.client, LOOP) as w:
        handle = await start(env.client, w, "poller", {"i": 0})
        result = await handle.result()  # follows the chain of runs
        runs = 1
        run = env.client.get_workflow_handle(handle.id, run_id=handle.first_execution_run_id)
        while True:
            last = None
            async for event in run.fetch_history_events():
                last = event
            assert last is not None
            if last.event_type != EventType.EVENT_TYPE_WORKFLOW_EXECUTION_CONTINUED_AS_NEW:
                break
            runs += 1
            attrs = last.workflow_execution_continued_as_new_event_attributes
            run = env.client.get_workflow_handle(handle.id, run_id=attrs.new_execution_run_id)
    assert result == {"polls": 40}
    assert runs >= 3, runs
