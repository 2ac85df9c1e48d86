"""``nexus redrive`` and ``nexus rerun`` end to end, on the real dev server (issue 15 §3).

A saga that fails at its third state because a function is down is redriven once the function
is fixed: the first two states' functions ran exactly once, and the compensations the failed
run made are not made again when a redrive fails once more. A 1,000-item map with 30 failing
items beyond tolerance is redriven: exactly those 30 run again, the other results are kept.
A rerun starts from a state with the data recorded there, or (when the worker allows it) with
new input. Redrive of a succeeded execution is refused.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest
from temporalio.client import Client, WorkflowFailureError
from temporalio.testing import WorkflowEnvironment

from nexus_temporal.redrive import RedriveRefused, redrive, rerun
from nexus_temporal.redrive_protocol import ALLOW_RERUN_INPUT
from tests.helpers import redrive_functions as fns
from tests.helpers.run import nexus_worker, registry_of, start

F = "python:tests.helpers.redrive_functions"

SAGA = f"""
name: redrive-saga
functions:
  reserve: {F}:reserve
  charge: {F}:charge
  ship: {F}:ship
  release: {F}:release
  refund: {F}:refund
states:
  - name: Reserve
    action: reserve
    input: '{{"order": order}}'
    compensate:
      action: release
      input: '{{"order": order}}'
    next: Charge
  - name: Charge
    action: charge
    input: '{{"order": order}}'
    compensate:
      action: refund
      input: '{{"order": order}}'
    next: Ship
  - name: Ship
    action: ship
    input: '{{"order": order}}'
    retry: {{max_attempts: 1}}
"""

MAP = f"""
name: redrive-map
functions:
  item: {F}:item
states:
  - name: Items
    type: map
    items: '$map([0..999], function($i) {{ {{"n": $i}} }})'
    input: '{{"n": n, "run": $data.run}}'
    action: item
    max_concurrency: 50
    tolerated_failures: 29
    retry: {{max_attempts: 1}}
    results: collect
    next: Done
  - name: Done
    type: succeed
"""

CHAIN = f"""
name: rerun-chain
functions:
  step: {F}:step
states:
  - name: First
    action: step
    input: '{{"step": "first", "order": order}}'
    assign: {{value: '"from-first"'}}
    next: Second
  - name: Second
    action: step
    input: '{{"step": "second", "order": order, "value": value}}'
    next: Third
  - name: Third
    action: step
    input: '{{"step": "third", "order": order, "value": value}}'
