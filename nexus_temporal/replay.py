"""Replay recorded histories against the current interpreter and a set of definitions.

A history replays cleanly when the interpreter, given the definition the execution pinned,
makes exactly the decisions history recorded. Temporal's replayer checks the kind of each
command; but every NEXUS task schedules the same activity type (``nexus.invoke``), so two
swapped tasks would pass that check and hand one state's result to the other. The replay here
therefore also compares, decision by decision, the states entered and the functions, local
actions and child workflows started, and explains the first difference in words.

``candidates=True`` (what ``nexus replay`` does) lets the given definitions stand in for the
pinned one: the same content, a definition that declares ``replaces`` for it, a changed content
under the same ``name@version``, or else the latest version of the same name. The report says
which, and what a worker would do with the execution (docs/versioning.md).
"""

from __future__ import annotations

import re
import uuid
from collections.abc import AsyncIterator, Collection, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from temporalio import workflow
from temporalio.client import WorkflowHistory
from temporalio.common import RawValue
from temporalio.worker import (
    Interceptor,
    Replayer,
    StartActivityInput,
    StartChildWorkflowInput,
    StartLocalActivityInput,
    WorkflowInboundInterceptor,
    WorkflowInterceptorClassInput,
    WorkflowOutboundInterceptor,
)

from interpreters.context import RunContext
from interpreters.workflow import NexusWorkflow, bind, unbind
from nexus_temporal.dsl.plan import Plan
from nexus_temporal.errors import NexusTemporalError
from nexus_temporal.history import (
    PinnedDefinition,
    Step,
    has_state_entries,
    pinned_definition,
    recorded_steps,
    state_at,
)
from nexus_temporal.history import load_history as load_history
from nexus_temporal.protocol import INVOKE_ACTIVITY, RESOLVE_ACTIVITY, InvokeRequest
from nexus_temporal.registry import Registry, UnknownDefinition
from nexus_temporal.replay_data import (
    ERROR,
    DataRunner,
    Finding,
    Replayed,
    compare,
    note_command,
    note_result,
    take,
)

REPLAY_NAMESPACE = "ReplayNamespace"

#: How the definition a history was replayed with relates to the one it pinned.
UNCHANGED = "unchanged"  # the pinned content itself
REPLACES = "replaces"  # a definition that declares `replaces` for the pinned content
CHANGED = "changed-in-place"  # other content under the same name@version
NEW_VERSION = "new-version"  # the latest other version of the same name


class NoCandidate(NexusTemporalError, LookupError):
    """A history pinned a definition none of the given definitions can stand in for."""


@dataclass
class ReplayReport:
    """The verdict for one execution.

    ``state``: the state the execution was in where the definition diverges from history;
    ``problem``: why, in words; ``change``: how the replayed definition relates to the pinned
    one (``unchanged``, ``replaces``, ``changed-in-place``, ``new-version``); ``note``: what a
    worker serving these definitions would do with this execution.
    """

    workflow_id: str
    ok: bool
    problem: str | None = None
    run_id: str = ""
    state: str | None = None
    event_id: int | None = None
    pinned: PinnedDefinition | None = None
    candidate: str | None = None
    change: str = UNCHANGED
    note: str | None = None
    source: str | None = None
    #: Data differences (nexus_temporal.replay_data): errors make the execution incompatible.
    findings: list[Finding] = field(default_factory=list)

    def render(self) -> str:
        """One line for people: ``ID: compatible`` or ``ID: INCOMPATIBLE at state 'X': ...``."""
        where = f" (pinned {self.pinned.label}" if self.pinned else " (no definition pinned yet"
        if self.candidate and self.change != UNCHANGED:
            where += f"; replayed with {self.candidate}, {self.change}"
        where += ")"
        warnings = sum(1 for f in self.findings if f.severity != ERROR)
        if self.ok:
            verdict = "compatible" + (f" ({warnings} warning(s))" if warnings else "")
        elif (self.problem or "").startswith("DATA CHANGED"):
            verdict = f"INCOMPATIBLE: {self.problem}"
        elif self.state:
            verdict = f"INCOMPATIBLE at state '{self.state}': {self.problem}"
        else:
            verdict = f"INCOMPATIBLE: {self.problem}"
        line = f"{self.workflow_id}{where}: {verdict}"
        for finding in self.findings:
            if finding.message != self.problem:
                kind = "" if finding.severity == ERROR else "warning: "
                line += f"\n  {kind}{finding.message}"
        return line + (f"\n  note: {self.note}" if self.note else "")

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["compatible"] = data.pop("ok")
        return data


# --- recording what the interpreter decides during a replay ---------------------------------

#: Steps a replay made, by (namespace, run id). The replayed workflow is not sandboxed, so it
#: shares this module with the code that reads the steps once the replay is over.
_STEPS: dict[tuple[str, str], list[Step]] = {}


