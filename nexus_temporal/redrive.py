"""Redrive and rerun: recover a failed execution, or run one again from a chosen state.

:func:`redrive` resets a failed (timed-out, terminated) execution to just before the state
that failed (Temporal's reset): a new run of the same workflow id, linked to the old one by
the server, replays the states that succeeded from history (they do not run again) and runs
the failed state again with the data it had. :func:`rerun` starts a new execution of the same
pinned definition from a chosen state, with the data recorded there; the worker proves that
data from the source's history (interpreters/redrive.py, workers/lineage.py). Both are what
``nexus redrive`` and ``nexus rerun`` do, and what ``nexus ui`` offers (docs/operations.md,
"Redrive and rerun").
"""

from __future__ import annotations

import copy
import uuid
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from temporalio import workflow
from temporalio.api.enums.v1 import EventType
from temporalio.client import Client, WorkflowExecutionStatus, WorkflowHistory
from temporalio.common import RawValue
from temporalio.worker import Replayer

from interpreters.workflow import NexusWorkflow, bind, unbind
from nexus_temporal.dsl.plan import Scope
from nexus_temporal.history import (
    PinnedDefinition,
    has_state_entries,
    pinned_definition,
    recorded_steps,
    state_at,
)
from nexus_temporal.redrive_protocol import RERUN_KEY
from nexus_temporal.registry import Registry
from nexus_temporal.runner import OperationFailed

__all__ = [
    "Redrive",
    "RedriveRefused",
    "Rerun",
    "data_at",
    "redrive",
    "rerun",
]


class RedriveRefused(OperationFailed):
    """A redrive or rerun that cannot be done (a succeeded or running execution, a state never
    reached, an incompatible version...): the message says why and what to do instead."""


_UNSET: Any = object()
_CLOSED_FAILED = {
    WorkflowExecutionStatus.FAILED: "failed",
    WorkflowExecutionStatus.TIMED_OUT: "timed out",
    WorkflowExecutionStatus.TERMINATED: "terminated",
}


@dataclass
class Redrive:
    """What :func:`redrive` will do (``dry_run``) or did. ``run_id``: the new run (None on a
    dry run); ``previous_run_id``: the run it continues; ``reset_event_id``: the
    WorkflowTaskCompleted event the new run starts after."""

    workflow_id: str
    run_id: str | None
    previous_run_id: str
    state: str
    status: str
    reset_event_id: int
    description: str
    definition: str
    warnings: list[str] = field(default_factory=list)
    dry_run: bool = False
    version: str | None = None

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Rerun:
    """What :func:`rerun` will do (``dry_run``) or did: ``workflow_id``/``run_id`` are the new
    execution's (``run_id`` None on a dry run)."""

    workflow_id: str
    run_id: str | None
    source_workflow_id: str
    source_run_id: str
    state: str
    description: str
    definition: str
    input_given: bool = False
    dry_run: bool = False

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


async def _closed_run(client: Client, workflow_id: str, run_id: str | None) -> Any:
    from temporalio.service import RPCError, RPCStatusCode

    try:
        return await client.get_workflow_handle(workflow_id, run_id=run_id).describe()
    except RPCError as exc:
        if exc.status == RPCStatusCode.NOT_FOUND:
            run = f" run {run_id}" if run_id else ""
            raise RedriveRefused(
                f"no workflow '{workflow_id}'{run} in namespace {client.namespace}; check the "
                "id (nexus start prints it) and --namespace"
            ) from None
        raise RedriveRefused(f"cannot read '{workflow_id}': {exc.message}") from None


async def _history(client: Client, workflow_id: str, run_id: str) -> WorkflowHistory:
    return await client.get_workflow_handle(workflow_id, run_id=run_id).fetch_history()


async def _failure(client: Client, history: WorkflowHistory) -> dict[str, Any]:
    """The NEXUS failure details of a failed run (state, type, message, compensations)."""
    for event in reversed(history.events):
        if event.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_FAILED:
            failure = event.workflow_execution_failed_event_attributes.failure
            payloads = list(failure.application_failure_info.details.payloads)
            if payloads:
                try:
                    value = (await client.data_converter.decode(payloads[:1]))[0]
                except Exception:
                    value = None
                if isinstance(value, dict):
                    return value
            return {"message": failure.message}
    return {}


