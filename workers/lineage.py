"""The worker's redrive and rerun activities: they read earlier runs' histories on the server
with the worker's own client (trusted data) and, for a rerun, replay the source's history with
the definitions this worker serves to read the data a state was entered with."""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

from temporalio import activity
from temporalio.client import Client
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError

from activities.lineage import fetch, lineage_activities
from nexus_temporal.history import pinned_definition
from nexus_temporal.protocol import SHARD_TYPE
from nexus_temporal.redrive import data_at
from nexus_temporal.redrive_protocol import (
    ALLOW_RERUN_INPUT,
    REFUSED,
    RERUN_SOURCE,
    RerunRequest,
    RerunSource,
)
from nexus_temporal.registry import Registry


def _refuse(message: str) -> ApplicationError:
    return ApplicationError(message, type=REFUSED, non_retryable=True)


def rerun_input_allowed() -> bool:
    """Whether this worker lets a rerun replace the recorded data (``NEXUS_ALLOW_RERUN_INPUT``,
    trusted worker configuration; docs/security.md)."""
    return os.environ.get(ALLOW_RERUN_INPUT, "").strip().lower() in {"1", "true", "yes", "on"}


async def rerun_source(client: Client, registry: Registry, request: RerunRequest) -> RerunSource:
    """The source of a rerun, proved from its history: the state was reached there (in the
    run named or the runs it continues), and the data is what it was entered with."""
    if request.has_input and not rerun_input_allowed():
        raise _refuse(
            "this worker does not let a rerun replace the data recorded at the state; rerun "
            f"without --input, or set {ALLOW_RERUN_INPUT}=1 on the worker (docs/security.md)"
        )
    run_id = request.run_id
    if run_id is None:
        try:
            run_id = (await client.get_workflow_handle(request.workflow_id).describe()).run_id
        except RPCError as exc:
            raise _refuse(f"no source execution '{request.workflow_id}': {exc.message}") from None
    while True:
        try:
            history = await fetch(client, request.workflow_id, run_id)
        except RPCError as exc:
            raise _refuse(f"cannot read the source's history: {exc.message}") from None
        started = history.events[0].workflow_execution_started_event_attributes
        pin = pinned_definition(history)
        if started.workflow_type.name == SHARD_TYPE or pin is None or not pin.name:
            raise _refuse("the source is not a NEXUS execution that pinned a definition")
        plan = registry.by_hash(pin.hash)
        if plan is None:
            raise _refuse(f"this worker does not serve the source's definition ({pin.label})")
        if request.state not in plan.root.states:
            raise _refuse(f"{pin.label} has no top-level state '{request.state}'")
        reached, data, given = await data_at(client, registry, history, request.state)
        if reached:
            break
        if not started.continued_execution_run_id:
            raise _refuse(f"the source never reached state '{request.state}'")
        run_id = started.continued_execution_run_id  # look in the run it continues
    return RerunSource(
        pin={"name": pin.name, "version": pin.version, "hash": pin.hash},
        state=request.state,
        data=request.input if request.has_input else data,
        input=given,
        run_id=run_id,
    )


def redrive_activities(client: Client, registry: Registry) -> list[Callable[..., Any]]:
    """The lineage lookups and the rerun source, for ``build_worker``."""

    @activity.defn(name=RERUN_SOURCE)
    async def rerun_source_activity(request: RerunRequest) -> RerunSource:
        return await rerun_source(client, registry, request)

    return [*lineage_activities(client), rerun_source_activity]
