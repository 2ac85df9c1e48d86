"""``on_item_failure: item_error``: a map without tolerance fails with its failed item's own
error (the lowest index), inline and across shards; with a tolerance, MapToleranceExceeded."""

from __future__ import annotations

import pytest
from temporalio.client import WorkflowFailureError
from temporalio.exceptions import ApplicationError
from temporalio.testing import WorkflowEnvironment

from tests.helpers.run import execute, nexus_worker, start

FNS = "python:tests.helpers.functions"


def action_map(**options: str) -> str:
    extra = "".join(f"\n        {k}: {v}" for k, v in options.items())
    return f"""
    name: item-errors
    functions:
      work: {FNS}:maybe_fail
    states:
      - name: Each
        type: map
        items: numbers
        action: work
        retry: 1
        max_concurrency: 1{extra}
        catch:
          - errors: [BadItem]
            next: Caught
      - name: Caught
        type: succeed
        output: error
    """


def numbers(n: int, bad: set[int]) -> dict[str, object]:
    return {"numbers": [{"n": i, "fail": i in bad} for i in range(n)]}


async def test_the_map_fails_with_the_first_failed_items_error(env: WorkflowEnvironment) -> None:
    async with nexus_worker(env.client, action_map(on_item_failure="item_error")) as w:
        error = await execute(env.client, w, "item-errors", numbers(6, {3, 5}))
    # Sequential items: the map stops at item 3; its error is the map's, catchable by type.
    assert error == {"type": "BadItem", "message": "item 3 is bad", "state": "Each"}


async def test_a_tolerance_still_fails_with_map_tolerance_exceeded(
    env: WorkflowEnvironment,
) -> None:
    yaml = action_map(on_item_failure="item_error", tolerated_failures="1")
    async with nexus_worker(env.client, yaml) as w:
        with pytest.raises(WorkflowFailureError) as info:
            await execute(env.client, w, "item-errors", numbers(6, {1, 4}))
    cause = info.value.cause
    assert isinstance(cause, ApplicationError) and cause.type == "MapToleranceExceeded"
    assert "2 of 6 items failed (tolerated 1, stopped after 5 items)" in cause.message


async def test_without_the_field_the_map_fails_with_map_tolerance_exceeded(
    env: WorkflowEnvironment,
) -> None:
    async with nexus_worker(env.client, action_map()) as w:
        with pytest.raises(WorkflowFailureError) as info:
            await execute(env.client, w, "item-errors", numbers(6, {3}))
    cause = info.value.cause
    assert isinstance(cause, ApplicationError) and cause.type == "MapToleranceExceeded"


#: Also the example of docs/dsl.md §9.9.
SHARDED = """
name: sharded-item-errors
states:
  - name: Each
    type: map
    items: numbers
    max_concurrency: 1000
    on_item_failure: item_error
    states:
      - name: Check
        type: choice
        choices:
          - when: fail
            next: Bad
        default: Ok
      - name: Ok
        type: pass
        output: '{"double": n * 2}'
        next: Done
      - name: Done
        type: succeed
      - name: Bad
        type: fail
        error: BadItem
        message_expr: '"item " & $string(n) & " is bad"'
    catch:
      - errors: [BadItem]
        next: Caught
  - name: Caught
    type: succeed
    output: error
"""


async def test_the_documented_example(env: WorkflowEnvironment) -> None:
    """docs/dsl.md §9.9, ``on_item_failure``."""
    data = {"numbers": [{"n": 1, "fail": False}, {"n": 2, "fail": True}]}
    async with nexus_worker(env.client, SHARDED) as w:
        error = await execute(env.client, w, "sharded-item-errors", data)
    assert error == {"type": "BadItem", "message": "item 2 is bad", "state": "Each"}


async def test_sharded_maps_fail_with_the_lowest_failed_index(env: WorkflowEnvironment) -> None:
    # 4 states per item: shards of 250 items; items 270 and 520 fail in shards 2 and 3.
    async with nexus_worker(env.client, SHARDED) as w:
        handle = await start(env.client, w, "sharded-item-errors", numbers(600, {520, 270}))
        error = await handle.result()
        shards = [
            e.start_child_workflow_execution_initiated_event_attributes.workflow_id
            async for e in handle.fetch_history_events()
            if e.HasField("start_child_workflow_execution_initiated_event_attributes")
        ]
    assert len(shards) == 3
    assert error == {"type": "BadItem", "message": "item 270 is bad", "state": "Each"}