def _reset_point(history: WorkflowHistory, state: str) -> tuple[int, int]:
    """(WorkflowTaskCompleted event to reset to, first event of the state's last visit)."""
    steps = recorded_steps(history)
    entries = [s for s in steps if s.state == state and s.kind == "enter"]
    if entries:
        first = entries[-1].event_id
    else:  # search attributes off: the state's last stretch of work
        own = [s.event_id for s in steps if s.state == state]
        if not own:
            return 0, 0
        first = own[-1]
        for s in sorted(steps, key=lambda s: s.event_id, reverse=True):
            if s.event_id > own[-1]:
                continue
            if s.state != state:
                break
            first = s.event_id
    completed = [
        int(e.event_id)
        for e in history.events
        if e.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED and e.event_id < first
    ]
    return (completed[-1] if completed else 0), first


def _states_before(history: WorkflowHistory, event_id: int) -> list[str]:
    seen: list[str] = []
    for s in recorded_steps(history):
        if s.kind == "enter" and s.event_id < event_id and s.state and s.state not in seen:
            seen.append(s.state)
    return seen


async def _check_version(
    history: WorkflowHistory,
    reset_event: int,
    pin: PinnedDefinition,
    version: str,
    definitions: Registry | Sequence[str | Path] | None,
) -> str:
    """Refuse unless ``version`` replays the history up to the reset point and runs this
    execution (it declares ``replaces`` for the pinned content); the description's words."""
    from nexus_temporal.registry import load_registry
    from nexus_temporal.replay import replay

    if definitions is None:
        raise RedriveRefused(
            f"--version {version}: give the definitions (--definitions DIR) to check it against "
            "the execution's history"
        )
    registry = (
        definitions
        if isinstance(definitions, Registry)
        else load_registry([Path(p) for p in definitions])
    )
    plans = [p for p in registry.plans if p.name == pin.name and p.version == version]
    if not plans:
        raise RedriveRefused(f"no definition '{pin.name}@{version}' among the given definitions")
    plan = plans[0]
    prefix = [e for e in history.events if e.event_id < reset_event]
    report = (
        await replay(
            [WorkflowHistory(history.workflow_id, prefix)], Registry([plan]), candidates=True
        )
    )[0]
    if not report.ok:
        raise RedriveRefused(
            f"'{pin.name}@{version}' cannot continue this execution: `nexus replay` finds "
            f"its history incompatible: {report.render()}"
        )
    if not any(pin.hash.startswith(p) for p in plan.definition.replaces):
        raise RedriveRefused(
            f"'{pin.name}@{version}' replays this execution's history, but a redriven run "
            f"keeps the definition pinned at its start ({pin.label}): add "
            f'`replaces: ["{pin.hash[:12]}"]` to {pin.name}@{version}, deploy it to the '
            "workers, and redrive again (docs/versioning.md)"
        )
    return (
        f"; it runs on {pin.name}@{version} ({plan.hash[:12]}), which replays its history and "
        "declares `replaces` for the pinned content"
    )


