"""``nexus bench overhead``: the interpreter against a hand-written Temporal workflow.

Both run the same chain of no-op activities, against the same server, in alternating rounds, so
the ratio (interpreter / hand-written) measures only the interpreter's cost.
"""

from __future__ import annotations

import socket
import statistics
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from typing import Any

from temporalio import activity, workflow
from temporalio.client import Client
from temporalio.common import RetryPolicy
from temporalio.worker import Worker

from nexus_temporal.devserver import DevServer, temporal_binary
from nexus_temporal.dsl.compiler import compile_text
from nexus_temporal.registry import Registry
from workers.config import WorkerConfig
from workers.main import build_worker

NOOP = "bench-noop"


@activity.defn(name=NOOP)
async def noop(payload: Any = None) -> dict[str, Any]:
    return {"ok": True}


@workflow.defn(name="bench-handwritten", sandboxed=False)
class HandWritten:
    """What a user would write by hand for the same chain."""

    @workflow.run
    async def run(self, states: int, express: bool = False) -> dict[str, Any]:
        data: dict[str, Any] = {}
        for i in range(states):
            if express:
                data[f"s{i}"] = await workflow.execute_local_activity(
                    NOOP,
                    data,
                    start_to_close_timeout=timedelta(seconds=10),
                    retry_policy=RetryPolicy(maximum_attempts=3),
                )
            else:
                data[f"s{i}"] = await workflow.execute_activity(
                    NOOP,
                    data,
                    start_to_close_timeout=timedelta(seconds=60),
                    retry_policy=RetryPolicy(maximum_attempts=3),
                )
        return data


def chain_yaml(states: int, express: bool = False) -> str:
    lines = ["name: bench-chain", "version: '1'", f"mode: {'express' if express else 'regular'}"]
    lines += ["defaults:", "  retry: {max_attempts: 3}", "states:"]
    for i in range(states):
        lines += [f"  - name: s{i}", f"    action: {NOOP}"]
        if i + 1 < states:
            lines.append(f"    next: s{i + 1}")
    return "\n".join(lines) + "\n"


@asynccontextmanager
async def private_server(address: str | None) -> AsyncIterator[Client]:
    """A client on ``address``, or on a private in-memory dev server started for the bench."""
    server = None
    if address is None:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        server = DevServer(port=port, ui_port=port + 1000, db_file=None).start()
        address = server.address
    try:
        yield await Client.connect(address)
    finally:
        if server is not None:
            server.stop()


async def overhead(
    states: int = 50, rounds: int = 7, address: str | None = None, express: bool = False
) -> dict[str, Any]:
    plan = compile_text(chain_yaml(states, express), "bench-chain.yaml")
    interp: list[float] = []
    base: list[float] = []
    async with private_server(address) as client:
        queue = f"bench-{uuid.uuid4().hex[:8]}"
        nexus_worker = build_worker(
            client,
            WorkerConfig(task_queue=queue, search_attributes=False),
            Registry([plan]),
            extra_activities=[noop],
        )
        hand_worker = Worker(
            client, task_queue=queue + "-hand", workflows=[HandWritten], activities=[noop]
        )
        async with nexus_worker, hand_worker:
            for r in range(rounds + 1):  # round 0 warms up both and is not counted
                t0 = time.perf_counter()
                await client.execute_workflow(
                    "bench-chain", {}, id=f"b-n-{queue}-{r}", task_queue=queue
                )
                t1 = time.perf_counter()
                await client.execute_workflow(
                    HandWritten.run,
                    args=[states, express],
                    id=f"b-h-{queue}-{r}",
                    task_queue=queue + "-hand",
                )
                t2 = time.perf_counter()
                if r:
                    interp.append((t1 - t0) * 1000)
                    base.append((t2 - t1) * 1000)
    mi, mb = statistics.median(interp), statistics.median(base)
    return {
        "bench": "overhead",
        "mode": "express (local activities)" if express else "regular (activities)",
        "states": states,
        "rounds": rounds,
        "server": address or f"private dev server ({temporal_binary()})",
        "interpreter_median_ms": round(mi, 2),
        "baseline_median_ms": round(mb, 2),
        "interpreter_ms_per_state": round(mi / states, 3),
        "baseline_ms_per_state": round(mb / states, 3),
        "ratio": round(mi / mb, 3),
        "target_ratio": 1.10,
        **({"target_ms_per_state": 3.0} if express else {}),
        "interpreter_runs_ms": [round(x, 1) for x in interp],
        "baseline_runs_ms": [round(x, 1) for x in base],
    }
