"""Map states: inline and sharded fan-out, tolerance, item sources, result stores, nesting."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from temporalio.client import WorkflowFailureError
from temporalio.exceptions import ApplicationError
from temporalio.testing import WorkflowEnvironment

from tests.helpers.run import execute, nexus_worker, start

FNS = "python:tests.helpers.functions"


def numbers(n: int, fail_every: int = 0) -> list[dict[str, object]]:
    return [{"n": i, "fail": bool(fail_every) and i % fail_every == 7} for i in range(n)]


def map_yaml(**options: object) -> str:
    extra = "\n".join(f"        {k}: {json.dumps(v)}" for k, v in options.items())
    return f"""
    name: mapper
    functions:
      work: {FNS}:maybe_fail
    states:
      - name: Each
        type: map
        items: numbers
        action: work
        input: '{{"n": n, "fail": fail, "at": $index}}'
        retry: 1
{extra}
    """


async def test_inline_map_collects_in_item_order(env: WorkflowEnvironment) -> None:
    async with nexus_worker(env.client, map_yaml(max_concurrency=4)) as w:
        result = await execute(env.client, w, "mapper", {"numbers": numbers(25)})
    assert [r["double"] for r in result["Each"]] == [2 * i for i in range(25)]


async def test_5000_items_with_tolerated_failures_shard_into_children(
    env: WorkflowEnvironment,
) -> None:
    yaml = map_yaml(max_concurrency=250, tolerated_failures=5)
    async with nexus_worker(env.client, yaml) as w:
        handle = await start(env.client, w, "mapper", {"numbers": numbers(5000, 1000)})
        result = await handle.result()
        children = [
            e.start_child_workflow_execution_initiated_event_attributes.workflow_id
            async for e in handle.fetch_history_events()
            if e.HasField("start_child_workflow_execution_initiated_event_attributes")
        ]
    each = result["Each"]
    assert len(each) == 5000
    failed = [i for i, r in enumerate(each) if "error" in r]
    assert failed == [7, 1007, 2007, 3007, 4007]
    assert all(each[i]["double"] == 2 * i for i in range(5000) if i not in failed)
    assert each[7]["error"]["type"] == "BadItem"
    assert children == [f"{handle.id}/Each/{s}-{s + 1000}" for s in range(0, 5000, 1000)]


async def test_beyond_tolerance_fails_with_counts(env: WorkflowEnvironment) -> None:
    yaml = map_yaml(max_concurrency=50, tolerated_failures="1%")
    async with nexus_worker(env.client, yaml) as w:
        with pytest.raises(WorkflowFailureError) as info:
            await execute(env.client, w, "mapper", {"numbers": numbers(300, 10)})
    cause = info.value.cause
    assert isinstance(cause, ApplicationError) and cause.type == "MapToleranceExceeded"
    # Scheduling stops once the tolerance is exceeded: items already running still finish.
    assert re.search(
        r"\b\d+ of 300 items failed \(tolerated 3, stopped after \d+ items\)", cause.message
    ), cause.message
    assert "; item 7: BadItem: item 7 is bad, item 17" in cause.message
    assert cause.details[0]["details"]["failed"] > 3


async def test_jsonl_source_with_result_store(env: WorkflowEnvironment, tmp_path: Path) -> None:
    source = tmp_path / "items.jsonl"
    source.write_text("".join(json.dumps({"n": i}) + "\n" for i in range(450)))
    store = tmp_path / "results"
    yaml = f"""
    name: from-file
    functions:
      work: {FNS}:maybe_fail
    states:
      - name: Each
        type: map
        item_source: {source}
        action: work
        max_concurrency: 50
        results: store
        result_store: {store}
    """
    async with nexus_worker(env.client, yaml) as w:
        handle = await start(env.client, w, "from-file", {})
        result = await handle.result()
    manifest = result["Each"]
    assert manifest["items"] == 450 and manifest["failed"] == 0 and manifest["parts"] == 1
    lines = [
        json.loads(x)
        for p in sorted(store.rglob("*.jsonl"))
        for x in p.read_text().split("\n")
        if x
    ]
    assert [x["index"] for x in lines] == list(range(450))
    assert lines[449]["result"] == {"n": 449, "double": 898}
    assert str(store) == manifest["store"] and handle.id in manifest["prefix"]


async def test_nested_map_and_parallel_inside_map(env: WorkflowEnvironment) -> None:
    yaml = f"""
    name: nested
    functions:
      add: {FNS}:add
    states:
      - name: Rows
        type: map
        items: rows
        max_concurrency: 3
        states:
          - name: Cells
            type: map
            items: cells
            input: '{{"a": $, "b": $index}}'
            action: add
            output: $.sum
            next: Both
          - name: Both
            type: parallel
            branches:
              - name: total
                states:
                  - name: Total
                    type: set
                    assign:
                      v: $sum(Cells)
              - name: count
                states:
                  - name: Count
                    type: set
                    assign:
                      v: $count(Cells)
            output: '{{"total": total.v, "count": count.v}}'
    """
    rows = [{"cells": [1, 2, 3]}, {"cells": [10]}, {"cells": [5, 5]}]
    async with nexus_worker(env.client, yaml) as w:
        result = await execute(env.client, w, "nested", {"rows": rows})
    assert [r["Both"] for r in result["Rows"]] == [
        {"total": 1 + 3 + 5, "count": 3},
        {"total": 10, "count": 1},
        {"total": 11, "count": 2},
    ]


async def test_batches_call_the_action_once_per_batch(env: WorkflowEnvironment) -> None:
    yaml = f"""
    name: batched
    functions:
      sum: {FNS}:sum_batch
    states:
      - name: Each
        type: map
        items: numbers
        action: sum
        batch: 7
    """
    async with nexus_worker(env.client, yaml) as w:
        handle = await start(env.client, w, "batched", {"numbers": numbers(30)})
        result = await handle.result()
        scheduled = [
            e
            async for e in handle.fetch_history_events()
            if e.HasField("activity_task_scheduled_event_attributes")
        ]
    assert result["Each"] == [10 * i for i in range(30)]
    assert len(scheduled) == 5  # ceil(30 / 7)
