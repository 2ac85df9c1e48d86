"""Parallel states: branches on copies of the data, results by branch, failures catchable."""

from __future__ import annotations

from temporalio.testing import WorkflowEnvironment

from tests.helpers.run import execute, nexus_worker

FNS = "python:tests.helpers.functions"

YAML = f"""
name: fan
functions:
  add: {FNS}:add
  slow: {FNS}:sleep_then_echo
  boom: {FNS}:boom
states:
  - name: Both
    type: parallel
    branches:
      - name: left
        states:
          - name: L1
            action: add
            input: '{{"a": x, "b": 1}}'
            assign:
              v: sum
      - name: right
        states:
          - name: R1
            type: choice
            choices:
              - when: fail = true
                next: R-Boom
            default: R2
          - name: R2
            action: add
            input: '{{"a": x, "b": 2}}'
            assign:
              v: sum
          - name: R-Boom
            action: boom
            input: '{{"kind": "BranchBroke"}}'
    assign:
      left: left.v
      right: right.v
    catch:
      - errors: [BranchBroke]
        next: Recovered
  - name: Recovered
    type: pass
"""


async def test_branches_run_on_copies_and_join(env: WorkflowEnvironment) -> None:
    async with nexus_worker(env.client, YAML) as w:
        result = await execute(env.client, w, "fan", {"x": 10, "fail": False})
    assert result["left"] == 11 and result["right"] == 12
    assert "v" not in result  # branches did not write into the parent's data


async def test_branch_failure_is_catchable_at_the_parallel_state(env: WorkflowEnvironment) -> None:
    async with nexus_worker(env.client, YAML) as w:
        result = await execute(env.client, w, "fan", {"x": 10, "fail": True})
    assert result["error"]["type"] == "BranchBroke"
    assert result["error"]["state"] == "Both"
    assert "branch 'right'" in result["error"]["message"]