async def redrive(
    client: Client,
    workflow_id: str,
    *,
    run_id: str | None = None,
    version: str | None = None,
    definitions: Registry | Sequence[str | Path] | None = None,
    dry_run: bool = False,
    reason: str = "nexus redrive",
) -> Redrive:
    """Continue a failed, timed-out or terminated execution from the state that failed, in a
    new run (Temporal reset) that does not re-run the states that succeeded.

    Raises :class:`RedriveRefused` for an execution that succeeded, is running, was cancelled
    or never pinned a definition, and for a ``version`` that cannot continue it.
    """
    desc = await _closed_run(client, workflow_id, run_id)
    what = f"cannot redrive '{workflow_id}'"
    status = desc.status
    if status == WorkflowExecutionStatus.COMPLETED:
        raise RedriveRefused(
            f"{what}: it succeeded, so there is nothing to redrive; to run it again from a "
            f"state, use `nexus rerun {workflow_id} --from STATE`"
        )
    if status == WorkflowExecutionStatus.RUNNING:
        raise RedriveRefused(f"{what}: it is still running; redrive it once it has failed")
    if status == WorkflowExecutionStatus.CONTINUED_AS_NEW:
        raise RedriveRefused(
            f"{what}: run {desc.run_id} continued as new; redrive the latest run (omit --run-id)"
        )
    if status not in _CLOSED_FAILED:
        raise RedriveRefused(
            f"{what}: it was {status.name.lower() if status else 'closed'}, not failed; "
            "only failed, timed-out and terminated executions are redriven"
        )
    history = await _history(client, workflow_id, desc.run_id)
    pin = pinned_definition(history)
    if pin is None:
        raise RedriveRefused(f"{what}: it failed before it pinned a definition (nothing ran)")
    warnings: list[str] = []
    if status == WorkflowExecutionStatus.FAILED:
        failure = await _failure(client, history)
        state = failure.get("state")
        if not isinstance(state, str) or not state:
            raise RedriveRefused(
                f"{what}: it failed before any state ran ({failure.get('message', 'no details')})"
            )
        undone = [
            c.get("state")
            for c in failure.get("compensations") or []
            if isinstance(c, dict) and str(c.get("status", "")).startswith("compensated")
        ]
        if undone:
            warnings.append(
                f"the failed run compensated {', '.join(map(str, undone))}: those effects stay "
                "undone, the redrive does not re-do them, and if it fails again they are not "
                "compensated twice"
            )
    else:
        steps = recorded_steps(history)
        found = state_at(steps, max((s.event_id for s in steps), default=0))
        if found is None:
            raise RedriveRefused(f"{what}: it was {_CLOSED_FAILED[status]} before any state ran")
        state = found
    reset_event, first = _reset_point(history, state)
    if reset_event == 0:
        raise RedriveRefused(f"{what}: its history has no point before state '{state}' to reset to")
    if first and not any(
        e.event_type == EventType.EVENT_TYPE_MARKER_RECORDED and e.event_id < reset_event
        for e in history.events
    ):
        warnings.append(
            "the reset point is in the first workflow task: the definition is resolved again"
        )
    before = [s for s in _states_before(history, first) if s != state]
    words = f"; it runs on {pin.label}"
    if version is not None:
        words = await _check_version(history, reset_event, pin, version, definitions)
    done = (
        f"the {len(before)} state(s) before it ({', '.join(before)}) replay from history "
        "and do not run again"
        if before
        else "no state before it ran"
    )
    description = (
        f"reset '{workflow_id}' (run {desc.run_id}, {_CLOSED_FAILED[status]} in '{state}') to "
        f"event {reset_event}: a new run runs '{state}' again with the data it had there; "
        f"{done}{words}"
    )
    result = Redrive(
        workflow_id=workflow_id,
        run_id=None,
        previous_run_id=desc.run_id,
        state=state,
        status=_CLOSED_FAILED[status],
        reset_event_id=reset_event,
        description=description,
        definition=pin.label,
        warnings=warnings,
        dry_run=dry_run,
        version=version,
    )
    if dry_run:
        return result
    from temporalio.api.common.v1 import WorkflowExecution
    from temporalio.api.workflowservice.v1 import ResetWorkflowExecutionRequest
    from temporalio.service import RPCError

    request = ResetWorkflowExecutionRequest(
        namespace=client.namespace,
        workflow_execution=WorkflowExecution(workflow_id=workflow_id, run_id=desc.run_id),
        reason=f"{reason}: state '{state}'",
        workflow_task_finish_event_id=reset_event,
        request_id=str(uuid.uuid4()),
    )
    try:
        response = await client.workflow_service.reset_workflow_execution(request)
    except RPCError as exc:
        raise RedriveRefused(
            f"{what}: the server refused the reset: {exc.message} ({exc.status.name}); "
            "redrive needs Temporal's reset permission, not only start"
        ) from None
    result.run_id = response.run_id
    return result


# --- rerun -----------------------------------------------------------------------------------

#: What a capture replay saw, by (namespace, run id): the data each top-level state was last
#: entered with, and the execution input as given.
_CAPTURED: dict[tuple[str, str], dict[str, Any]] = {}