def _record(step: Step) -> None:
    info = workflow.info()
    key = (info.namespace, info.run_id)
    steps = _STEPS.setdefault(key, [])
    steps.append(Step(step.kind, step.state, step.label, step.what, step.function, 0, len(steps)))


def _state_of(summary: str | None) -> str | None:
    if summary is None:
        return None
    text = summary.removeprefix("compensate ")
    return re.split(r" \(fallback |: items ", text, maxsplit=1)[0]


class _Outbound(WorkflowOutboundInterceptor):
    def start_activity(self, input: StartActivityInput) -> Any:
        state, function = _state_of(input.summary), None
        request = input.args[0] if input.args else None
        if input.activity == INVOKE_ACTIVITY and isinstance(request, InvokeRequest):
            state, function = request.state or state, request.function
        _record(Step("activity", state, input.summary, input.activity, function))
        note_command("activity", input.summary, input.activity, input.args)
        return super().start_activity(input)

    def start_local_activity(self, input: StartLocalActivityInput) -> Any:
        if input.activity != RESOLVE_ACTIVITY:
            _record(Step("local", _state_of(input.summary), input.summary, input.activity))
        return super().start_local_activity(input)

    async def start_child_workflow(self, input: StartChildWorkflowInput) -> Any:
        summary = input.static_summary
        _record(Step("child", _state_of(summary), summary, input.workflow))
        note_command("child", summary, input.workflow, input.args)
        return await super().start_child_workflow(input)


class _Inbound(WorkflowInboundInterceptor):
    def init(self, outbound: WorkflowOutboundInterceptor) -> None:
        super().init(_Outbound(outbound))


class _StepRecorder(Interceptor):
    def workflow_interceptor_class(
        self, input: WorkflowInterceptorClassInput
    ) -> type[WorkflowInboundInterceptor] | None:
        return _Inbound


@workflow.defn(dynamic=True, sandboxed=False)
class _RecordingWorkflow(NexusWorkflow):
    """The generic workflow, also noting each state it enters (replays only)."""

    @workflow.run
    async def run(self, args: Sequence[RawValue]) -> Any:
        result = await super().run(args)
        note_result(result)
        return result

    def _entered(self, ctx: RunContext, name: str) -> None:
        _record(Step("enter", name))
        super()._entered(ctx, name)


# --- choosing the definition a history replays with ------------------------------------------


@dataclass
class _Choice:
    plan: Plan
    change: str


def choose_candidate(pin: PinnedDefinition, registry: Registry) -> _Choice:
    """The definition in ``registry`` that stands in for ``pin`` (see the module docstring)."""
    found = registry.by_hash(pin.hash)
    if found is not None:
        return _Choice(found, UNCHANGED if found.hash == pin.hash else REPLACES)
    if not pin.name:
        raise NoCandidate(
            f"no definition given has the content hash {pin.hash[:12]} this map shard runs"
        )
    try:
        return _Choice(registry.resolve(f"{pin.name}@{pin.version}"), CHANGED)
    except UnknownDefinition:
        pass
    try:
        return _Choice(registry.resolve(pin.name), NEW_VERSION)
    except UnknownDefinition:
        given = ", ".join(sorted({f"{p.name}@{p.version}" for p in registry.plans})) or "none"
        raise NoCandidate(
            f"it pinned '{pin.name}@{pin.version}', but no definition given is named "
            f"'{pin.name}' (given: {given})"
        ) from None


class _CandidateRegistry(Registry):
    """A registry where chosen candidates answer for the hashes executions pinned."""

    def __init__(self, base: Registry, overrides: dict[str, Plan]) -> None:
        super().__init__()
        self._base = base
        self._overrides = overrides

    def by_hash(self, content_hash: str) -> Plan | None:
        return self._overrides.get(content_hash) or self._base.by_hash(content_hash)

    def resolve(self, reference: str) -> Plan:
        return self._base.resolve(reference)

    @property
    def plans(self) -> list[Plan]:
        return self._base.plans


def _note(report: ReplayReport, choice: _Choice | None) -> str | None:
    pin = report.pinned
    if pin is None or choice is None or choice.change == UNCHANGED:
        return None
    short = pin.hash[:12]
    cand = f"{choice.plan.name}@{choice.plan.version}"
    if choice.change == REPLACES:
        return (
            f"{cand} declares `replaces` for the pinned content: workers run this execution on it"
        )
    if choice.change == CHANGED:
        if report.ok:
            return (
                f"the content of {cand} changed: as is, workers refuse it for this execution, "
                f'which waits for the pinned content; add `replaces: ["{short}"]` to the '
                "definition to let it take over, or give the change a new version"
            )
        return (
            f"the content of {cand} changed in a way this execution cannot follow: give the "
            f"change a new version and keep {pin.name}@{pin.version} ({short}) deployed while "
            "executions of it run"
        )
    if report.ok:
        return (
            f"the execution keeps {pin.name}@{pin.version}: keep its file deployed while it runs, "
            f'or add `replaces: ["{short}"]` to {cand} to move it there'
        )
    return (
        f"the execution cannot move to {cand}: keep {pin.name}@{pin.version} ({short}) "
        "deployed while executions of it run"
    )


