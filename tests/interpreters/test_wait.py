"""Wait states: durable timers (time-skipping server), signals, updates, and their timeouts."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from temporalio.testing import WorkflowEnvironment

from interpreters.workflow import STATE_QUERY
from tests.helpers.run import nexus_worker, start

TIMERS = """
name: timers
states:
  - name: Nap
    type: wait
    duration: 2h
    next: Until
  - name: Until
    type: wait
    until: deadline
"""

APPROVAL = """
name: approve
states:
  - name: Wait
    type: wait
    signal: approval
    timeout: 1d
    assign:
      decision: $
    catch:
      - errors: [Timeout]
        next: Expired
  - name: Expired
    type: fail
    error: Expired
"""


async def test_duration_and_until_timers(skipping_env: WorkflowEnvironment) -> None:
    client = skipping_env.client
    async with nexus_worker(client, TIMERS, search_attributes=False) as w:
        handle = await start(client, w, "timers", {"deadline": "2000-01-01T00:00:00Z"})
        before = await skipping_env.get_current_time()
        await handle.result()
        slept = (await skipping_env.get_current_time()) - before
    assert slept.total_seconds() >= 2 * 3600  # the 2h timer really elapsed (skipped)


async def test_until_in_the_future(skipping_env: WorkflowEnvironment) -> None:
    client = skipping_env.client
    now = await skipping_env.get_current_time()
    deadline = now.replace(microsecond=0) + timedelta(days=3)
    async with nexus_worker(client, TIMERS.replace("2h", "1s"), search_attributes=False) as w:
        handle = await start(client, w, "timers", {"deadline": deadline.isoformat()})
        await handle.result()
    assert await skipping_env.get_current_time() >= deadline


async def test_signal_timeout_is_catchable(skipping_env: WorkflowEnvironment) -> None:
    client = skipping_env.client
    caught = APPROVAL.replace("type: fail\n    error: Expired", "type: succeed")
    async with nexus_worker(client, caught, search_attributes=False) as w:
        handle = await start(client, w, "approve", {})
        result = await handle.result()
    assert result["error"]["type"] == "Timeout" and result["error"]["state"] == "Wait"


async def test_signal_delivers_payload_and_query_shows_waiting(env: WorkflowEnvironment) -> None:
    async with nexus_worker(env.client, APPROVAL) as w:
        handle = await start(env.client, w, "approve", {})
        for _ in range(50):
            snap = await handle.query(STATE_QUERY)
            if snap["current"] == ["Wait"]:
                break
            await asyncio.sleep(0.1)
        assert snap["current"] == ["Wait"] and snap["status"] == "running"
        await handle.signal("approval", {"ok": True, "by": "alice"})
        result = await handle.result()
    assert result["decision"] == {"ok": True, "by": "alice"}


async def test_update_delivers_payload(env: WorkflowEnvironment) -> None:
    async with nexus_worker(env.client, APPROVAL) as w:
        handle = await start(env.client, w, "approve", {})
        ack = await handle.execute_update("approval", {"ok": False})
        result = await handle.result()
    assert ack == {"accepted": True, "signal": "approval"}
    assert result["decision"] == {"ok": False}
