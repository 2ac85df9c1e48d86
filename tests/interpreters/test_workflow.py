"""The generic workflow: resolution and pinning, hash mismatch refusal, what the UI shows."""

from __future__ import annotations

import asyncio
import uuid

import pytest
from temporalio.api.enums.v1 import EventType
from temporalio.client import WorkflowFailureError
from temporalio.testing import WorkflowEnvironment

from interpreters.workflow import SA_DEFINITION, SA_STATE, SA_VERSION, STATE_QUERY
from tests.helpers.run import execute, nexus_worker, registry_of, start
from workers.config import WorkerConfig
from workers.main import build_worker

FNS = "python:tests.helpers.functions"


def versioned(version: str, word: str) -> str:
    return f"""
    name: versioned
    version: "{version}"
    states:
      - name: Say
        type: set
        assign:
          said: '"{word}"'
    """


async def test_latest_and_pinned_versions(env: WorkflowEnvironment) -> None:
    async with nexus_worker(
        env.client, versioned("1", "one"), versioned("10", "ten"), versioned("2", "two")
    ) as w:
        assert (await execute(env.client, w, "versioned", {}))["said"] == "ten"
        assert (await execute(env.client, w, "versioned@2", {}))["said"] == "two"
        with pytest.raises(WorkflowFailureError) as info:
            await execute(env.client, w, "versioned@3", {})
    assert "has no version '3'" in str(info.value.cause)


async def test_unknown_definition_fails_clearly(env: WorkflowEnvironment) -> None:
    async with nexus_worker(env.client, versioned("1", "one")) as w:
        with pytest.raises(WorkflowFailureError) as info:
            await execute(env.client, w, "no-such-flow", {})
    assert "no definition named 'no-such-flow'" in str(info.value.cause)
    assert "versioned" in str(info.value.cause)


async def test_ui_sees_search_attributes_details_and_summaries(env: WorkflowEnvironment) -> None:
    yaml = f"""
    name: visible
    version: "7"
    functions:
      echo: {FNS}:echo
    states:
      - name: Echo
        action: echo
        next: Hold
      - name: Hold
        type: wait
        signal: go
    """
    async with nexus_worker(env.client, yaml) as w:
        handle = await start(env.client, w, "visible", {})
        for _ in range(50):
            desc = await handle.describe()
            sa = desc.typed_search_attributes
            if sa.get(SA_STATE) == "Hold":
                break
            await asyncio.sleep(0.1)
        assert sa.get(SA_DEFINITION) == "visible" and sa.get(SA_VERSION) == "7"
        assert sa.get(SA_STATE) == "Hold"
        metadata = await handle.query("__temporal_workflow_metadata")
        assert "Hold" in metadata.current_details
        snap = await handle.query(STATE_QUERY)
        assert snap["done"] == ["Echo"] and snap["definition"] == "visible"
        await handle.signal("go", None)
        await handle.result()
        summaries = [
            e.user_metadata.summary
            async for e in handle.fetch_history_events()
            if e.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED
        ]
    decoded = [env.client.data_converter.payload_converter.from_payload(s) for s in summaries]
    assert decoded == ["Echo"]


async def test_changed_content_under_same_version_is_refused(env: WorkflowEnvironment) -> None:
    queue = f"pin-{uuid.uuid4().hex[:8]}"
    original = """
    name: pinned
    version: "1"
    states:
      - name: Hold
        type: wait
        signal: go
        next: Say
      - name: Say
        type: set
        assign:
          said: '"original"'
    """
    changed = original.replace('"original"', '"changed"')
    config = WorkerConfig(task_queue=queue)
    async with build_worker(env.client, config, registry_of(original)):
        handle = await env.client.start_workflow("pinned", {}, id=f"pin-{queue}", task_queue=queue)
        await handle.query(STATE_QUERY)  # the first task ran: the definition is pinned
    async with build_worker(env.client, config, registry_of(changed)):
        await handle.signal("go", None)
        message = ""
        for _ in range(100):
            async for event in handle.fetch_history_events():
                if event.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_FAILED:
                    message = event.workflow_task_failed_event_attributes.failure.message
            if message:
                break
            await asyncio.sleep(0.1)
        assert "content changed under the same version label" in message
        assert (await handle.describe()).status.name == "RUNNING"  # refused, not run, not lost
    async with build_worker(env.client, config, registry_of(original)):
        assert (await handle.result())["said"] == "original"
