"""``nexus bench resilience --real``: the scenario x policy matrix on a real Temporal dev server.

The simulator's saga as a NEXUS definition whose ``python:`` functions follow the simulator's
function model (:mod:`nexus_temporal.resilience.e2e_functions`), served by the ordinary worker
with its adaptive-retry interceptor, on a shortened workload (:data:`REAL_WORKLOAD`: 4
workflows/s for 90 s, the fault from 10 s). Cells run in ``jobs`` worker processes at once,
each on its own task queue of one shared dev server; each cell's interceptor writes its
per-attempt records (score, delay, budget, breaker, outcome) to a JSONL trace
(``ResilienceSettings.trace_file``), from which the logical calls and the decisions are counted.
Next to each cell, the simulator's prediction for the same workload and seeds.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import statistics
import tempfile
import time
import uuid
from collections import Counter
from concurrent.futures import ProcessPoolExecutor
from dataclasses import replace
from multiprocessing import get_context
from pathlib import Path
from typing import Any

from nexus_temporal.resilience.metrics import WorkflowRecord, aggregate, run_metrics
from nexus_temporal.resilience.scenarios import (
    POLICIES,
    SCENARIOS,
    FunctionSpec,
    Scenario,
    Spike,
    Workload,
)

__all__ = [
    "REAL_ABLATION",
    "REAL_POLICIES",
    "REAL_SCENARIOS",
    "REAL_WORKLOAD",
    "definition_yaml",
    "real_scenario",
    "run_cell",
    "run_real",
]

#: 4 workflows/s for 90 s, schedule-to-close 20 s, charge: capacity 2, timeout 3 s (half the
#: simulator's rates and times, so that a cell takes about 110 s).
REAL_WORKLOAD = Workload(
    arrival_rate=4.0,
    horizon=90.0,
    functions=(
        FunctionSpec("reserve", 0.05),
        FunctionSpec("charge", 0.25, sigma=0.35, capacity=2, timeout=3.0, load_errors=True),
        FunctionSpec("charge-fallback", 0.5, capacity=16, timeout=3.0),
        FunctionSpec("ship", 0.1),
        FunctionSpec("release", 0.05),
        FunctionSpec("refund", 0.05),
    ),
    schedule_to_close=20.0,
)
ONSET = 10.0
#: Fault length per scenario (s): 20 s, the outage 15 s, the overload's spike 10 s.
DURATION = {"outage": 15.0, "overload": 10.0}
REAL_SCENARIOS = ("transient-20", "brownout", "outage", "partial", "overload", "dependency")
REAL_POLICIES = ("static", "adaptive", "adaptive-fallback")
#: Ablation cells: (scenario, policy).
REAL_ABLATION = tuple(
    (s, p) for s in ("brownout", "overload") for p in ("adaptive-no-forest", "budget-breaker")
)
MODULE = "python:nexus_temporal.resilience.e2e_functions"


def real_scenario(name: str) -> Scenario:
    """The scenario ``name`` with its fault moved to the real run's window."""
    base = SCENARIOS[name]
    end = ONSET + DURATION.get(name, 20.0)
    faults = tuple(replace(f, start=ONSET, end=end) for f in base.faults)
    spike = Spike(ONSET, end, base.spike.factor) if base.spike else None
    return replace(base, onset=ONSET, end=end, faults=faults, spike=spike)


def definition_yaml(policy: str, workload: Workload = REAL_WORKLOAD) -> str:
    """The saga as NEXUS YAML, with ``retry.policy`` static or adaptive."""
    spec = POLICIES[policy]
    mode = "adaptive" if spec.adaptive else "static"
    retry = (
        f"{{policy: {mode}, max_attempts: {workload.max_attempts}, "
        f"initial_interval: {workload.initial:g}s, backoff_coefficient: {workload.coefficient:g}, "
        f"maximum_interval: {workload.maximum:g}s}}"
    )
    charge = workload.function("charge")
    breaker = "\n    circuit_breaker: {window_size: 20}" if spec.breaker else ""
    fallback_fn = (
        f"\n  charge_fallback:\n    uri: {MODULE}:charge_fallback\n    timeout: {charge.timeout:g}s"
        if spec.fallback
        else ""
    )
    fallback = "\n    fallback: [charge_fallback]" if spec.fallback else ""
    return f"""\
name: resilience-real-{policy}
version: "1"
defaults:
  retry: {retry}
  schedule_to_close: {workload.schedule_to_close:g}s
functions:
  reserve: {MODULE}:reserve
  release: {MODULE}:release
  ship: {MODULE}:ship
  refund: {MODULE}:refund
  charge:
    uri: {MODULE}:charge
    timeout: {charge.timeout:g}s{breaker}{fallback_fn}
states:
  - name: reserve
    action: reserve
    compensate: release
    next: charge
  - name: charge
    action: charge
    compensate: refund{fallback}
    next: ship
  - name: ship
    action: ship
"""


