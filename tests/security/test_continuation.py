"""Attacks on continue-as-new state: a starter forges ``__nexus_continue__`` to skip states
and approvals or to inject a compensation that runs code of its choice. Each is sent as an
attacker would, with the real Temporal CLI against the dev server; the legitimate loop still
carries its data and compensations across runs."""

from __future__ import annotations

import asyncio
import json
import uuid
from pathlib import Path
from typing import Any

import pytest
from temporalio.api.enums.v1 import EventType
from temporalio.client import Client, WorkflowFailureError, WorkflowHandle
from temporalio.exceptions import ApplicationError
from temporalio.testing import WorkflowEnvironment

from interpreters.context import PendingCompensation
from interpreters.workflow import CONTINUE_KEY
from nexus_temporal.devserver import temporal_binary
from tests.helpers import security_functions as fns
from tests.helpers.processes import run_cli
from tests.helpers.run import nexus_worker, registry_of, start

FNS = "python:tests.helpers.security_functions"

APPROVAL = f"""
name: guarded-shipping
version: "1"
functions:
  reserve: {FNS}:reserve
  release: {FNS}:release
  ship: {FNS}:ship
states:
  - name: Reserve
    action: reserve
    compensate: {{action: release}}
    next: Approve
  - name: Approve
    type: wait
    signal: approval
    next: Ship
  - name: Ship
    action: ship
"""


def forged_carry(pin: dict[str, str], marker: Path, **extra: Any) -> dict[str, Any]:
    """What an attacker sends: start at 'Ship', and a compensation running a shell."""
    return {
        CONTINUE_KEY: {
            "pin": pin,
            "input": {},
            "data": {"approved": True},
            "state": "Ship",
            "visits": {},
            "done": ["Reserve", "Approve"],
            "trail": ["Reserve", "Approve"],
            "compensations": [
                {
                    "state": "Reserve",
                    "action": "python:os:system",
                    "spec": {"action": "python:os:system"},
                    "payload": f"touch {marker}",
                    "key": "k",
                    "timeout": 5,
                    "task_queue": None,
                }
            ],
            "compensation_results": [],
            "signals": {},
            "maps": {},
            **extra,
        }
    }


def temporal(env: WorkflowEnvironment, *args: str) -> Any:
    address = env.client.service_client.config.target_host
    return run_cli([temporal_binary(), *args, "--address", address])


def pin_of(text: str) -> dict[str, str]:
    plan = registry_of(text).plans[0]
    return {"name": plan.name, "version": plan.version, "hash": plan.hash}


async def scheduled_activities(handle: WorkflowHandle[Any, Any]) -> list[str]:
    return [
        e.activity_task_scheduled_event_attributes.activity_type.name
        async for e in handle.fetch_history_events()
        if e.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED
    ]


async def failure_of(handle: WorkflowHandle[Any, Any]) -> ApplicationError:
    with pytest.raises(WorkflowFailureError) as info:
        await asyncio.wait_for(handle.result(), 60)
    cause = info.value.cause
    assert isinstance(cause, ApplicationError), cause
    return cause


async def test_forged_carry_at_start_is_refused_and_runs_nothing(
    env: WorkflowEnvironment, tmp_path: Path
) -> None:
    marker = tmp_path / "pwned"
    before = len(fns.CALLS)
    async with nexus_worker(env.client, APPROVAL) as w:
        wid = f"attack-{uuid.uuid4().hex[:8]}"
        payload = json.dumps(forged_carry(pin_of(APPROVAL), marker))
        out = temporal(
            env,
            "workflow", "start", "--type", "guarded-shipping", "--task-queue", w.task_queue,
            "--workflow-id", wid, "--input", payload,
        )  # fmt: skip
        assert out.returncode == 0, out.stderr
        handle = env.client.get_workflow_handle(wid)
        err = await failure_of(handle)
    assert err.type == "InvalidInput"
    assert CONTINUE_KEY in err.message and "reserved" in err.message
    assert not marker.exists()
    assert await scheduled_activities(handle) == []
    assert fns.CALLS[before:] == []  # neither 'ship' (the skipped approval) nor anything else


