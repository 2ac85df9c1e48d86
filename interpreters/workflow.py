"""The one generic (dynamic) Temporal workflow that interprets every NEXUS definition.

Workflow code: deterministic. It reads only its input, its history (the definition it pinned
at start is recorded there as a local-activity result) and the pinned plan; it routes only on
error types that history records.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import timedelta
from typing import Any

from temporalio import activity, workflow
from temporalio.common import RawValue
from temporalio.exceptions import ApplicationError

from interpreters.context import RunContext
from interpreters.errors import NexusError, matches
from interpreters.redrive import EARLIER, earlier_compensations, rerun_source
from interpreters.states import HANDLERS
from interpreters.states.data import check_output_size
from interpreters.states.map import MapJob, run_range, source_of
from interpreters.states.task import run_compensation
from interpreters.tracing import observe_failure, observe_state
from nexus_temporal.dsl.plan import Plan, Scope
from nexus_temporal.dsl.schema import MapState
from nexus_temporal.protocol import (
    CONTINUE_KEY,
    RESOLVE_ACTIVITY,
    SA_DEFINITION,
    SA_STATE,
    SA_VERSION,
    SEARCH_ATTRIBUTES,
    SHARD_TYPE,
    STATE_QUERY,
)
from nexus_temporal.registry import Registry, UnknownDefinition

__all__ = [
    "CONTINUE_KEY",
    "RESOLVE_ACTIVITY",
    "SEARCH_ATTRIBUTES",
    "STATE_QUERY",
    "NexusWorkflow",
    "Pin",
    "bind",
    "make_resolve_activity",
    "unbind",
]


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


def _plan(registry: Registry, content_hash: str, what: str) -> Plan:
    plan = registry.by_hash(content_hash)
    if plan is None:
        # Never run a different definition than the one pinned: fail the task (not the
        # workflow) so it resumes once a worker with the pinned content is deployed.
        message = (
            f"definition {what} with hash {content_hash[:12]} is not on this worker: its "
            "content changed under the same version label; deploy the original content, give "
            "the change a new version, or, once `nexus replay` finds it compatible, add "
            f'`replaces: ["{content_hash[:12]}"]` to the new content (docs/versioning.md)'
        )
        report_unserved(registry, what, content_hash)
        raise RuntimeError(message)
    return plan


#: Pinned hashes this process was asked to run and does not serve: (definition, version)
#: and how often, for the log and the ``nexus_pin_mismatch`` metric.
UNSERVED: dict[str, int] = {}
_log = logging.getLogger("nexus.worker")


def report_unserved(registry: Registry, what: str, content_hash: str) -> None:
    """Say loudly that an execution is pinned to content this worker does not serve.

    Two workers serving different content under one ``name@version`` on a task queue split
    its executions between the two contents; each worker then fails the tasks of the other's
    executions. Logged (once per hash, then every 100th time), counted in the
    ``nexus_pin_mismatch`` metric (never skipped on replay: the task fails on this worker
    whatever its history), and named in the task failure the Web UI shows. Temporal refuses
    queries while a task fails, so ``nexus_state`` cannot answer there; on the worker that
    serves the execution it reports the pinned ``hash`` (docs/versioning.md).
    """
    name, _, version = what.strip("'").partition("@")
    served = [p for p in registry.plans if p.name == name and p.version == version]
    count = UNSERVED[content_hash] = UNSERVED.get(content_hash, 0) + 1
    from opentelemetry import metrics

    metrics.get_meter("nexus.worker").create_counter(
        "nexus_pin_mismatch", description="workflow tasks pinned to content this worker lacks"
    ).add(1, {"definition": name, "version": version, "pinned_hash": content_hash[:12]})
    if count == 1 or count % 100 == 0:
        serving = (
            f"this worker serves '{name}@{version}' with hash {served[0].hash[:12]}: two "
            "workers on this task queue serve different content under one version"
            if served
            else "this worker does not serve it"
        )
        _log.error(
            "execution %s pinned to %s hash %s (seen %d times): %s; see docs/versioning.md, "
            "'Two contents under one version'",
            workflow.info().workflow_id,
            what,
            content_hash[:12],
            count,
            serving,
        )


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
        data = _decode_input(args)
        if workflow.info().workflow_type == SHARD_TYPE:
            return await self._run_shard(binding, data)
        carry = _carry(data)
        rerun = await rerun_source(data) if carry is None else None
        if carry is not None:
            pin = _carried_pin(carry)
        elif rerun is not None:
            pin = await self._resolve(f"{rerun.pin['name']}@{rerun.pin['version']}")
            if pin.hash != rerun.pin["hash"]:
                raise ApplicationError(
                    f"cannot rerun: '{pin.name}@{pin.version}' now has other content than the "
                    "source execution ran",
                    type="RerunRefused",
                    non_retryable=True,
                )
        else:
            pin = await self._resolve(workflow.info().workflow_type)
        plan = _plan(binding.registry, pin.hash, f"'{pin.name}@{pin.version}'")
        if rerun is not None:
            data = rerun.input  # the source's input as given
        raw_input, wrapped = data, carry is None and not isinstance(data, dict)
        if wrapped:
            data = {"input": data}
        ctx = RunContext(
            plan=plan,
            workflow_input=carry["input"] if carry is not None else data,
            walk=self._walk,
            signals=self.early_signals,
            search_attributes=binding.search_attributes,
            pin=pin,
            raw_input=raw_input if wrapped else None,
            input_wrapped=wrapped,
        )
        self.ctx = ctx
        start = plan.root.start
        if carry is not None:
            data, start = _restore(ctx, carry)
        elif rerun is not None:
            data, start = rerun.data, rerun.state
        if carry is None and binding.search_attributes:
            workflow.upsert_search_attributes(
                [SA_DEFINITION.value_set(plan.name), SA_VERSION.value_set(plan.version)]
            )
        try:
            result = await self._walk(plan.root, data, start)
            check_output_size(result, ctx.done[-1] if ctx.done else plan.root.start, "result")
        except NexusError as err:
            ctx.status = "compensating" if ctx.compensations else "failed"
            await self._compensate(ctx, err)
            observe_failure(ctx, err)
            ctx.status = "failed"
            self._details(f"**Failed** in `{err.state}`: {err.type}: {err.message}")
            raise ApplicationError(
                str(err), _failure_details(err, ctx), type=err.type, non_retryable=True
            ) from None
        ctx.status = "succeeded"
        self._details("**Succeeded**")
        return result

    async def _resolve(self, reference: str) -> Pin:
        try:
            return await workflow.execute_local_activity(
                RESOLVE_ACTIVITY,
                reference,
                result_type=Pin,
                start_to_close_timeout=timedelta(seconds=10),
            )
        except Exception as exc:
            # The activity's ApplicationError (its message without the "Type: " prefix that
            # str() adds), however deep the SDK wraps it.
            cause: BaseException | None = exc
            while cause is not None and not isinstance(cause, ApplicationError):
                cause = cause.__cause__
            reason = cause.message if isinstance(cause, ApplicationError) else str(exc)
            # Query-only state (no command): nexus_state says "failed", not "starting".
            self.start_status = "failed"
            raise ApplicationError(
                f"cannot start '{reference}': {reason}",
                type="UnknownDefinition",
                non_retryable=True,
            ) from None

    async def _run_shard(self, binding: Binding, raw: Any) -> dict[str, Any]:
        """A child running one range of a parent's map state."""
        job, plan, state = _shard_job(binding, raw)
        ctx = RunContext(
            plan=plan,
            workflow_input=job.data,
            walk=self._walk,
            signals=self.early_signals,
            search_attributes=False,
        )
        self.ctx = ctx
        ctx.current.append(job.state)
        self._details(f"**Map** `{job.state}`: items {job.start}..{job.end - 1}")
        try:
            summary = await run_range(state, job, ctx)
        except NexusError as err:
            raise ApplicationError(
                str(err), err.to_data(), type=err.type, non_retryable=True
            ) from None
        return asdict(summary)

    async def _walk(self, scope: Scope, data: Any, start: str | None = None) -> Any:
        ctx = self.ctx
        assert ctx is not None
        name: str | None = start or scope.start
        first = True
        while name is not None:
            if scope.id == "" and not first:
                self._maybe_continue_as_new(ctx, data, name)
            first = False
            state = scope.states[name]
            ctx.visits[name] = ctx.visits.get(name, 0) + 1
            ctx.current.append(name)
            ctx.trail.append(name)
            self._entered(ctx, name)
            self._reached(scope, name, data)
            try:
                with observe_state(ctx, scope.id, state):
                    outcome = await HANDLERS[state.type](state, data, ctx)
                data, name = outcome.data, outcome.next
            except NexusError as err:
                rule = next(
                    (c for c in getattr(state, "catch", ()) if matches(c.errors, err.type)), None
                )
                if rule is None:
                    raise
                data = dict(data) if isinstance(data, dict) else {"input": data}
                data[rule.as_] = err.to_data()
                name = rule.next
            finally:
                ctx.current.remove(state.name)
            ctx.done.append(state.name)
        return data

    def _maybe_continue_as_new(self, ctx: RunContext, data: Any, next_state: str) -> None:
        """Between two top-level states, hand over to a fresh run before history grows big.

        The new run gets the same pin, data, progress and pending compensations, so the user
        sees one logical execution under the same workflow id.
        """
        info = workflow.info()
        limit = ctx.plan.definition.defaults.history_limit
        if not (info.is_continue_as_new_suggested() or info.get_current_history_length() >= limit):
            return
        assert ctx.pin is not None
        carry = ctx.carry(data, next_state)
        check_output_size(carry, next_state, "data carried over continue-as-new before")
        workflow.continue_as_new({CONTINUE_KEY: carry})

    def _entered(self, ctx: RunContext, name: str) -> None:
        if ctx.search_attributes:
            workflow.upsert_search_attributes([SA_STATE.value_set(name)])
        self._details(f"**State:** `{name}`  \n**Done:** {len(ctx.done)} states")

    def _reached(self, scope: Scope, name: str, data: Any) -> None:
        """A state is entered with ``data`` (nothing here; ``nexus rerun``'s replay reads it)."""

    def _details(self, text: str) -> None:
        workflow.set_current_details(text)

    async def _compensate(self, ctx: RunContext, err: NexusError) -> None:
        failed: list[str] = []
        # A redriven run: what its earlier runs undid is not undone twice (interpreters/redrive.py).
        earlier = await earlier_compensations() if ctx.compensations else set()
        while ctx.compensations:
            comp = ctx.compensations.pop()
            record: dict[str, Any] = {"state": comp.state, "action": comp.action}
            if comp.key in earlier:
                record["status"] = EARLIER
                ctx.compensation_results.append(record)
                continue
            self._details(f"**Compensating** `{comp.state}` with `{comp.action}`")
            try:
                await run_compensation(ctx, comp, f"compensate {comp.state}")
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
            # Before the definition is resolved (or when it is unknown): the same keys as
            # RunContext.snapshot, every list a list.
            return {
                "definition": None,
                "version": None,
                "hash": None,
                "status": getattr(self, "start_status", "starting"),
                "current": [],
                "done": [],
                "trail": [],
                "trail_dropped": 0,
                "pending_compensations": [],
                "compensations": [],
                "maps": {},
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


def _invalid_shard(why: str) -> ApplicationError:
    return ApplicationError(
        f"'{SHARD_TYPE}' runs one range of a NEXUS map state, as a child of the execution "
        f"that runs the map; {why}",
        type="InvalidShard",
        non_retryable=True,
    )


def _shard_job(binding: Binding, raw: Any) -> tuple[MapJob, Plan, MapState]:
    """The range a shard runs, checked against its parent and the pinned plan.

    Shards start only as children of a NEXUS execution (whose workflow id prefixes theirs)
    and read their items from the plan's ``item_source``, never from the input: a starter who
    sends this type directly cannot make a worker read a file (docs/security.md)."""
    info = workflow.info()
    parent = info.parent
    if parent is None:
        raise _invalid_shard("it cannot be started directly")
    root = info.root.workflow_id if info.root is not None else None
    try:
        job = MapJob(**raw)
    except TypeError:
        raise _invalid_shard("its input is not a map range") from None
    if not info.workflow_id.startswith(f"{parent.workflow_id}/") or (
        job.root_id != (root or job.root_id) or not parent.workflow_id.startswith(job.root_id)
    ):
        raise _invalid_shard("its workflow id does not continue its parent's")
    plan = _plan(binding.registry, job.pin, f"the map '{job.state}'")
    try:
        state = plan.state(job.state)
    except KeyError:
        state = None
    if not isinstance(state, MapState):
        raise _invalid_shard(f"the definition has no map state '{job.state}'")
    if not (0 <= job.start <= job.end <= job.total):
        raise _invalid_shard("its item range is not within the map")
    job.source = source_of(state)
    if job.source is None and job.items is None:
        raise _invalid_shard("it has no items")
    return job, plan, state


def _invalid_carry(why: str) -> ApplicationError:
    return ApplicationError(
        f"this run cannot continue: its continue-as-new state {why}",
        type="InvalidContinuation",
        non_retryable=True,
    )


def _carry(data: Any) -> dict[str, Any] | None:
    """The continue-as-new state of this run, if it really continues one of ours.

    The input key is internal state: only a run that Temporal records as continuing the run
    named in the carry may use it (a starter cannot know a run id before the server assigns
    it; cron and retry runs repeat their first input and fail the check). A fresh start whose
    input holds the key is refused, so no one can choose the start state or compensations
    (docs/security.md)."""
    if not isinstance(data, dict) or CONTINUE_KEY not in data:
        return None
    info = workflow.info()
    if info.continued_run_id is None:
        raise ApplicationError(
            f"the input key '{CONTINUE_KEY}' is reserved for NEXUS's own continue-as-new "
            "state and cannot be given at start; rename the key",
            type="InvalidInput",
            non_retryable=True,
        )
    carry = data[CONTINUE_KEY]
    if not isinstance(carry, dict):
        raise _invalid_carry("is not an object")
    if "data" not in carry or "input" not in carry:
        raise _invalid_carry("has no data")
    origin = carry.get("from_run")
    if origin is None:
        # Carried by a worker from before the run check: a run that continues another, not a
        # retry or cron repeat of a first input.
        if info.attempt > 1 or info.cron_schedule:
            raise _invalid_carry("was not written by the run this one continues")
    elif origin != info.continued_run_id:
        raise _invalid_carry("was not written by the run this one continues")
    return carry


def _carried_pin(carry: dict[str, Any]) -> Pin:
    raw = carry.get("pin")
    if not isinstance(raw, dict) or not all(
        isinstance(raw.get(k), str) for k in ("name", "version", "hash")
    ):
        raise _invalid_carry("has no valid pin")
    return Pin(raw["name"], raw["version"], raw["hash"])


def _restore(ctx: RunContext, carry: dict[str, Any]) -> tuple[Any, str]:
    """The data and the state a continued run goes on with, checked against the plan."""
    start = carry.get("state")
    if not isinstance(start, str) or start not in ctx.plan.root.states:
        raise _invalid_carry(f"names a start state the definition does not have ({start!r})")
    try:
        ctx.restore(carry)
    except (ValueError, TypeError) as exc:
        raise _invalid_carry(f"does not fit the pinned definition: {exc}") from None
    return carry["data"], start


def _failure_details(err: NexusError, ctx: RunContext) -> dict[str, Any]:
    return {
        "state": err.state,
        "type": err.type,
        "message": err.message,
        "details": err.details,
        "compensations": ctx.compensation_results,
    }
