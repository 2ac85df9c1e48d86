"""``nexus bench resilience --e2e``: a subset of the matrix on a real Temporal dev server.

The same saga as the simulator, as a NEXUS definition whose ``python:`` functions follow the
simulator's function model (:mod:`nexus_temporal.resilience.e2e_functions`), served by the
ordinary worker (with its adaptive-retry interceptor), and the same metrics; next to each cell,
the simulator's numbers for the same (shortened) workload and scenario, so the two can be
compared. The real run is short: arrivals for ``horizon`` seconds at ``arrival_rate``.
"""

from __future__ import annotations

import asyncio
import random
import time
import uuid
from dataclasses import replace
from typing import Any

from nexus_temporal.resilience.metrics import WorkflowRecord, run_metrics
from nexus_temporal.resilience.scenarios import (
    POLICIES,
    SCENARIOS,
    FunctionSpec,
    PolicySpec,
    Scenario,
    Workload,
)

__all__ = ["E2E_WORKLOAD", "definition_yaml", "e2e_scenario", "run_e2e"]

#: A shortened workload: 4 workflows/s for 40 s, the fault from 10 s to 25 s, and a
#: schedule-to-close of 20 s (so a run and its drain take about a minute).
E2E_WORKLOAD = Workload(
    arrival_rate=4.0,
    horizon=40.0,
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
ONSET, END = 10.0, 25.0
MODULE = "python:nexus_temporal.resilience.e2e_functions"


def e2e_scenario(name: str) -> Scenario:
    """The scenario ``name`` with its fault moved to the e2e window."""
    base = SCENARIOS[name]
    faults = tuple(replace(f, start=ONSET, end=END) for f in base.faults)
    return replace(base, onset=ONSET, end=END, faults=faults)


def _sim_policy(policy: str) -> PolicySpec:
    # python: targets have no breaker unless the function asks for one; the adaptive
    # definition below asks for the default breaker on charge, as the simulated policy has.
    return POLICIES[policy]


def definition_yaml(policy: str, workload: Workload = E2E_WORKLOAD) -> str:
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
    return f"""\
name: resilience-e2e-{policy}
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
    timeout: {charge.timeout:g}s{breaker}
states:
  - name: reserve
    action: reserve
    compensate: release
    next: charge
  - name: charge
    action: charge
    compensate: refund
    next: ship
  - name: ship
    action: ship
"""


async def _cell(client: Any, scenario: Scenario, policy: str, seed: int) -> dict[str, Any]:
    from nexus_temporal.dsl.compiler import compile_text
    from nexus_temporal.registry import Registry
    from nexus_temporal.resilience import e2e_functions
    from workers.config import WorkerConfig
    from workers.main import build_worker

    wl = E2E_WORKLOAD
    plan = compile_text(definition_yaml(policy), f"resilience-e2e-{policy}.yaml")
    queue = f"resilience-{uuid.uuid4().hex[:8]}"
    worker = build_worker(
        client,
        WorkerConfig(task_queue=queue, search_attributes=False, max_concurrent_activities=500),
        Registry([plan]),
    )
    rng = random.Random(seed)
    records: list[WorkflowRecord] = []
    async with worker:
        e2e_functions.reset(scenario, wl, seed)
        t0 = time.monotonic()

        async def one(i: int, start: float) -> None:
            ok = True
            try:
                await client.execute_workflow(
                    plan.name, {"order": i}, id=f"{queue}-{i}", task_queue=queue
                )
            except Exception:
                ok = False
            records.append(WorkflowRecord(start, time.monotonic() - t0, ok, True))

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
    st = e2e_functions.STATE
    m = run_metrics(
        records,
        invocations=st.invocations["charge"],
        logical_calls=len(st.keys),
        onset=scenario.onset,
        horizon=wl.horizon,
    )
    real = m.to_json()
    real.pop("safe_rollback")
    real.pop("duplicate_effects")
    return real


async def run_e2e(
    scenarios: tuple[str, ...] = ("brownout", "transient-20"),
    policies: tuple[str, ...] = ("static", "adaptive"),
    seed: int = 1,
    address: str | None = None,
) -> dict[str, Any]:
    """Each (scenario, policy) once on a real server, beside the simulator's median of 5 seeds
    for the same workload."""
    from nexus_temporal.bench import private_server
    from nexus_temporal.resilience.simulator import simulate

    t0 = time.perf_counter()
    cells = []
    async with private_server(address) as client:
        for name in scenarios:
            scenario = e2e_scenario(name)
            for policy in policies:
                real = await _cell(client, scenario, policy, seed)
                sims = [
                    simulate(scenario, _sim_policy(policy), s, E2E_WORKLOAD, forest_every=5.0)
                    for s in range(1, 6)
                ]
                sim = {
                    k: _median([getattr(r.metrics, k) for r in sims])
                    for k in ("completion", "amplification", "mttr_s", "p50_s", "p99_s")
                }
                cells.append({"scenario": name, "policy": policy, "real": real, "sim": sim})
    return {
        "workload": {
            "arrival_rate": E2E_WORKLOAD.arrival_rate,
            "horizon": E2E_WORKLOAD.horizon,
            "fault": [ONSET, END],
            "schedule_to_close": E2E_WORKLOAD.schedule_to_close,
        },
        "seed": seed,
        "cells": cells,
        "wall_s": round(time.perf_counter() - t0, 1),
    }


def _median(values: list[Any]) -> Any:
    import math
    import statistics

    present = [float(v) for v in values if v is not None]
    if not present:
        return None
    m = statistics.median(present)
    return None if math.isinf(m) else round(m, 4)