# --- comparing -------------------------------------------------------------------------------

_VERB = {
    "activity": ("scheduled", "schedules"),
    "local": ("ran", "runs"),
    "child": ("started", "starts"),
}


def _explain(recorded: Step, replayed: Step | None) -> str:
    if recorded.kind == "enter":
        if replayed is None:
            return (
                f"the execution entered '{recorded.state}' at event {recorded.event_id}, but "
                "the definition no longer gets there"
            )
        return (
            f"the execution entered '{recorded.state}' at event {recorded.event_id}, but the "
            f"definition now enters '{replayed.state}' at that point"
        )
    past, present = _VERB[recorded.kind]
    if replayed is None:
        return (
            f"history {past} {recorded.describe()} at event {recorded.event_id}, but the "
            "definition no longer does"
        )
    if replayed.kind != recorded.kind:
        present = _VERB.get(replayed.kind, ("", "enters"))[1]
    return (
        f"history {past} {recorded.describe()} at event {recorded.event_id}, but the "
        f"definition now {present} {replayed.describe()}"
    )


def divergences(
    recorded: Sequence[Step], replayed: Sequence[Step], stopped_early: bool
) -> list[tuple[Step, Step | None]]:
    """The first difference of each kind of decision, earliest in history first.

    Each kind is compared in the order Temporal matches it (history order; local activities by
    their sequence number). Decisions the replay made past the end of history are new work, not
    a difference. ``stopped_early``: the replay failed, so missing decisions are not reported.
    """
    found: list[tuple[Step, Step | None]] = []
    kinds = ["activity", "local", "child"]
    if has_state_entries(recorded):
        kinds.insert(0, "enter")
    for kind in kinds:
        mine = sorted((s for s in recorded if s.kind == kind), key=lambda s: s.order)
        theirs = [s for s in replayed if s.kind == kind]
        for i, step in enumerate(mine):
            other = theirs[i] if i < len(theirs) else None
            if other is None and stopped_early:
                break
            if other is None or not step.same_as(other):
                found.append((step, other))
                break
    return sorted(found, key=lambda pair: pair[0].event_id)


_MESSAGE = re.compile(r'message: "((?:[^"\\]|\\.)*)"')
_EVENT_ID = re.compile(r"(?:HistoryEvent\(id: |event[ _]?id\W{0,3})(\d+)", re.IGNORECASE)
_MACHINE = re.compile(r"(\w+) machine does not handle")
#: What the definition now does, by the name of the core state machine that refused an event.
_MACHINES = {
    "Timer": "starts a timer (a wait)",
    "Activity": "schedules an action",
    "LocalActivity": "runs a local action",
    "ChildWorkflow": "starts a child workflow",
    "CompleteWorkflow": "completes the workflow",
    "FailWorkflow": "fails the workflow",
    "ContinueAsNew": "continues as new",
    "CancelWorkflow": "cancels the workflow",
    "UpsertSearchAttributes": "enters a state",
    "SignalExternal": "signals another workflow",
}


def _failure_text(failure: Exception) -> str:
    text = str(failure).strip() or type(failure).__name__
    cause = failure.__cause__
    if cause is not None and str(cause) and str(cause) not in text:
        text += f": {cause}"
    inner = _MESSAGE.search(text)
    return inner.group(1) if inner else text


def _judge(
    history: WorkflowHistory, failure: Exception | None, replayed: Sequence[Step]
) -> tuple[str | None, str | None, int | None]:
    """(problem, state, event id) for one replayed history; all None when compatible."""
    recorded = recorded_steps(history)
    found = divergences(recorded, replayed, stopped_early=failure is not None)
    if found:
        first, other = found[0]
        reasons = [_explain(first, other)]
        if len(found) > 1:
            reasons.append("then " + _explain(*found[1]))
        return "; ".join(reasons), first.state, first.event_id
    if failure is None:
        return None, None, None
    text = _failure_text(failure)
    match = _EVENT_ID.search(text)
    event_id = int(match.group(1)) if match else None
    state = state_at(recorded, event_id) if event_id is not None else None
    if state is None and recorded:
        state = state_at(recorded, max(s.event_id for s in recorded))
    if "nondetermin" not in text.lower():
        return f"the definition cannot continue this execution: {text}", state, event_id
    step = next((s for s in recorded if s.event_id == event_id), None)
    machine = _MACHINE.search(text)
    now = _MACHINES.get(machine.group(1), "") if machine else ""
    if step is not None and step.kind != "enter":
        past = _VERB[step.kind][0]
        problem = (
            f"history {past} {step.describe()} at event {event_id}, but the definition now "
            f"{now or 'does something else'} there"
        )
    elif event_id is not None:
        problem = (
            f"at event {event_id} the definition now {now or 'does something else'}, not what "
            "history recorded"
        )
    else:
        problem = "the definition now issues different commands than history recorded"
    return f"{problem} (Temporal: {text})", state, event_id