def _settings(policy: str, trace: str) -> Any:
    from workers.resilience_settings import ResilienceSettings

    spec = POLICIES[policy]
    return ResilienceSettings(
        trace_file=trace,
        refit_interval=5.0 if spec.forest else 0.0,
        delays="adaptive" if spec.scored else "static",
    )


def trace_summary(path: str, function: str = "charge") -> dict[str, Any]:
    """Counts from a cell's JSONL trace: logical calls (first attempts of ``function``,
    refused ones included), attempts by outcome, decisions by reason, and the median score."""
    records = []
    if os.path.exists(path):
        with open(path, encoding="utf-8") as f:
            records = [json.loads(line) for line in f if line.strip()]
    mine = [r for r in records if r["function"] == function]
    firsts = {r["workflow_id"] for r in mine if r["attempt"] == 1}
    scores = [r["score"] for r in mine if r["score"] is not None]
    reasons = Counter((r["reason"] or "-").split(":", 1)[0] for r in mine if r["reason"])
    return {
        "logical_calls": len(firsts),
        "attempts": len(mine),
        "outcomes": dict(Counter(r["outcome"] or "-" for r in mine)),
        "errors": dict(Counter(r["error_type"] for r in mine if r["error_type"])),
        "reasons": dict(reasons),
        "median_score": round(statistics.median(scores), 3) if scores else None,
        "breaker_open": sum(1 for r in mine if r["breaker"] == "open"),
        "degraded": sum(1 for r in mine if r["degraded"]),
    }


async def _cell(address: str, scenario_name: str, policy: str, seed: int, trace: str) -> Any:
    from temporalio.client import Client

    from nexus_temporal.dsl.compiler import compile_text
    from nexus_temporal.registry import Registry
    from nexus_temporal.resilience import e2e_functions
    from workers.config import WorkerConfig
    from workers.main import build_worker

    client = await Client.connect(address)
    wl, scenario = REAL_WORKLOAD, real_scenario(scenario_name)
    plan = compile_text(definition_yaml(policy), f"resilience-real-{policy}.yaml")
    queue = f"resilience-{uuid.uuid4().hex[:8]}"
    config = WorkerConfig(
        task_queue=queue,
        search_attributes=False,
        max_concurrent_activities=500,
        resilience=_settings(policy, trace),
    )
    worker = build_worker(client, config, Registry([plan]))
    rng = random.Random(seed)
    ends: dict[str, tuple[float, float, bool]] = {}
    async with worker:
        st = e2e_functions.reset(queue, scenario, wl, seed)
        t0 = time.monotonic()

        async def one(i: int, start: float) -> None:
            ok = True
            try:
                await client.execute_workflow(
                    plan.name, {"order": i}, id=f"{queue}-{i}", task_queue=queue
                )
            except Exception:
                ok = False
            ends[f"{queue}-{i}"] = (start, time.monotonic() - t0, ok)

        tasks = []
        at, i = 0.0, 0
        while True:
            at += rng.expovariate(wl.arrival_rate * scenario.rate_factor(at))
            if at >= wl.horizon:
                break
            await asyncio.sleep(max(at - (time.monotonic() - t0), 0.0))
            tasks.append(asyncio.create_task(one(i, time.monotonic() - t0)))
            i += 1
        await asyncio.gather(*tasks)
        for _ in range(100):  # late (shielded) work of timed-out attempts, then the ledger
            if st.busy == 0:
                break
            await asyncio.sleep(0.1)
    records = []
    for wf, (start, end, ok) in ends.items():
        held = len(st.net.get(wf, ()))
        records.append(WorkflowRecord(start, end, ok, held == 1 if ok else held == 0))
    summary = trace_summary(trace)
    m = run_metrics(
        records,
        invocations=st.invocations["charge"] + st.invocations["charge-fallback"],
        logical_calls=summary["logical_calls"],
        onset=scenario.onset,
        horizon=wl.horizon,
    )
    return m, summary


