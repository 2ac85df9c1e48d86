"""The one generic (dynamic) Temporal workflow that interprets every NEXUS definition.

Workflow code: deterministic. It reads only its input, its history (the definition it pinned
at start is recorded there as a local-activity result) and the pinned plan; it routes only on
error types that history records.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from temporalio import activity, workflow
from temporalio.common import RawValue, SearchAttributeKey
from temporalio.exceptions import ApplicationError

from interpreters.context import RunContext
from interpreters.errors import NexusError, matches
from interpreters.states import HANDLERS
from interpreters.states.task import call_action
from nexus_temporal.dsl.plan import Scope
from nexus_temporal.dsl.schema import RetrySpec
from nexus_temporal.registry import Registry, UnknownDefinition

RESOLVE_ACTIVITY = "nexus.resolve_definition"
STATE_QUERY = "nexus_state"

SA_DEFINITION = SearchAttributeKey.for_keyword("NexusDefinition")
SA_VERSION = SearchAttributeKey.for_keyword("NexusVersion")
SA_STATE = SearchAttributeKey.for_keyword("NexusState")
SEARCH_ATTRIBUTES = (SA_DEFINITION, SA_VERSION, SA_STATE)


@dataclass
class Pin:
    """The definition an execution runs, as recorded in its history."""

    name: str
    version: str
    hash: str


def make_resolve_activity(registry: Registry) -> Any:
    """The local activity that resolves ``name[@version]`` once, at start, into history."""

    @activity.defn(name=RESOLVE_ACTIVITY)
    async def resolve_definition(reference: str) -> Pin:
        try:
            plan = registry.resolve(reference)
        except UnknownDefinition as exc:
            raise ApplicationError(str(exc), type="UnknownDefinition", non_retryable=True) from None
        return Pin(plan.name, plan.version, plan.hash)

    return resolve_definition


def _decode_input(args: Sequence[RawValue]) -> Any:
    if not args:
        return {}
    value = workflow.payload_converter().from_payload(args[0].payload)
    return {} if value is None else value


@dataclass(frozen=True)
class Binding:
    registry: Registry
    search_attributes: bool


#: What each (namespace, task queue) served by this process interprets. Set once per worker,
#: before it polls, so every workflow task of a queue sees the same registry.
_BINDINGS: dict[tuple[str, str], Binding] = {}


def bind(
    namespace: str, task_queue: str, registry: Registry, *, search_attributes: bool = True
) -> None:
    """Make ``registry`` the definitions interpreted on ``task_queue`` (``*``: any queue of
    the namespace, as replays need)."""
    _BINDINGS[(namespace, task_queue)] = Binding(registry, search_attributes)


def unbind(namespace: str, task_queue: str) -> None:
    _BINDINGS.pop((namespace, task_queue), None)


def _binding() -> Binding:
    info = workflow.info()
    found = _BINDINGS.get((info.namespace, info.task_queue)) or _BINDINGS.get((info.namespace, "*"))
    if found is None:
        raise RuntimeError(f"no NEXUS definitions bound to task queue '{info.task_queue}'")
    return found


@workflow.defn(dynamic=True, sandboxed=False)
class NexusWorkflow:
    """Interprets the plan its workflow type names.

    Not sandboxed: the interpreter is deterministic by construction and replay-tested, and
    the sandbox's per-run re-import would cost more than the interpreter itself.
    """

    def __init__(self) -> None:
        self.ctx: RunContext | None = None
        self.early_signals: dict[str, list[Any]] = {}

    @workflow.run
    async def run(self, args: Sequence[RawValue]) -> Any:
        binding = _binding()
        registry, search_attributes = binding.registry, binding.search_attributes
        reference = workflow.info().workflow_type
        data = _decode_input(args)
        try:
            pin: Pin = await workflow.execute_local_activity(
                RESOLVE_ACTIVITY,
                reference,
                result_type=Pin,
                start_to_close_timeout=timedelta(seconds=10),
            )
        except Exception as exc:
            raise ApplicationError(
                f"cannot start '{reference}': {getattr(exc.__cause__, 'message', exc)}",
                type="UnknownDefinition",
                non_retryable=True,
            ) from None
        plan = registry.by_hash(pin.hash)
        if plan is None:
            # Never run a different definition than the one pinned: fail the task (not the
            # workflow) so it resumes once a worker with the pinned content is deployed.
            raise RuntimeError(
                f"definition '{pin.name}@{pin.version}' with hash {pin.hash[:12]} is not on "
                "this worker: its content changed under the same version label; deploy the "
                "original content, or give the change a new version"
            )
        if not isinstance(data, dict):
            data = {"input": data}
        ctx = RunContext(
            plan=plan,
            workflow_input=data,
            walk=self._walk,
            signals=self.early_signals,
            search_attributes=search_attributes,
        )
        self.ctx = ctx
        if search_attributes:
            workflow.upsert_search_attributes(
                [SA_DEFINITION.value_set(plan.name), SA_VERSION.value_set(plan.version)]
            )
        try:
            result = await self._walk(plan.root, data)
        except NexusError as err:
            ctx.status = "compensating" if ctx.compensations else "failed"
            await self._compensate(ctx, err)
            ctx.status = "failed"
            self._details(f"**Failed** in `{err.state}`: {err.type}: {err.message}")
            raise ApplicationError(
                str(err), _failure_details(err, ctx), type=err.type, non_retryable=True
            ) from None
        ctx.status = "succeeded"
        self._details("**Succeeded**")
        return result

    async def _walk(self, scope: Scope, data: Any) -> Any:
        ctx = self.ctx
        assert ctx is not None
        name: str | None = scope.start
        while name is not None:
            state = scope.states[name]
            ctx.visits[name] = ctx.visits.get(name, 0) + 1
            ctx.current.append(name)
            ctx.trail.append(name)
            self._entered(ctx, name)
            try:
                outcome = await HANDLERS[state.type](state, data, ctx)
                data, name = outcome.data, outcome.next
            except NexusError as err:
                rule = next(
                    (c for c in getattr(state, "catch", ()) if matches(c.errors, err.type)), None
                )
                if rule is None:
                    raise
                data = dict(data)
                data[rule.as_] = err.to_data()
                name = rule.next
            finally:
                ctx.current.remove(state.name)
            ctx.done.append(state.name)
        return data

    def _entered(self, ctx: RunContext, name: str) -> None:
        if ctx.search_attributes:
            workflow.upsert_search_attributes([SA_STATE.value_set(name)])
        self._details(f"**State:** `{name}`  \n**Done:** {len(ctx.done)} states")

    def _details(self, text: str) -> None:
        workflow.set_current_details(text)

    async def _compensate(self, ctx: RunContext, err: NexusError) -> None:
        failed: list[str] = []
        while ctx.compensations:
            comp = ctx.compensations.pop()
            record: dict[str, Any] = {"state": comp.state, "action": comp.action}
            self._details(f"**Compensating** `{comp.state}` with `{comp.action}`")
            try:
                await call_action(
                    ctx,
                    state=comp.state,
                    action=comp.action,
                    payload=comp.payload,
                    retry=comp.spec.retry or RetrySpec(max_attempts=5),
                    timeout=comp.timeout,
                    schedule_to_close=None,
                    heartbeat=None,
                    task_queue=comp.task_queue,
                    summary=f"compensate {comp.state}",
                    key=comp.key,
                )
                record["status"] = "compensated"
            except NexusError as cerr:
                record["status"] = "failed"
                record["error"] = {"type": cerr.type, "message": cerr.message}
                failed.append(f"{comp.state} ({comp.action}): {cerr.type}: {cerr.message}")
            ctx.compensation_results.append(record)
        if failed:
            original = str(err)
            err.type = "CompensationFailed"
            err.message = f"compensation failed for {'; '.join(failed)} (after: {original})"

    @workflow.query(name=STATE_QUERY)
    def nexus_state(self) -> dict[str, Any]:
        if self.ctx is None:
            return {
                "status": "starting",
                "current": [],
                "done": [],
                "pending_compensations": [],
                "compensations": [],
            }
        return self.ctx.snapshot()

    @workflow.signal(dynamic=True)
    def on_signal(self, name: str, args: Sequence[RawValue]) -> None:
        value = workflow.payload_converter().from_payload(args[0].payload) if args else None
        self.early_signals.setdefault(name, []).append(value)

    @workflow.update(dynamic=True)
    def on_update(self, name: str, args: Sequence[RawValue]) -> dict[str, Any]:
        self.on_signal(name, args)
        return {"accepted": True, "signal": name}


def _failure_details(err: NexusError, ctx: RunContext) -> dict[str, Any]:
    return {
        "state": err.state,
        "type": err.type,
        "message": err.message,
        "details": err.details,
        "compensations": ctx.compensation_results,
    }
