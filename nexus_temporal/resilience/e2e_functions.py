"""The benchmark's saga functions for the real (``--e2e``) run: ``python:`` targets whose faults
follow the simulator's model (capacity with a queue, load errors, the scenario's fault window).

Process-local state set by :func:`nexus_temporal.resilience.e2e.run_e2e` in the worker's
process. Like the simulated server, ``charge`` finishes its work when the caller has timed out
(the work is shielded from the activity's cancellation).
"""

from __future__ import annotations

import asyncio
import math
import random
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from activities.python import idempotency_key
from nexus_temporal.errors import NexusTemporalError
from nexus_temporal.resilience.scenarios import Scenario, Workload


class ChargeError(NexusTemporalError):
    """A 5xx from the payment provider (retryable)."""


@dataclass
class _State:
    scenario: Scenario | None = None
    workload: Workload = field(default_factory=Workload)
    t0: float = 0.0
    rng: random.Random = field(default_factory=lambda: random.Random(0))
    in_system: int = 0
    slots: asyncio.Semaphore | None = None
    invocations: Counter[str] = field(default_factory=Counter)
    keys: set[str] = field(default_factory=set)


STATE = _State()


def reset(scenario: Scenario, workload: Workload, seed: int) -> None:
    """Start a run: the scenario's clock starts now."""
    global STATE
    STATE = _State(scenario, workload, time.monotonic(), random.Random(seed))


async def _serve(name: str) -> None:
    st = STATE
    spec = st.workload.function(name)
    await asyncio.sleep(st.rng.lognormvariate(math.log(spec.latency), spec.sigma))


async def reserve(payload: Any = None) -> dict[str, Any]:
    STATE.invocations["reserve"] += 1
    await _serve("reserve")
    return {"reservation": idempotency_key()}


async def release(payload: Any = None) -> dict[str, Any]:
    STATE.invocations["release"] += 1
    return {"released": True}


async def refund(payload: Any = None) -> dict[str, Any]:
    STATE.invocations["refund"] += 1
    return {"refunded": True}


async def ship(payload: Any = None) -> dict[str, Any]:
    STATE.invocations["ship"] += 1
    await _serve("ship")
    return {"shipped": True}


async def charge(payload: Any = None) -> dict[str, Any]:
    st = STATE
    st.invocations["charge"] += 1
    st.keys.add(idempotency_key())
    spec = st.workload.function("charge")
    now = time.monotonic() - st.t0
    factor = 1.0
    for fault in st.scenario.faults if st.scenario else ():
        if fault.target == "charge" and fault.active(now):
            if fault.down:
                raise ChargeError("503 service unavailable")
            if st.rng.random() < fault.error_rate:
                raise ChargeError("500 internal error")
            factor = fault.latency_factor
    if st.slots is None:
        st.slots = asyncio.Semaphore(spec.capacity)
    st.in_system += 1
    u = st.in_system / spec.capacity
    load_error = st.rng.random() < min(max((u - 2.0) / 4.0, 0.0), 0.9)
    service = st.rng.lognormvariate(math.log(spec.latency), spec.sigma) * factor
    slots = st.slots

    async def work() -> None:
        try:
            async with slots:
                await asyncio.sleep(service)
        finally:
            st.in_system -= 1

    await asyncio.shield(asyncio.ensure_future(work()))
    if load_error:
        raise ChargeError("500 overloaded")
    return {"charge_id": idempotency_key()}