@workflow.defn(dynamic=True, sandboxed=False)
class _CaptureWorkflow(NexusWorkflow):
    """The generic workflow, noting the data each top-level state is entered with (replays
    only)."""

    @workflow.run
    async def run(self, args: Sequence[RawValue]) -> Any:
        return await super().run(args)

    def _reached(self, scope: Scope, name: str, data: Any) -> None:
        if scope.id != "" or self.ctx is None:
            return
        info = workflow.info()
        seen = _CAPTURED.setdefault((info.namespace, info.run_id), {"states": {}})
        seen["states"][name] = copy.deepcopy(data)
        ctx = self.ctx
        seen["input"] = ctx.raw_input if ctx.input_wrapped else ctx.workflow_input


async def data_at(
    client: Client, registry: Registry, history: WorkflowHistory, state: str
) -> tuple[bool, Any, Any]:
    """(reached, data, execution input): replays ``history`` with ``registry`` and reads the
    data top-level ``state`` was last entered with."""
    namespace = f"nexus-rerun-{uuid.uuid4().hex[:8]}"
    bind(namespace, "*", registry, search_attributes=has_state_entries(recorded_steps(history)))
    try:
        replayer = Replayer(
            workflows=[_CaptureWorkflow], namespace=namespace, data_converter=client.data_converter
        )
        await replayer.replay_workflow(history, raise_on_replay_failure=False)
    finally:
        unbind(namespace, "*")
    seen = _CAPTURED.pop((namespace, history.run_id), {"states": {}})
    if state not in seen["states"]:
        return False, None, seen.get("input")
    return True, seen["states"][state], seen.get("input")


async def rerun(
    client: Client,
    workflow_id: str,
    from_state: str,
    *,
    input: Any = _UNSET,
    run_id: str | None = None,
    new_workflow_id: str | None = None,
    task_queue: str | None = None,
    dry_run: bool = False,
) -> Rerun:
    """Start a new execution of ``workflow_id``'s pinned definition from ``from_state``, with
    the data recorded there (``input``: other data; the worker must allow it).

    The new execution names its source in its input; the worker reads the source's history,
    refuses a state it never reached and takes the data from there (docs/security.md).
    Raises :class:`RedriveRefused` when the source or state is unknown.
    """
    desc = await _closed_run(client, workflow_id, run_id)
    what = f"cannot rerun '{workflow_id}' from '{from_state}'"
    history = await _history(client, workflow_id, desc.run_id)
    pin = pinned_definition(history)
    if pin is None or not pin.name:
        raise RedriveRefused(f"{what}: it is not a NEXUS execution that pinned a definition")
    entered = [s.state for s in recorded_steps(history) if s.kind == "enter" and s.state]
    chained = history.events[
        0
    ].workflow_execution_started_event_attributes.continued_execution_run_id
    if entered and from_state not in entered and not chained:
        listed = ", ".join(dict.fromkeys(entered))
        raise RedriveRefused(f"{what}: it never reached that state (it entered: {listed})")
    new_id = new_workflow_id or f"{workflow_id}-rerun-{uuid.uuid4().hex[:8]}"
    source = "the given input" if input is not _UNSET else f"the data recorded at '{from_state}'"
    description = (
        f"start '{new_id}' running {pin.label} from state '{from_state}' with {source} in "
        f"'{workflow_id}' (run {desc.run_id}); the states before it do not run"
    )
    result = Rerun(
        workflow_id=new_id,
        run_id=None,
        source_workflow_id=workflow_id,
        source_run_id=desc.run_id,
        state=from_state,
        description=description,
        definition=pin.label,
        input_given=input is not _UNSET,
        dry_run=dry_run,
    )
    if dry_run:
        return result
    request: dict[str, Any] = {
        "workflow_id": workflow_id,
        "run_id": desc.run_id,
        "state": from_state,
    }
    if input is not _UNSET:
        request["input"] = input
    from temporalio.service import RPCError

    from nexus_temporal.runner import refusal

    try:
        handle = await client.start_workflow(
            desc.workflow_type,
            {RERUN_KEY: request},
            id=new_id,
            task_queue=task_queue or desc.task_queue,
        )
    except RPCError as exc:
        raise refusal(what, exc) from None
    result.run_id = handle.result_run_id
    return result
