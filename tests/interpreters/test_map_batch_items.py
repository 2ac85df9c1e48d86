"""``batch_item_errors: true``: a batch function fails single items by returning
``{"__nexus_item_error__": {...}}`` at their positions; each counts as one failed item against
``tolerated_failures``, the others complete (docs/dsl.md §9.9)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from temporalio.client import WorkflowFailureError
from temporalio.exceptions import ApplicationError
from temporalio.testing import WorkflowEnvironment

from tests.helpers.run import execute, nexus_worker

HERE = "python:tests.interpreters.test_map_batch_items"


def some_fail(items: list[dict[str, Any]]) -> list[Any]:
    """Doubles each ``n``; items with ``fail`` are reported failed, one by one."""
    return [
        {"__nexus_item_error__": {"type": "BadItem", "message": f"item {i['n']} is bad"}}
        if i["fail"]
        else i["n"] * 2
        for i in items
    ]


def definition(*, opt_in: bool = True, tolerance: str = "2%", results: str = "collect") -> str:
    extra = "\n        batch_item_errors: true" if opt_in else ""
    store = "\n        result_store: {store}" if results == "store" else ""
    return f"""
    name: batch-items
    functions:
      work: {HERE}:some_fail
    states:
      - name: Each
        type: map
        items: numbers
        action: work
        batch: 25
        retry: 1
        max_concurrency: 1
        tolerated_failures: "{tolerance}"
        results: {results}{store}{extra}
    """


def numbers(n: int, bad: set[int]) -> dict[str, object]:
    return {"numbers": [{"n": i, "fail": i in bad} for i in range(n)]}


async def test_one_failed_item_of_a_batch_fails_only_that_item(
    env: WorkflowEnvironment, tmp_path: Path
) -> None:
    # 100 items in batches of 25, 2% tolerated, 1% fail: the map succeeds.
    yaml = definition().replace("{store}", str(tmp_path))
    async with nexus_worker(env.client, yaml) as w:
        out = await execute(env.client, w, "batch-items", numbers(100, {30}))
    results = out["Each"]
    assert len(results) == 100
    assert results[30] == {"error": {"type": "BadItem", "message": "item 30 is bad"}}
    assert results[29] == 58 and results[31] == 62 and results[0] == 0


async def test_item_failures_count_against_the_tolerance(
    env: WorkflowEnvironment, tmp_path: Path
) -> None:
    # 3 failed items with 2 tolerated (2% of 100): MapToleranceExceeded, naming the items.
    yaml = definition().replace("{store}", str(tmp_path))
    async with nexus_worker(env.client, yaml) as w:
        with pytest.raises(WorkflowFailureError) as info:
            await execute(env.client, w, "batch-items", numbers(100, {3, 40, 41}))
    cause = info.value.cause
    assert isinstance(cause, ApplicationError) and cause.type == "MapToleranceExceeded"
    assert "3 of 100 items failed (tolerated 2" in cause.message
    assert "item 3: BadItem: item 3 is bad" in cause.message


async def test_stored_results_hold_each_items_own_outcome(
    env: WorkflowEnvironment, tmp_path: Path
) -> None:
    yaml = definition(results="store").replace("{store}", str(tmp_path))
    async with nexus_worker(env.client, yaml) as w:
        out = await execute(env.client, w, "batch-items", numbers(50, {7}))
    manifest = out["Each"]
    assert manifest["items"] == 50 and manifest["failed"] == 1
    assert manifest["failures"] == [{"index": 7, "type": "BadItem", "message": "item 7 is bad"}]
    lines = [
        json.loads(line)
        for part in sorted(tmp_path.rglob("part-*.jsonl"))
        for line in part.read_text().splitlines()
    ]
    by_index = {line["index"]: line["result"] for line in lines}
    assert by_index[7] == {"error": {"type": "BadItem", "message": "item 7 is bad"}}
    assert by_index[6] == 12 and by_index[8] == 16


async def test_without_the_field_the_marker_is_an_ordinary_result(
    env: WorkflowEnvironment, tmp_path: Path
) -> None:
    yaml = definition(opt_in=False).replace("{store}", str(tmp_path))
    async with nexus_worker(env.client, yaml) as w:
        out = await execute(env.client, w, "batch-items", numbers(10, {4}))
    assert out["Each"][4] == {
        "__nexus_item_error__": {"type": "BadItem", "message": "item 4 is bad"}
    }