async def replay(
    histories: Sequence[WorkflowHistory],
    registry: Registry,
    *,
    candidates: bool = False,
    sources: Sequence[str | None] | None = None,
    allow_data_changes: Collection[str] = (),
    data_changes: str = ERROR,
) -> list[ReplayReport]:
    """Replay each history; never raises for an incompatible history, reports it instead.

    ``candidates``: let ``registry`` stand in for the definition each history pinned (raises
    :class:`NoCandidate` when nothing in it can). Without it, a history whose pinned content is
    not in ``registry`` fails as it would on a worker. A command whose input differs from
    history's makes the execution incompatible unless its state is in ``allow_data_changes``
    or ``data_changes`` is ``"warning"`` (then it is a warning; nexus_temporal.replay_data).
    """
    pins = [pinned_definition(h) for h in histories]
    choices: list[_Choice | None] = []
    overrides: dict[str, Plan] = {}
    for history, pin in zip(histories, pins, strict=True):
        choice = None
        if candidates and pin is not None:
            try:
                choice = choose_candidate(pin, registry)
            except NoCandidate as exc:
                raise NoCandidate(f"history of '{history.workflow_id}': {exc}") from None
            overrides[pin.hash] = choice.plan
        choices.append(choice)
    serving: Registry = _CandidateRegistry(registry, overrides) if overrides else registry

    # Replay with search attributes exactly when the original worker upserted them; the same
    # run given twice (e.g. exported two ways) replays in another batch, as results are by run.
    groups: dict[tuple[bool, int], list[int]] = {}
    seen: dict[str, int] = {}
    for i, history in enumerate(histories):
        repeat = seen[history.run_id] = seen.get(history.run_id, -1) + 1
        groups.setdefault((has_state_entries(recorded_steps(history)), repeat), []).append(i)
    failures: dict[int, Exception | None] = {}
    steps: dict[int, list[Step]] = {}
    data: dict[int, Replayed] = {}
    for (with_attributes, _), indexes in groups.items():
        namespace = f"{REPLAY_NAMESPACE}-{uuid.uuid4().hex[:8]}"  # one registry per replay
        bind(namespace, "*", serving, search_attributes=with_attributes)
        replayer = Replayer(
            workflows=[_RecordingWorkflow],
            namespace=namespace,
            interceptors=[_StepRecorder()],
            unsandboxed_workflow_runner=DataRunner(),
        )
        batch = [histories[i] for i in indexes]

        async def each(items: list[WorkflowHistory] = batch) -> AsyncIterator[WorkflowHistory]:
            for item in items:
                yield item

        try:
            results = await replayer.replay_workflows(each(), raise_on_replay_failure=False)
        finally:
            unbind(namespace, "*")
        for i in indexes:
            run_id = histories[i].run_id
            failures[i] = results.replay_failures.get(run_id)
            steps[i] = _STEPS.pop((namespace, run_id), [])
            data[i] = take(namespace, run_id)
    reports = []
    for i, history in enumerate(histories):
        problem, state, event_id = _judge(history, failures[i], steps[i])
        findings = compare(
            history,
            data[i],
            allow=allow_data_changes,
            warn=data_changes != ERROR,
            last_state=next((s.state for s in reversed(steps[i]) if s.kind == "enter"), None),
        )
        bad = next((f for f in findings if f.severity == ERROR), None)
        if problem is None and bad is not None:
            problem, state, event_id = bad.message, bad.state, bad.event_id
        choice = choices[i]
        report = ReplayReport(
            workflow_id=history.workflow_id,
            ok=problem is None,
            problem=problem,
            run_id=history.run_id,
            state=state,
            event_id=event_id,
            pinned=pins[i],
            candidate=(
                f"{choice.plan.name}@{choice.plan.version} ({choice.plan.hash[:12]})"
                if choice
                else None
            ),
            change=choice.change if choice else UNCHANGED,
            source=(sources[i] if sources else None),
            findings=findings,
        )
        report.note = _note(report, choice)
        reports.append(report)
    return reports


__all__ = [
    "CHANGED",
    "NEW_VERSION",
    "REPLACES",
    "UNCHANGED",
    "NoCandidate",
    "ReplayReport",
    "choose_candidate",
    "divergences",
    "load_history",
    "replay",
]