"""


async def _fails(handle: Any) -> dict[str, Any]:
    with pytest.raises(WorkflowFailureError) as info:
        await handle.result()
    cause: Any = info.value.cause
    return dict(cause.details[0]) if cause.details else {}


async def test_redrive_saga_runs_only_the_failed_state(env: WorkflowEnvironment) -> None:
    client: Client = env.client
    order = uuid.uuid4().hex[:8]
    fns.DOWN.add(order)
    async with nexus_worker(client, SAGA) as worker:
        handle = await start(client, worker, "redrive-saga", {"order": order})
        failure = await _fails(handle)
        assert failure["state"] == "Ship"
        assert [c["status"] for c in failure["compensations"]] == ["compensated"] * 2
        assert (fns.calls("release", order), fns.calls("refund", order)) == (1, 1)

        # Still down: the redrive fails again, and what was compensated is not compensated twice.
        plan = await redrive(client, handle.id, dry_run=True)
        assert plan.run_id is None and plan.state == "Ship"
        assert "Reserve, Charge" in plan.description and plan.warnings
        again = await redrive(client, handle.id)
        assert again.run_id and again.run_id != handle.result_run_id
        failure = await _fails(client.get_workflow_handle(handle.id, run_id=again.run_id))
        assert {c["status"] for c in failure["compensations"]} == {"compensated (earlier run)"}
        assert (fns.calls("release", order), fns.calls("refund", order)) == (1, 1)
        assert fns.calls("ship", order) == 2

        fns.DOWN.discard(order)  # the function is fixed
        done = await redrive(client, handle.id)
        result = await client.get_workflow_handle(handle.id, run_id=done.run_id).result()
    assert result["Ship"] == {"tracking": f"t-{order}"}
    assert result["Charge"] == {"charge_id": f"c-{order}"}
    assert fns.calls("reserve", order) == 1
    assert fns.calls("charge", order) == 1
    assert fns.calls("ship", order) == 3
    assert (fns.calls("release", order), fns.calls("refund", order)) == (1, 1)


async def test_redrive_map_reruns_only_failed_items(env: WorkflowEnvironment) -> None:
    client: Client = env.client
    run = uuid.uuid4().hex[:8]
    failing = set(range(970, 1000))
    fns.DOWN.update((run, n) for n in failing)
    async with nexus_worker(client, MAP) as worker:
        handle = await start(client, worker, "redrive-map", {"run": run})
        failure = await _fails(handle)
        assert failure["type"] == "MapToleranceExceeded"
        assert failure["details"]["failed"] == 30
        assert sum(fns.calls("item", (run, n)) for n in range(1000)) == 1000

        fns.DOWN.difference_update((run, n) for n in failing)
        done = await redrive(client, handle.id)
        assert done.state == "Items"
        result = await client.get_workflow_handle(handle.id, run_id=done.run_id).result()
    again = [n for n in range(1000) if fns.calls("item", (run, n)) == 2]
    assert again == sorted(failing)
    assert all(fns.calls("item", (run, n)) == 1 for n in range(970))
    assert result["Items"] == [{"n": n, "double": 2 * n} for n in range(1000)]


async def test_rerun_from_a_state(env: WorkflowEnvironment, monkeypatch: Any) -> None:
    client: Client = env.client
    order = uuid.uuid4().hex[:8]
    async with nexus_worker(client, CHAIN) as worker:
        source = await start(client, worker, "rerun-chain", {"order": order})
        await source.result()
        assert fns.calls("step:first", order) == 1

        # With the data recorded at 'Second': First does not run again.
        again = await rerun(client, source.id, "Second")
        assert again.run_id and again.workflow_id != source.id
        result = await client.get_workflow_handle(again.workflow_id).result()
        assert result["value"] == "from-first" and result["order"] == order
        assert fns.calls("step:first", order) == 1
        assert fns.calls("step:second", order) == 2

        # New input needs the worker's opt-in.
        refused = await rerun(client, source.id, "Second", input={"order": order, "value": "new"})
        with pytest.raises(WorkflowFailureError) as info:
            await client.get_workflow_handle(refused.workflow_id).result()
        assert ALLOW_RERUN_INPUT in str(info.value.cause)
        monkeypatch.setenv(ALLOW_RERUN_INPUT, "1")
        given = await rerun(client, source.id, "Third", input={"order": order, "value": "new"})
        result = await client.get_workflow_handle(given.workflow_id).result()
        assert result["Third"] == {"seen": "new"}
        assert fns.calls("step:second", order) == 2

        with pytest.raises(RedriveRefused, match="never reached"):
            await rerun(client, source.id, "Nowhere")


async def test_redrive_of_a_succeeded_execution_is_refused(env: WorkflowEnvironment) -> None:
    client: Client = env.client
    order = uuid.uuid4().hex[:8]
    async with nexus_worker(client, CHAIN) as worker:
        handle = await start(client, worker, "rerun-chain", {"order": order})
        await handle.result()
        with pytest.raises(RedriveRefused, match="it succeeded, so there is nothing to redrive"):
            await redrive(client, handle.id)


async def test_redrive_map_in_store_mode_keeps_stored_results(
    env: WorkflowEnvironment, tmp_path: Any
) -> None:
    client: Client = env.client
    run = uuid.uuid4().hex[:8]
    store = tmp_path / "results"
    text = (
        MAP.replace("name: redrive-map", "name: redrive-map-store")
        .replace("[0..999]", "[0..299]")
        .replace("tolerated_failures: 29", "tolerated_failures: 9")
        .replace("results: collect", f"results: store\n    result_store: {store}")
    )
    failing = set(range(290, 300))
    fns.DOWN.update((run, n) for n in failing)
    async with nexus_worker(client, text) as worker:
        handle = await start(client, worker, "redrive-map-store", {"run": run})
        assert (await _fails(handle))["details"]["failed"] == 10
        fns.DOWN.difference_update((run, n) for n in failing)
        done = await redrive(client, handle.id)
        result = await client.get_workflow_handle(handle.id, run_id=done.run_id).result()
    assert result["Items"]["failed"] == 0 and result["Items"]["completed"] == 300
    assert [n for n in range(300) if fns.calls("item", (run, n)) == 2] == sorted(failing)
    lines = [
        json.loads(line)
        for part in sorted(store.rglob("part-*.jsonl"))
        for line in part.read_text().splitlines()
    ]
    assert sorted((r["index"], r["result"]["double"]) for r in lines) == [
        (n, 2 * n) for n in range(300)
    ]


async def test_redrive_version_needs_a_compatible_replacing_definition(
    env: WorkflowEnvironment,
) -> None:
    client: Client = env.client
    order = uuid.uuid4().hex[:8]
    fns.DOWN.add(order)
    pinned = registry_of(SAGA).plans[0].hash
    v2 = SAGA.replace("name: redrive-saga", 'name: redrive-saga\nversion: "2"')
    replacing = v2.replace('version: "2"', f'version: "2"\nreplaces: ["{pinned[:12]}"]')
    # Charge calls another function now: the history up to the reset point does not replay.
    changed = replacing.replace("    action: charge\n", "    action: refund\n")
    try:
        async with nexus_worker(client, SAGA) as worker:
            handle = await start(client, worker, "redrive-saga", {"order": order})
            await _fails(handle)
    finally:
        fns.DOWN.discard(order)
    with pytest.raises(RedriveRefused, match="declares|replaces"):
        await redrive(client, handle.id, version="2", definitions=registry_of(v2), dry_run=True)
    with pytest.raises(RedriveRefused, match="no definition 'redrive-saga@3'"):
        await redrive(client, handle.id, version="3", definitions=registry_of(v2), dry_run=True)
    plan = await redrive(
        client, handle.id, version="2", definitions=registry_of(replacing), dry_run=True
    )
    assert "redrive-saga@2" in plan.description and plan.version == "2"
    with pytest.raises(RedriveRefused, match="cannot continue this execution: `nexus replay`"):
        await redrive(
            client, handle.id, version="2", definitions=registry_of(changed), dry_run=True
        )
