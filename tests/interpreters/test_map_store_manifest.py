"""``results: store``: part files hold only the items that ran (completed, or failed with
their error), never a ``null`` line for an item that did not run; the manifest (and the
MapToleranceExceeded details) count ``completed``, ``failed`` and ``not_run`` items."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from temporalio.testing import WorkflowEnvironment

from activities.items import _store
from nexus_temporal.protocol import StoreResults
from tests.helpers.run import execute, nexus_worker

FNS = "python:tests.helpers.functions"


def definition(store: Path, tolerance: int, concurrency: int = 1) -> str:
    return f"""
    name: stored
    functions:
      work: {FNS}:maybe_fail
    states:
      - name: Each
        type: map
        items: numbers
        action: work
        retry: 1
        max_concurrency: {concurrency}
        tolerated_failures: {tolerance}
        results: store
        result_store: {store}
        catch:
          - errors: [MapToleranceExceeded]
            next: Caught
      - name: Caught
        type: succeed
        output: error
    """


def numbers(n: int, bad: set[int]) -> dict[str, object]:
    return {"numbers": [{"n": i, "fail": i in bad} for i in range(n)]}


def lines(store: Path) -> list[dict[str, Any]]:
    return [
        json.loads(line)
        for part in sorted(store.rglob("part-*.jsonl"))
        for line in part.read_text().splitlines()
    ]


async def test_items_that_never_ran_have_no_line(env: WorkflowEnvironment, tmp_path: Path) -> None:
    async with nexus_worker(env.client, definition(tmp_path, tolerance=1)) as w:
        error = await execute(env.client, w, "stored", numbers(10, {2, 3}))
    # One at a time: items 0..3 run, the second failure (item 3) exceeds the tolerance.
    assert error["type"] == "MapToleranceExceeded"
    details = error["details"]
    assert details["total"] == 10
    assert (details["completed"], details["failed"], details["not_run"]) == (2, 2, 6)
    assert details["parts"] == 1 and details["store"] == str(tmp_path)
    assert [f["index"] for f in details["failures"]] == [2, 3]
    stored = lines(tmp_path)
    assert [line["index"] for line in stored] == [0, 1, 2, 3]
    assert stored[0]["result"] == {"n": 0, "double": 0}
    assert stored[2]["result"] == {"error": {"type": "BadItem", "message": "item 2 is bad"}}
    assert all(line["result"] is not None for line in stored)
    assert (tmp_path / details["prefix"]).is_dir()


async def test_the_manifest_counts_completed_failed_and_not_run(
    env: WorkflowEnvironment, tmp_path: Path
) -> None:
    async with nexus_worker(env.client, definition(tmp_path, tolerance=2, concurrency=5)) as w:
        out = await execute(env.client, w, "stored", numbers(12, {5}))
    manifest = out["Each"]
    assert set(manifest) == {
        "store",
        "prefix",
        "parts",
        "items",
        "completed",
        "failed",
        "not_run",
        "failures",
    }
    assert (manifest["items"], manifest["completed"], manifest["failed"]) == (12, 11, 1)
    assert manifest["not_run"] == 0 and manifest["parts"] == 1
    assert manifest["failures"] == [{"index": 5, "type": "BadItem", "message": "item 5 is bad"}]
    assert [line["index"] for line in lines(tmp_path)] == list(range(12))


async def test_items_that_never_ran_have_no_line_across_shards(
    env: WorkflowEnvironment, tmp_path: Path
) -> None:
    # 450 items is over the 200 inline units: the map runs in a shard.
    async with nexus_worker(env.client, definition(tmp_path, tolerance=0, concurrency=1)) as w:
        error = await execute(env.client, w, "stored", numbers(450, {4}))
    details = error["details"]
    assert (details["completed"], details["failed"], details["not_run"]) == (4, 1, 445)
    assert [line["index"] for line in lines(tmp_path)] == [0, 1, 2, 3, 4]


def test_the_store_activity_writes_the_indexes_it_is_given(tmp_path: Path) -> None:
    request = StoreResults(str(tmp_path), "w/S/part-0000000010.jsonl", 10, ["a", None], [10, 12])
    _store(request)
    assert [json.loads(x) for x in (tmp_path / request.key).read_text().splitlines()] == [
        {"index": 10, "result": "a"},
        {"index": 12, "result": None},
    ]
    # Without indexes: a line per result from ``start`` (maps started before the change).
    _store(StoreResults(str(tmp_path), "w/S/part-0000000000.jsonl", 0, [1, 2]))
    assert (tmp_path / "w/S/part-0000000000.jsonl").read_text().count("\n") == 2
