"""A parallel state's error: the message names the branch, ``cause`` keeps the original message
(through nested parallels)."""

from __future__ import annotations

from temporalio.testing import WorkflowEnvironment

from tests.helpers.run import execute, nexus_worker

NESTED = """
name: nested-parallel
states:
  - name: Outer
    type: parallel
    branches:
      - name: left
        states:
          - name: Fine
            type: pass
      - name: right
        states:
          - name: Inner
            type: parallel
            branches:
              - name: deep
                states:
                  - name: Broken
                    type: fail
                    error: Broken
                    message: the deep branch broke
    catch:
      - errors: [Broken]
        next: Caught
  - name: Caught
    type: succeed
    output: error
"""


async def test_cause_is_the_original_message(env: WorkflowEnvironment) -> None:
    async with nexus_worker(env.client, NESTED) as w:
        error = await execute(env.client, w, "nested-parallel", {})
    assert error["type"] == "Broken"
    assert error["message"] == "branch 'right': branch 'deep': the deep branch broke"
    assert error["cause"] == "the deep branch broke"
    assert error["details"]["cause"] == "the deep branch broke"  # the inner parallel's error
    assert error["details"]["details"]["message"] == "the deep branch broke"
