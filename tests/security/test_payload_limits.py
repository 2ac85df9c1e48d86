"""State outputs over Temporal's payload limit, built from attacker-controlled start input, on
the real dev server: each fails the state that made it with a catchable ``PayloadTooLarge``
naming it, promptly, instead of failing the workflow task on every retry."""

from __future__ import annotations

import asyncio
import resource
from typing import Any

import pytest
from temporalio.client import WorkflowFailureError, WorkflowHandle
from temporalio.exceptions import ApplicationError
from temporalio.testing import WorkflowEnvironment

from tests.helpers.run import nexus_worker, start

#: A hang guard, not a timing assertion: without the check these runs never end.
HANG_GUARD = 60
FNS = "python:tests.helpers.functions"

PAD = """
name: big-pad
states:
  - name: Pad
    type: pass
    output: '$pad("", $.width, "x")'
"""

RANGE_JOINED = """
name: big-range
states:
  - name: Numbers
    type: set
    assign:
      numbers: '$string([1..$.n])'
"""

SHARED = """
name: big-shared
states:
  - name: Copies
    type: set
    assign:
      copies: '($s := $pad("", $.width, "x"); [$s, $s, $s, $s, $s, $s, $s, $s, $s, $s])'
"""

SUCCEED = """
name: big-result
states:
  - name: Finish
    type: succeed
    output: '$pad("", $.width, "x")'
"""

TASK_OUTPUT = f"""
name: big-task-output
functions:
  echo: {FNS}:echo
states:
  - name: Fetch
    action: echo
    output: '$pad("", $.width, "x")'
    catch:
      - errors: [PayloadTooLarge]
        next: Small
  - name: Small
    type: succeed
    output: error
"""

IN_BRANCH = """
name: big-branch
states:
  - name: Fan
    type: parallel
    branches:
      - name: build
        states:
          - name: Build
            type: set
            assign:
              blob: '$pad("", $.width, "x")'
    catch:
      - errors: [PayloadTooLarge]
        next: Report
  - name: Report
    type: succeed
    output: error
"""

ACCUMULATED = f"""
name: accumulated
functions:
  echo: {FNS}:echo
states:
  - name: First
    type: set
    assign:
      a: '$pad("", $.width, "x")'
    next: Second
  - name: Second
    type: set
    assign:
      b: '$pad("", $.width, "y")'
    next: Send
  - name: Send
    action: echo
    catch:
      - errors: [PayloadTooLarge]
        next: Done
  - name: Done
    type: succeed
    output: error
"""


async def _failure(handle: WorkflowHandle[Any, Any]) -> ApplicationError:
    with pytest.raises(WorkflowFailureError) as info:
        await asyncio.wait_for(handle.result(), HANG_GUARD)
    cause = info.value.cause
    assert isinstance(cause, ApplicationError)
    return cause


@pytest.mark.parametrize(
    ("definition", "reference", "data", "state"),
    [
        (PAD, "big-pad", {"width": 3_000_000}, "Pad"),
        (RANGE_JOINED, "big-range", {"n": 400_000}, "Numbers"),
        (SUCCEED, "big-result", {"width": 3_000_000}, "Finish"),
    ],
    ids=["pass-output", "set-range-joined", "succeed-output"],
)
async def test_an_output_over_the_limit_fails_its_state(
    env: WorkflowEnvironment, definition: str, reference: str, data: Any, state: str
) -> None:
    async with nexus_worker(env.client, definition) as w:
        err = await _failure(await start(env.client, w, reference, data))
    assert err.type == "PayloadTooLarge"
    assert f"state '{state}' failed" in err.message
    assert "over Temporal's 2 MB payload limit" in err.message
    assert "s3://" in err.message  # says what to do


async def test_shared_references_are_measured_without_building_the_json(
    env: WorkflowEnvironment,
) -> None:
    # Ten references to one 300 KB string: 300 KB of memory, 3 MB of JSON.
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    async with nexus_worker(env.client, SHARED) as w:
        err = await _failure(await start(env.client, w, "big-shared", {"width": 300_000}))
    assert err.type == "PayloadTooLarge" and "state 'Copies' failed" in err.message
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024 - before < 300


async def test_a_task_output_over_the_limit_is_caught(env: WorkflowEnvironment) -> None:
    async with nexus_worker(env.client, TASK_OUTPUT) as w:
        handle = await start(env.client, w, "big-task-output", {"width": 3_000_000})
        result = await asyncio.wait_for(handle.result(), HANG_GUARD)
    assert result["type"] == "PayloadTooLarge" and result["state"] == "Fetch"


async def test_a_branch_output_over_the_limit_is_caught_by_the_parallel(
    env: WorkflowEnvironment,
) -> None:
    async with nexus_worker(env.client, IN_BRANCH) as w:
        handle = await start(env.client, w, "big-branch", {"width": 3_000_000})
        result = await asyncio.wait_for(handle.result(), HANG_GUARD)
    assert result["type"] == "PayloadTooLarge"
    assert "Build" in result["message"]


async def test_outputs_under_the_limit_are_unchanged(env: WorkflowEnvironment) -> None:
    async with nexus_worker(env.client, PAD, ACCUMULATED) as w:
        handle = await start(env.client, w, "big-pad", {"width": 1_000_000})
        assert await asyncio.wait_for(handle.result(), HANG_GUARD) == "x" * 1_000_000
        # Two outputs each under the limit are fine; their sum fails where it is sent.
        handle = await start(env.client, w, "accumulated", {"width": 1_000_000})
        result = await asyncio.wait_for(handle.result(), HANG_GUARD)
    assert result["type"] == "PayloadTooLarge" and result["state"] == "Send"


async def test_a_long_chain_over_large_data_measures_only_what_each_state_made(
    env: WorkflowEnvironment,
) -> None:
    states = "\n".join(
        f"  - name: S{i}\n    type: set\n    assign:\n      k{i}: '$count(items) + {i}'\n"
        f"    next: S{i + 1}"
        for i in range(50)
    )
    chain = f"name: chain\nstates:\n{states}\n  - name: S50\n    type: succeed\n"
    data = {"items": [{"n": i, "text": "x" * 100} for i in range(5000)]}  # ~0.6 MB
    async with nexus_worker(env.client, chain) as w:
        handle = await start(env.client, w, "chain", data)
        result = await asyncio.wait_for(handle.result(), HANG_GUARD)
    assert result["k49"] == 5049
