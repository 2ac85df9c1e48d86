"""``nexus bench fanout``: an N-item map through the interpreter against the same fan-out
written by hand (same sharding into children of 1,000 units, same batching and concurrency,
same page-reading of the item file), in the same run against the same server."""

from __future__ import annotations

import asyncio
import json
import math
import resource
import tempfile
import time
import uuid
from datetime import timedelta
from pathlib import Path
from typing import Any

from temporalio import activity, workflow
from temporalio.client import Client
from temporalio.worker import Worker

from activities.items import ItemAccess, item_activities
from nexus_temporal.bench import private_server
from nexus_temporal.dsl.compiler import compile_text
from nexus_temporal.protocol import READ_ITEMS, ReadItems, SourceRef
from nexus_temporal.registry import Registry
from workers.config import WorkerConfig
from workers.main import build_worker

NOOP_BATCH = "bench-noop-batch"
LEAF = 1000


@activity.defn(name=NOOP_BATCH)
async def noop_batch(payload: Any = None) -> Any:
    return [None] * len(payload) if isinstance(payload, list) else None


@workflow.defn(name="bench-fanout-leaf", sandboxed=False)
class HandLeaf:
    @workflow.run
    async def run(self, job: dict[str, Any]) -> int:
        items: list[Any] = []
        for start in range(job["start"], job["end"], LEAF):
            items += await workflow.execute_activity(
                READ_ITEMS,
                ReadItems(SourceRef(job["path"]), start, min(LEAF, job["end"] - start)),
                start_to_close_timeout=timedelta(minutes=2),
            )
        batch = job["batch"]
        chunks = [items[i : i + batch] for i in range(0, len(items), batch)]
        next_chunk = 0

        async def worker() -> None:
            nonlocal next_chunk
            while next_chunk < len(chunks):
                chunk = chunks[next_chunk]
                next_chunk += 1
                await workflow.execute_activity(
                    NOOP_BATCH,
                    chunk if batch > 1 else chunk[0],
                    start_to_close_timeout=timedelta(seconds=60),
                )

        await asyncio.gather(*[worker() for _ in range(min(job["concurrency"], len(chunks)))])
        return len(items)


@workflow.defn(name="bench-fanout-hand", sandboxed=False)
class HandParent:
    @workflow.run
    async def run(self, job: dict[str, Any]) -> int:
        span = LEAF * job["batch"]
        ranges = [(s, min(s + span, job["total"])) for s in range(0, job["total"], span)]
        per_leaf = min(job["concurrency"], LEAF)
        parallel = max(1, job["concurrency"] // per_leaf)
        next_range = 0
        done = 0

        async def worker() -> None:
            nonlocal next_range, done
            while next_range < len(ranges):
                start, end = ranges[next_range]
                next_range += 1
                done += await workflow.execute_child_workflow(
                    HandLeaf.run,
                    {**job, "start": start, "end": end},
                    id=f"{workflow.info().workflow_id}/{start}",
                )

        await asyncio.gather(*[worker() for _ in range(min(parallel, len(ranges)))])
        return done


def definition(path: Path, batch: int, concurrency: int) -> str:
    return f"""
name: bench-fanout
states:
  - name: Fan
    type: map
    item_source: {path}
    action: {NOOP_BATCH}
    batch: {batch}
    max_concurrency: {concurrency}
    results: discard
"""


async def _largest_history(client: Client, prefix: str) -> tuple[int, int]:
    largest, executions = 0, 0
    async for wf in client.list_workflows(f'WorkflowId STARTS_WITH "{prefix}"'):
        executions += 1
        desc = await client.get_workflow_handle(wf.id, run_id=wf.run_id).describe()
        largest = max(largest, desc.raw_description.workflow_execution_info.history_length)
    return largest, executions


async def fanout(
    items: int, batch: int = 1, concurrency: int = 200, address: str | None = None
) -> dict[str, Any]:
    tmp = Path(tempfile.mkdtemp(prefix="nexus-fanout-"))
    source = tmp / "items.jsonl"
    source.write_text("".join(json.dumps({"n": i}) + "\n" for i in range(items)))
    plan = compile_text(definition(source, batch, concurrency), "bench-fanout.yaml")
    async with private_server(address) as client:
        queue = f"fan-{uuid.uuid4().hex[:8]}"
        nexus = build_worker(
            client,
            WorkerConfig(task_queue=queue, search_attributes=False, max_concurrent_activities=1000),
            Registry([plan]),
            extra_activities=[noop_batch],
        )
        hand = Worker(
            client,
            task_queue=queue + "-hand",
            workflows=[HandParent, HandLeaf],
            activities=[noop_batch, *item_activities(ItemAccess.of([str(source)]))],
            max_concurrent_activities=1000,
        )
        async with nexus, hand:
            t0 = time.perf_counter()
            await client.execute_workflow("bench-fanout", {}, id=f"{queue}-nexus", task_queue=queue)
            t1 = time.perf_counter()
            await client.execute_workflow(
                HandParent.run,
                {"path": str(source), "total": items, "batch": batch, "concurrency": concurrency},
                id=f"{queue}-hand",
                task_queue=queue + "-hand",
            )
            t2 = time.perf_counter()
        await asyncio.sleep(1.5)  # let visibility catch up before listing executions
        largest_nexus, runs_nexus = await _largest_history(client, f"{queue}-nexus")
        largest_hand, runs_hand = await _largest_history(client, f"{queue}-hand")
    rss_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    nexus_rate, hand_rate = items / (t1 - t0), items / (t2 - t1)
    return {
        "bench": "fanout",
        "items": items,
        "batch": batch,
        "max_concurrency": concurrency,
        "interpreter_seconds": round(t1 - t0, 2),
        "baseline_seconds": round(t2 - t1, 2),
        "interpreter_items_per_s": round(nexus_rate, 1),
        "baseline_items_per_s": round(hand_rate, 1),
        "ratio": round(nexus_rate / hand_rate, 3),
        "target_ratio": 0.8,
        "interpreter_executions": runs_nexus,
        "largest_history_events": largest_nexus,
        "baseline_largest_history_events": largest_hand,
        "history_target": 10240,
        "peak_worker_rss_mib": round(rss_mib, 1),
        "rss_target_mib": 1024,
        "shards": math.ceil(items / (LEAF * batch)),
    }
