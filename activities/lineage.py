"""What the runs a redriven run was reset from did, read from their histories on the server.

Activity code, with the worker's Temporal client. ``nexus redrive`` resets a failed execution
to just before the state that failed (a Temporal reset); the new run's history ends at that
point, so what the earlier runs did after it (the compensations they ran, the map items that
succeeded) is read here from the earlier runs' own histories: trusted data recorded by the
server, never anything a starter or signaller sent. The runs are found through the reset events
(``WorkflowTaskFailed`` with cause ``RESET_WORKFLOW`` names the base run), so a run can only
learn about the runs it was really reset from.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from temporalio import activity
from temporalio.api.common.v1 import Payload
from temporalio.api.enums.v1 import EventType, WorkflowTaskFailedCause
from temporalio.api.history.v1 import HistoryEvent
from temporalio.client import Client, WorkflowHistory

from nexus_temporal.protocol import INVOKE_ACTIVITY, SHARD_TYPE
from nexus_temporal.redrive_protocol import (
    LINEAGE_COMPENSATIONS,
    LINEAGE_MAP_ITEMS,
    LineageRequest,
)

_RESET = WorkflowTaskFailedCause.WORKFLOW_TASK_FAILED_CAUSE_RESET_WORKFLOW


async def fetch(client: Client, workflow_id: str, run_id: str) -> WorkflowHistory:
    return await client.get_workflow_handle(workflow_id, run_id=run_id).fetch_history()


def reset_bases(history: WorkflowHistory) -> list[str]:
    """The run ids this run's history says it was reset from (the latest reset last)."""
    out = []
    for event in history.events:
        if event.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_FAILED:
            attrs = event.workflow_task_failed_event_attributes
            if attrs.cause == _RESET and attrs.base_run_id:
                out.append(attrs.base_run_id)
    return out


async def earlier_runs(client: Client, workflow_id: str, run_id: str) -> list[WorkflowHistory]:
    """The histories of the runs ``run_id`` was reset from, directly or through other resets."""
    seen = {run_id}
    todo = reset_bases(await fetch(client, workflow_id, run_id))
    out: list[WorkflowHistory] = []
    while todo:
        base = todo.pop()
        if base in seen:
            continue
        seen.add(base)
        history = await fetch(client, workflow_id, base)
        out.append(history)
        todo.extend(reset_bases(history))
    return out


async def _value(client: Client, payloads: list[Payload]) -> Any:
    if not payloads:
        return None
    try:
        return (await client.data_converter.decode(payloads[:1]))[0]
    except Exception:  # not ours to read (another converter): not a NEXUS call
        return None


def is_invoke(activity_type: str) -> bool:
    """``nexus.invoke`` (or a per-function ``nexus.invoke:<fn>``)."""
    return activity_type == INVOKE_ACTIVITY or activity_type.startswith(f"{INVOKE_ACTIVITY}:")


async def completed_calls(
    client: Client, history: WorkflowHistory, want: Callable[[int], bool] | None = None
) -> list[tuple[str, Any]]:
    """``(idempotency key, result)`` of each NEXUS function call that completed in ``history``
    (``want``: only calls whose scheduled event id it accepts)."""
    keys: dict[int, str] = {}
    out: list[tuple[str, Any]] = []
    for event in history.events:
        kind = event.event_type
        if kind == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED:
            attrs = event.activity_task_scheduled_event_attributes
            if not is_invoke(attrs.activity_type.name) or (want and not want(int(event.event_id))):
                continue
            request = await _value(client, list(attrs.input.payloads))
            if isinstance(request, dict) and isinstance(request.get("idempotency_key"), str):
                keys[int(event.event_id)] = request["idempotency_key"]
        elif kind == EventType.EVENT_TYPE_ACTIVITY_TASK_COMPLETED:
            attrs_c = event.activity_task_completed_event_attributes
            key = keys.get(int(attrs_c.scheduled_event_id))
            if key is not None:
                out.append((key, await _value(client, list(attrs_c.result.payloads))))
    return out