def run_cell(args: tuple[str, str, str, int, str]) -> tuple[str, str, int, Any, dict[str, Any]]:
    """One (scenario, policy, seed) on the server at ``address`` (in a worker process)."""
    import logging

    logging.disable(logging.CRITICAL)  # thousands of failed attempts are the point here
    address, scenario, policy, seed, trace = args
    m, summary = asyncio.run(_cell(address, scenario, policy, seed, trace))
    return scenario, policy, seed, m, summary


def _prediction(scenario: str, policy: str, seeds: list[int]) -> dict[str, Any]:
    from nexus_temporal.resilience.simulator import simulate

    runs = [
        simulate(real_scenario(scenario), POLICIES[policy], s, REAL_WORKLOAD, forest_every=5.0)
        for s in seeds
    ]
    return aggregate([r.metrics for r in runs])


def _diff(real: dict[str, Any], sim: dict[str, Any], metric: str) -> float | None:
    a, b = real[metric]["median"], sim[metric]["median"]
    return None if a is None or b is None else round(a - b, 4)


async def _with_server(address: str | None, fn: Any) -> Any:
    from nexus_temporal.bench import private_server

    async with private_server(address) as client:
        target = client.service_client.config.target_host
        return await asyncio.get_running_loop().run_in_executor(None, fn, target)


def run_real(
    seeds: int = 2,
    *,
    scenarios: tuple[str, ...] = REAL_SCENARIOS,
    policies: tuple[str, ...] = REAL_POLICIES,
    ablation: tuple[tuple[str, str], ...] = REAL_ABLATION,
    jobs: int = 4,
    address: str | None = None,
    trace_dir: str | None = None,
) -> dict[str, Any]:
    """Every (scenario, policy) and the ablation cells, ``seeds`` seeds each, ``jobs`` cells at
    once on one dev server; each cell beside the simulator's prediction for the same seeds."""
    t0 = time.perf_counter()
    pairs = [(s, p) for s in scenarios for p in policies] + [
        c for c in ablation if c[0] in scenarios
    ]
    seed_list = list(range(1, seeds + 1))
    tdir = Path(trace_dir or tempfile.mkdtemp(prefix="nexus-resilience-"))
    tdir.mkdir(parents=True, exist_ok=True)

    def run_all(target: str) -> list[Any]:
        tasks = [
            (target, s, p, seed, str(tdir / f"{s}.{p}.{seed}.jsonl"))
            for seed in seed_list
            for s, p in pairs
        ]
        with ProcessPoolExecutor(max_workers=jobs, mp_context=get_context("spawn")) as pool:
            return list(pool.map(run_cell, tasks))

    results = asyncio.run(_with_server(address, run_all))
    cells = []
    for s, p in pairs:
        mine = [(m, summ) for (rs, rp, _, m, summ) in results if rs == s and rp == p]
        real = aggregate([m for m, _ in mine])
        sim = _prediction(s, p, seed_list)
        cells.append(
            {
                "scenario": s,
                "policy": p,
                "ablation": (s, p) in ablation,
                **real,
                "trace": [summ for _, summ in mine],
                "sim": {k: sim[k] for k in ("completion", "amplification", "mttr_s", "p99_s")},
                "diff": {
                    "completion_pp": None
                    if (d := _diff(real, sim, "completion")) is None
                    else round(100 * d, 1),
                    "amplification": _diff(real, sim, "amplification"),
                },
            }
        )
    return {
        "workload": {
            "arrival_rate": REAL_WORKLOAD.arrival_rate,
            "horizon": REAL_WORKLOAD.horizon,
            "onset": ONSET,
            "fault_s": {s: DURATION.get(s, 20.0) for s in scenarios},
            "schedule_to_close": REAL_WORKLOAD.schedule_to_close,
            "charge": {"capacity": 2, "latency": 0.25, "timeout": 3.0},
        },
        "seeds": seeds,
        "jobs": jobs,
        "load_before": os.getloadavg(),
        "trace_dir": str(tdir),
        "cells": cells,
        "wall_s": round(time.perf_counter() - t0, 1),
    }
