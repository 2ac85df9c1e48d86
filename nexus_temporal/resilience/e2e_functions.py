"""The benchmark's saga functions for the real (``--real``) run: ``python:`` targets whose faults
follow the simulator's model (capacity with a queue, load errors, the scenario's faults).

Process-local state per task queue (one benchmark cell each), set by
:func:`nexus_temporal.resilience.e2e.run_cell` in the worker's process. Like the simulated
server, ``charge`` finishes its work when the caller has timed out (the work is shielded from
the activity's cancellation). Side effects go to a per-workflow ledger: ``charge`` (and its
fallback) add one effect per provider and workflow, ``refund`` removes one; a refund that comes
before the charge's work leaves a tombstone that refuses the late execution (as an idempotency
key with a tombstone would), as in the simulator.
"""

from __future__ import annotations

import asyncio
import math
import random
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from temporalio import activity

from nexus_temporal.errors import NexusTemporalError
from nexus_temporal.resilience.scenarios import Fault, Scenario, Workload


class ChargeError(NexusTemporalError):
    """A 5xx from the payment provider (retryable)."""


@dataclass
class _Server:
    slots: asyncio.Semaphore
    in_system: int = 0


@dataclass
class _State:
    scenario: Scenario | None = None
    workload: Workload = field(default_factory=Workload)
    t0: float = 0.0
    rng: random.Random = field(default_factory=lambda: random.Random(0))
    servers: dict[str, _Server] = field(default_factory=dict)
    invocations: Counter[str] = field(default_factory=Counter)
    #: workflow id -> providers whose effect happened and is not undone; tombstones.
    net: dict[str, set[str]] = field(default_factory=dict)
    tombstones: set[tuple[str, str]] = field(default_factory=set)
    busy: int = 0


STATES: dict[str, _State] = {}


def reset(queue: str, scenario: Scenario, workload: Workload, seed: int) -> _State:
    """Start a cell on ``queue``: the scenario's clock starts now."""
    st = _State(scenario, workload, time.monotonic(), random.Random(seed))
    STATES[queue] = st
    return st


def _state() -> _State:
    return STATES[activity.info().task_queue]


def _fault(st: _State, name: str) -> Fault | None:
    now = time.monotonic() - st.t0
    for fault in st.scenario.faults if st.scenario else ():
        if fault.target == name and fault.active(now):
            return fault
    return None


async def _serve(st: _State, name: str) -> None:
    st.invocations[name] += 1
    fault = _fault(st, name)
    if fault is not None and (fault.down or st.rng.random() < fault.error_rate):
        await asyncio.sleep(0.01)
        raise ChargeError(f"{name}: 500 internal error")
    spec = st.workload.function(name)
    await asyncio.sleep(st.rng.lognormvariate(math.log(spec.latency), spec.sigma))


async def reserve(payload: Any = None) -> dict[str, Any]:
    await _serve(_state(), "reserve")
    return {"reserved": True}


async def release(payload: Any = None) -> dict[str, Any]:
    _state().invocations["release"] += 1
    return {"released": True}


async def ship(payload: Any = None) -> dict[str, Any]:
    await _serve(_state(), "ship")
    return {"shipped": True}


async def refund(payload: Any = None) -> dict[str, Any]:
    st = _state()
    st.invocations["refund"] += 1
    wf = activity.info().workflow_id or ""
    held = st.net.setdefault(wf, set())
    if held:
        held.pop()
    else:  # nothing to undo yet: a late charge of this workflow is refused
        st.tombstones.add((wf, "charge"))
    return {"refunded": True}


async def _capacity_call(st: _State, name: str) -> None:
    """One call of a capacity-limited function: the fault, the queue, load errors, the work
    (shielded: it completes even when the caller timed out) and its effect."""
    st.invocations[name] += 1
    wf = activity.info().workflow_id or ""
    spec = st.workload.function(name)
    fault = _fault(st, name)
    factor, partial = 1.0, False
    if fault is not None:
        if fault.down:
            await asyncio.sleep(0.01)
            raise ChargeError("503 service unavailable")
        roll = st.rng.random()
        if roll < fault.error_rate:
            await asyncio.sleep(0.01)
            raise ChargeError("500 internal error")
        partial = roll < fault.error_rate + fault.partial_rate
        factor = fault.latency_factor
    server = st.servers.get(name)
    if server is None:
        server = st.servers[name] = _Server(asyncio.Semaphore(spec.capacity or 10_000))
    server.in_system += 1
    st.busy += 1
    u = server.in_system / spec.capacity if spec.capacity else 0.0
    load_error = spec.load_errors and st.rng.random() < min(max((u - 2.0) / 4.0, 0.0), 0.9)
    service = st.rng.lognormvariate(math.log(spec.latency), spec.sigma) * factor

    async def work() -> None:
        try:
            async with server.slots:
                await asyncio.sleep(service)
            if not load_error and (wf, "charge") not in st.tombstones:
                held = st.net.setdefault(wf, set())
                held.add(name)
        finally:
            server.in_system -= 1
            st.busy -= 1

    await asyncio.shield(asyncio.ensure_future(work()))
    if load_error:
        raise ChargeError("500 overloaded")
    if partial:
        raise ChargeError("500 reply lost (the charge happened)")


async def charge(payload: Any = None) -> dict[str, Any]:
    await _capacity_call(_state(), "charge")
    return {"charged": True}


async def charge_fallback(payload: Any = None) -> dict[str, Any]:
    await _capacity_call(_state(), "charge-fallback")
    return {"charged": True, "provider": "fallback"}
