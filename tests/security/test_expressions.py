"""Attacks on the JSONata evaluation in workflow code, with attacker-controlled start input, on
the real dev server: a recursion that never ends, a range bomb, a string bomb. Each must fail
its state promptly with a catchable ``ExpressionError`` naming it, never wedge the workflow task
or take the worker's memory, and replay to the same commands."""

from __future__ import annotations

import asyncio
import json
import resource
from typing import Any

import pytest
from temporalio.api.enums.v1 import EventType
from temporalio.client import Client, WorkflowFailureError, WorkflowHandle
from temporalio.exceptions import ApplicationError
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from interpreters.states.data import BOUNDS_PATCH
from nexus_temporal.replay import replay
from tests.helpers.run import nexus_worker, registry_of, start

#: A hang guard, not a timing assertion: without the bounds these runs never end.
HANG_GUARD = 60

RECURSION = """
name: sec-recursion
states:
  - name: Countdown
    type: pass
    output: '($f := function($x){ $x > 0 ? $f($x-1) : 0 }; $f($.n))'
"""

RANGE_BOMB = """
name: sec-range-bomb
states:
  - name: Grid
    type: set
    assign:
      cells: '[1..$.n].[1..$.n]'
"""

STRING_BOMB = """
name: sec-string-bomb
states:
  - name: Banner
    type: set
    assign:
      banner: '$pad("", $.width, "x")'
"""

CAUGHT = """
name: sec-caught
functions:
  echo: python:tests.helpers.functions:echo
states:
  - name: Compute
    action: echo
    input: '{"cells": [1..$.n].[1..$.n]}'
    catch:
      - errors: [ExpressionError]
        next: Handled
  - name: Handled
    type: succeed
    output: error
"""

LEGIT = """
name: sec-legit
states:
  - name: Total
    type: set
    assign:
      total: '$sum([1..$.n])'
      evens: '$count([1..$.m][$ % 2 = 0])'
      label: '$join($map([1..$.k], function($i){ "item-" & $i }), ",")'
"""


def _maxrss_mb() -> float:
    # ru_maxrss is the high-water mark of this process (the worker runs in it): an attack
    # that allocated gigabytes would leave it gigabytes higher.
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


async def _failure(handle: WorkflowHandle[Any, Any]) -> ApplicationError:
    with pytest.raises(WorkflowFailureError) as info:
        await asyncio.wait_for(handle.result(), HANG_GUARD)
    cause = info.value.cause
    assert isinstance(cause, ApplicationError)
    return cause


async def _patches(client: Client, handle: WorkflowHandle[Any, Any]) -> list[str]:
    """The ``workflow.patched`` ids an execution recorded, in order."""
    history = await client.get_workflow_handle(handle.id).fetch_history()
    found = []
    for e in history.events:
        marker = e.marker_recorded_event_attributes
        if e.event_type == EventType.EVENT_TYPE_MARKER_RECORDED and marker.marker_name == (
            "core_patch"
        ):
            found.append(json.loads(marker.details["patch-data"].payloads[0].data)["id"])
    return found


async def _attack(
    client: Client, worker: Worker, definition: str, data: Any, state: str
) -> ApplicationError:
    before = _maxrss_mb()
    err = await _failure(await start(client, worker, definition, data))
    assert err.type == "ExpressionError"
    assert f"state '{state}' failed" in err.message
    # The worker did not balloon: the range bomb alone would take gigabytes.
    assert _maxrss_mb() - before < 300
    return err


async def test_a_recursion_that_never_ends_fails_its_state(env: WorkflowEnvironment) -> None:
    async with nexus_worker(env.client, RECURSION) as w:
        err = await _attack(env.client, w, "sec-recursion", {"n": 1e12}, "Countdown")
    assert "evaluation steps" in err.message and "defaults.expression_steps" in err.message


async def test_a_range_bomb_fails_its_state_without_taking_memory(
    env: WorkflowEnvironment,
) -> None:
    async with nexus_worker(env.client, RANGE_BOMB) as w:
        err = await _attack(env.client, w, "sec-range-bomb", {"n": 1_000_000}, "Grid")
    assert "array items produced" in err.message