async def test_forged_carry_in_cron_repeats_is_refused(
    env: WorkflowEnvironment, tmp_path: Path
) -> None:
    """A cron run is 'continued' from the one before it and repeats the first input: the carry
    names no run (or a run the starter made up), so it is still refused."""
    marker = tmp_path / "pwned"
    async with nexus_worker(env.client, APPROVAL) as w:
        for extra in ({}, {"from_run": str(uuid.uuid4())}):
            wid = f"attack-cron-{uuid.uuid4().hex[:8]}"
            handle = await env.client.start_workflow(
                "guarded-shipping",
                forged_carry(pin_of(APPROVAL), marker, **extra),
                id=wid,
                task_queue=w.task_queue,
                cron_schedule="@every 1s",
            )
            try:
                errors = await _cron_failures(env.client, wid, runs=2)
            finally:
                await handle.terminate("test done")
            assert [e["type"] for e in errors] == ["InvalidInput", "InvalidContinuation"], errors
            assert "not written by the run this one continues" in errors[1]["message"]
    assert not marker.exists()
    assert fns.calls("ship") == [] or all(p != {"approved": True} for p in fns.calls("ship"))


async def _cron_failures(client: Client, wid: str, runs: int) -> list[dict[str, str]]:
    """The failures of the first ``runs`` runs of a cron workflow, oldest first."""
    found: dict[str, dict[str, str]] = {}
    for _ in range(600):
        async for execution in client.list_workflows(f"WorkflowId = '{wid}'"):
            if execution.status is not None and execution.status.name == "FAILED":
                found.setdefault(execution.run_id, {})
        if len(found) >= runs:
            break
        await asyncio.sleep(0.1)
    out = []
    for run_id in found:
        handle = client.get_workflow_handle(wid, run_id=run_id)
        async for event in handle.fetch_history_events():
            if event.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_STARTED:
                attrs = event.workflow_execution_started_event_attributes
                started = attrs.continued_execution_run_id
            if event.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_FAILED:
                failure = event.workflow_execution_failed_event_attributes.failure
                info = failure.application_failure_info
                out.append({"type": info.type, "message": failure.message, "from": started})
    # The first run is the one not continued from another.
    out.sort(key=lambda e: e["from"] != "")
    return out[:runs]


LOOP = f"""
name: reserving-poller
defaults:
  history_limit: 100
functions:
  reserve: {FNS}:reserve
  release: {FNS}:release
  refuse: {FNS}:refuse
states:
  - name: Reserve
    action: reserve
    input: '{{"n": n}}'
    assign: {{n: n + 1}}
    compensate: {{action: release, input: '{{"n": n}}'}}
    next: Again
  - name: Again
    type: choice
    choices:
      - when: n < 30
        next: Reserve
    default: Refuse
  - name: Refuse
    action: refuse
"""


async def test_a_real_loop_carries_data_and_compensations_across_runs(
    env: WorkflowEnvironment,
) -> None:
    async with nexus_worker(env.client, LOOP) as w:
        handle = await start(env.client, w, "reserving-poller", {"n": 0})
        err = await failure_of(handle)
        runs = len([e async for e in env.client.list_workflows(f"WorkflowId = '{handle.id}'")])
    assert err.type == "Refused"
    assert runs >= 3, runs  # the loop continued as new more than once
    released = [r for r in err.details[0]["compensations"] if r["status"] == "compensated"]
    # Every reservation of every run was undone, newest first, with its own data.
    assert [r["state"] for r in released] == ["Reserve"] * 30
    history = [p["n"] for p in fns.calls("release")[-30:]]
    assert history == list(range(30, 0, -1))


def test_a_carried_compensation_is_a_reference_into_the_plan() -> None:
    plan = registry_of(APPROVAL).plans[0]
    good = PendingCompensation.from_plan(
        {"state": "Reserve", "action": "release", "payload": {"x": 1}, "key": "k"}, plan
    )
    assert good.action == "release"
    assert good.spec == getattr(plan.state("Reserve"), "compensate", None)
    for raw, why in [
        ({"state": "Reserve", "action": "python:os:system"}, "compensates it with 'release'"),
        ({"state": "Ship", "action": "ship"}, "defines no compensation"),
        ({"state": "Nowhere"}, "unknown state"),
        ("python:os:system", "not an object"),
    ]:
        with pytest.raises(ValueError, match=why):
            PendingCompensation.from_plan(raw, plan)