async def _summary(client: Client, event: HistoryEvent) -> str | None:
    if event.HasField("user_metadata") and event.user_metadata.HasField("summary"):
        value = await _value(client, [event.user_metadata.summary])
        return value if isinstance(value, str) else None
    return None


async def compensations_done(client: Client, request: LineageRequest) -> list[str]:
    """The idempotency keys of the compensations the earlier runs completed."""
    done: list[str] = []
    for history in await earlier_runs(client, request.workflow_id, request.run_id):
        labelled: set[int] = set()
        for event in history.events:
            if event.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED:
                label = await _summary(client, event)
                if label is not None and label.startswith("compensate "):
                    labelled.add(int(event.event_id))
        calls = await completed_calls(client, history, labelled.__contains__)
        done.extend(key for key, _ in calls)
    return sorted(set(done))


def unit_of(key: str, prefix: str, suffix: str) -> str | None:
    """The unit start index an item key ``<root>/<state>/<i>[-<j>][/v<visit>]`` names."""
    if not key.startswith(prefix):
        return None
    rest = key[len(prefix) :]
    if suffix:
        if not rest.endswith(suffix):
            return None
        rest = rest[: -len(suffix)]
    first = rest.split("-", 1)[0]
    return first if first.isdigit() and "/" not in rest else None


async def map_units_done(client: Client, request: LineageRequest) -> dict[str, Any]:
    """``{unit start index: result}`` of the units of a map visit that completed in the
    earlier runs, in the runs themselves (inline maps) and in their map shards."""
    wf, state, visit = request.workflow_id, request.state, request.visit
    prefix, suffix = f"{wf}/{state}/", (f"/v{visit}" if visit > 1 else "")
    shard_prefix = f"{wf}/{state}{f'/{visit}' if visit > 1 else ''}/"
    out: dict[str, Any] = {}
    todo: list[tuple[str, WorkflowHistory | None, str]] = [
        (wf, h, "") for h in await earlier_runs(client, wf, request.run_id)
    ]
    while todo:
        workflow_id, history, run_id = todo.pop()
        if history is None:
            history = await fetch(client, workflow_id, run_id)
        for key, result in await completed_calls(client, history):
            unit = unit_of(key, prefix, suffix)
            if unit is not None:
                out[unit] = result
        todo.extend((cid, None, rid) for cid, rid in _shards(history, shard_prefix))
    return out


def _shards(history: WorkflowHistory, prefix: str) -> list[tuple[str, str]]:
    """``(workflow id, run id)`` of the map shards ``history`` started under ``prefix``."""
    initiated: dict[int, str] = {}
    out = []
    for event in history.events:
        if event.event_type == EventType.EVENT_TYPE_START_CHILD_WORKFLOW_EXECUTION_INITIATED:
            attrs = event.start_child_workflow_execution_initiated_event_attributes
            if attrs.workflow_type.name == SHARD_TYPE and attrs.workflow_id.startswith(prefix):
                initiated[int(event.event_id)] = attrs.workflow_id
        elif event.event_type == EventType.EVENT_TYPE_CHILD_WORKFLOW_EXECUTION_STARTED:
            started = event.child_workflow_execution_started_event_attributes
            child = initiated.get(int(started.initiated_event_id))
            if child is not None:
                out.append((child, started.workflow_execution.run_id))
    return out


def lineage_activities(client: Client) -> list[Callable[..., Any]]:
    """The redrive lookups of a worker, reading histories with ``client``."""

    @activity.defn(name=LINEAGE_COMPENSATIONS)
    async def lineage_compensations(request: LineageRequest) -> list[str]:
        return await compensations_done(client, request)

    @activity.defn(name=LINEAGE_MAP_ITEMS)
    async def lineage_map_items(request: LineageRequest) -> dict[str, Any]:
        return await map_units_done(client, request)

    return [lineage_compensations, lineage_map_items]