async def test_a_string_bomb_fails_its_state_before_it_is_built(env: WorkflowEnvironment) -> None:
    async with nexus_worker(env.client, STRING_BOMB) as w:
        err = await _attack(env.client, w, "sec-string-bomb", {"width": 1e10}, "Banner")
    assert "string characters produced" in err.message


async def test_the_bound_error_is_caught_like_any_expression_error(
    env: WorkflowEnvironment,
) -> None:
    async with nexus_worker(env.client, CAUGHT) as w:
        handle = await start(env.client, w, "sec-caught", {"n": 1_000_000})
        result = await asyncio.wait_for(handle.result(), HANG_GUARD)
    assert result["type"] == "ExpressionError" and result["state"] == "Compute"
    assert "array items produced" in result["message"]


async def test_heavy_but_bounded_expressions_still_work(env: WorkflowEnvironment) -> None:
    async with nexus_worker(env.client, LEGIT) as w:
        handle = await start(env.client, w, "sec-legit", {"n": 100_000, "m": 20_000, "k": 3})
        result = await asyncio.wait_for(handle.result(), HANG_GUARD)
        # Within its bounds an execution records no patch marker: the same commands as before.
        assert await _patches(env.client, handle) == []
    assert result["total"] == 5_000_050_000
    assert result["evens"] == 10_000
    assert result["label"] == "item-1,item-2,item-3"


async def test_a_definition_sets_its_own_bounds(env: WorkflowEnvironment) -> None:
    tight = LEGIT.replace("name: sec-legit", "name: sec-tight\ndefaults:\n  expression_items: 5000")
    async with nexus_worker(env.client, tight) as w:
        err = await _failure(
            await start(env.client, w, "sec-tight", {"n": 100_000, "m": 20_000, "k": 3})
        )
        ok = await start(env.client, w, "sec-tight", {"n": 1_000, "m": 10, "k": 3})
        assert (await asyncio.wait_for(ok.result(), HANG_GUARD))["total"] == 500_500
    assert err.type == "ExpressionError" and "bound of 5,000 array items" in err.message


async def test_a_bound_failure_is_marked_in_history_and_replays(env: WorkflowEnvironment) -> None:
    async with nexus_worker(env.client, RECURSION) as w:
        handle = await start(env.client, w, "sec-recursion", {"n": 1e12})
        await _failure(handle)
    # The one marker says the bounds decided: a replay of it fails at the same step.
    assert await _patches(env.client, handle) == [BOUNDS_PATCH]
    history = await env.client.get_workflow_handle(handle.id).fetch_history()
    [report] = await replay([history], registry_of(RECURSION))
    assert report.ok, report.problem


INTRINSIC_BOMB = """
name: sec-intrinsic-bomb
states:
  - name: Span
    type: pass
    output: '$states_array_range(1, $.n, 1)'
"""


async def test_an_intrinsic_range_bomb_fails_its_state_before_it_is_built(
    env: WorkflowEnvironment,
) -> None:
    async with nexus_worker(env.client, INTRINSIC_BOMB) as w:
        err = await _attack(env.client, w, "sec-intrinsic-bomb", {"n": 10**12}, "Span")
    assert "at most 1000 items" in err.message


EVAL = """
name: sec-eval
states:
  - name: Run
    type: pass
    output: '$eval($.code)'
"""


async def test_eval_of_input_cannot_reach_a_non_deterministic_function(
    env: WorkflowEnvironment,
) -> None:
    """The load-time check sees '$eval($.code)'; the code comes from the starter at run time."""
    async with nexus_worker(env.client, EVAL) as w:
        for code in ("$now()", "$millis()", "$random()", "$shuffle([1, 2, 3])"):
            err = await _attack(env.client, w, "sec-eval", {"code": code}, "Run")
            assert "eval" in err.message
        handle = await start(env.client, w, "sec-eval", {"code": "1 + 2"})
        assert await asyncio.wait_for(handle.result(), HANG_GUARD) == 3
