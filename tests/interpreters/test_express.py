"""Express mode: tasks as local activities, with the same retries, breakers, compensation and
durability as regular tasks."""

from __future__ import annotations

import asyncio
import signal
import sqlite3
import uuid
from pathlib import Path

import pytest
from temporalio.api.enums.v1 import EventType
from temporalio.client import WorkflowFailureError
from temporalio.exceptions import ApplicationError
from temporalio.testing import WorkflowEnvironment

from nexus_temporal.dsl import DefinitionError, compile_text
from tests.helpers.processes import kill_group, nexus_cmd, spawn, wait_for_line
from tests.helpers.run import nexus_worker, start

FNS = "python:tests.helpers.functions"


async def event_types(handle: object) -> list[int]:
    return [e.event_type async for e in handle.fetch_history_events()]  # type: ignore[attr-defined]


async def test_express_chain_retries_as_local_activities(env: WorkflowEnvironment) -> None:
    yaml = f"""
    name: express-chain
    mode: express
    functions:
      add: {FNS}:add
      flaky: {FNS}:flaky
    states:
      - name: Add
        action: add
        input: '{{"a": 1, "b": 2}}'
        next: Flaky
      - name: Flaky
        action: flaky
        input: '{{"key": key, "fail_times": 2}}'
        retry: {{max_attempts: 5, initial_interval: 10ms}}
        next: Regular
      - name: Regular
        action: add
        mode: regular
        input: '{{"a": Add.sum, "b": 10}}'
    """
    async with nexus_worker(env.client, yaml) as w:
        handle = await start(env.client, w, "express-chain", {"key": f"ex-{uuid.uuid4()}"})
        result = await handle.result()
        types = await event_types(handle)
    assert result["Add"] == {"sum": 3} and result["Regular"] == {"sum": 13}
    assert result["Flaky"]["attempts"] == 3 and result["Flaky"]["activity_attempt"] == 3
    # Two express tasks are markers (plus the resolve marker); only 'Regular' is scheduled.
    assert types.count(EventType.EVENT_TYPE_MARKER_RECORDED) == 3
    assert types.count(EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED) == 1


async def test_breaker_opens_in_express_mode(env: WorkflowEnvironment) -> None:
    yaml = f"""
    name: express-breaker
    mode: express
    functions:
      flaky:
        uri: {FNS}:flaky
        circuit_breaker:
          window_size: 4
          minimum_calls: 4
          failure_rate: 50
          open_duration: 1s
          half_open_calls: 1
    states:
      - name: Call
        action: flaky
        input: '{{"key": key, "fail_times": 4}}'
        retry: {{max_attempts: 10, initial_interval: 20ms, backoff_coefficient: 1}}
    """
    async with nexus_worker(env.client, yaml) as w:
        handle = await start(env.client, w, "express-breaker", {"key": f"br-{uuid.uuid4()}"})
        result = await handle.result()
    # 4 failures open the breaker; the next attempt is refused without calling the function
    # (CircuitOpen, retried after the open duration); the half-open probe succeeds.
    assert result["Call"]["attempts"] == 5
    assert result["Call"]["activity_attempt"] >= 6


async def test_compensation_in_express_mode(env: WorkflowEnvironment) -> None:
    yaml = f"""
    name: express-saga
    mode: express
    functions:
      echo: {FNS}:echo
      record: {FNS}:record
      boom: {FNS}:boom
    states:
      - name: Reserve
        action: echo
        compensate: {{action: record, input: '{{"undo": "reserve"}}'}}
        next: Charge
      - name: Charge
        action: echo
        compensate: {{action: record, input: '{{"undo": "charge"}}'}}
        next: Ship
      - name: Ship
        action: boom
        input: '{{"kind": "ShipFailed"}}'
    """
    async with nexus_worker(env.client, yaml) as w:
        handle = await start(env.client, w, "express-saga", {})
        with pytest.raises(WorkflowFailureError) as info:
            await handle.result()
        types = await event_types(handle)
    cause = info.value.cause
    assert isinstance(cause, ApplicationError) and cause.type == "ShipFailed"
    assert [c["state"] for c in cause.details[0]["compensations"]] == ["Charge", "Reserve"]
    assert all(c["status"] == "compensated" for c in cause.details[0]["compensations"])
    assert EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED not in types


def test_express_timeouts_and_heartbeats_are_checked() -> None:
    long = "name: x\nmode: express\nstates:\n  - name: A\n    action: a\n    timeout: 5m\n"
    with pytest.raises(DefinitionError) as info:
        compile_text(long)
    assert "must finish within 60s (timeout is 300s)" in str(info.value)
    assert "<input>:6:14" in str(info.value)  # the timeout value
    beat = "name: x\nstates:\n  - name: A\n    action: a\n    mode: express\n    heartbeat: 5s\n"
    with pytest.raises(DefinitionError, match="express tasks cannot heartbeat"):
        compile_text(beat)
    plan = compile_text("name: x\nmode: express\nstates:\n  - name: A\n    action: a\n")
    assert plan.state("A").timeout == 10.0  # express default


async def test_sigkill_mid_express_chain_reruns_the_inflight_call(
    env: WorkflowEnvironment, tmp_path: Path
) -> None:
    definition = tmp_path / "express.yaml"
    definition.write_text(f"""
name: express-crash
mode: express
functions:
  effect: {FNS}:ledger_effect
states:
  - name: First
    action: effect
    input: '{{"n": 1, "ledger": ledger}}'
    next: Slow
  - name: Slow
    action: effect
    input: '{{"n": 2, "ledger": ledger, "sleep": 3}}'
    timeout: 20s
    next: Last
  - name: Last
    action: effect
    input: '{{"n": 3, "ledger": ledger}}'
""")
    ledger = tmp_path / "ledger.db"
    queue = f"express-{uuid.uuid4().hex[:8]}"
    address = env.client.service_client.config.target_host
    args = nexus_cmd("worker", str(definition), "--address", address, "--task-queue", queue)
    first = spawn(args, tmp_path / "w1.log")
    wait_for_line(tmp_path / "w1.log", "worker serving", first)
    handle = await env.client.start_workflow(
        "express-crash", {"ledger": str(ledger)}, id=f"express-{queue}", task_queue=queue
    )

    def calls(key_suffix: str) -> int:
        try:
            with sqlite3.connect(ledger, timeout=30) as db:
                return int(
                    db.execute(
                        "SELECT COUNT(*) FROM calls WHERE key LIKE ?", (f"%{key_suffix}",)
                    ).fetchone()[0]
                )
        except sqlite3.OperationalError:
            return 0

    for _ in range(300):
        if calls("/Slow/1"):
            break
        await asyncio.sleep(0.05)
    kill_group(first, signal.SIGKILL)  # while 'Slow' runs inside the worker
    second = spawn(args, tmp_path / "w2.log")
    try:
        wait_for_line(tmp_path / "w2.log", "worker serving", second)
        await asyncio.wait_for(handle.result(), 90)
    finally:
        kill_group(second, signal.SIGTERM)
    # The documented trade-off: the in-flight local activity ran again on the new worker with
    # the same idempotency key. 'First' finished before the kill but its marker is written only
    # when the workflow task completes, together with 'Slow': it may run again too.
    assert calls("/Slow/1") == 2
    assert calls("/First/1") in (1, 2) and calls("/Last/1") == 1
    with sqlite3.connect(ledger) as db:
        assert sorted(n for (n,) in db.execute("SELECT n FROM effects")) == [1, 2, 3]
