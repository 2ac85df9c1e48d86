"""The data half of ``nexus replay``: the inputs a definition gives its commands now, compared
with the inputs history recorded.

Temporal's replayer checks the kind and order of commands, and :mod:`nexus_temporal.replay`
the states and functions; neither looks at the data. Renaming an ``assign`` key that a later
compensation reads, or editing a task's ``input`` expression, passes both, yet a running
execution would then call ``release`` with ``{}``. During a replay this module notes, for every
activity, child workflow and timer the definition starts, its input (the payloads decoded to
JSON values, as history stores them) and, when the run completes, its result; after the replay
:func:`compare` matches them with history's, kind by kind in history order, and turns each
difference into a :class:`Finding`:

- ``DATA CHANGED at state S: <field>: recorded <a> / now <b>``: an error (the execution is
  incompatible) unless the user declared the state's change safe (then a warning);
- ``result would differ``: the recomputed output of a completed execution; a warning, as
  completed executions never run again.

Local activities (``mode: express``) record no input in history: their inputs cannot be
compared (their order, functions and states still are). A payload that is not JSON (an
encrypted history replayed without its codec keys) is not compared either.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from typing import Any

from temporalio import workflow
from temporalio.api.common.v1 import Payload
from temporalio.api.enums.v1 import EventType
from temporalio.client import WorkflowHistory
from temporalio.worker import UnsandboxedWorkflowRunner, WorkflowInstance, WorkflowInstanceDetails
from temporalio.worker._workflow_instance import _WorkflowInstanceImpl

from nexus_temporal.protocol import INVOKE_ACTIVITY

ERROR = "error"
WARNING = "warning"

#: Request fields a replay compares as the path (nexus_temporal.replay), not as data.
_PATH_FIELDS = frozenset({"function", "state"})


def is_invoke(activity_type: str) -> bool:
    """Whether an activity type is a NEXUS function call (``nexus.invoke`` or a per-function
    ``nexus.invoke:<fn>``)."""
    return activity_type == INVOKE_ACTIVITY or activity_type.startswith(INVOKE_ACTIVITY + ":")


class _Absent:
    def __repr__(self) -> str:
        return "(absent)"


#: A key one side has and the other has not.
ABSENT: Any = _Absent()
#: A payload this module cannot read (not JSON: e.g. still encrypted).
_OPAQUE: Any = object()


@dataclass(frozen=True)
class Command:
    """One command with its data: ``kind`` ``activity``, ``child`` or ``timer``; ``label`` the
    summary the UI shows (``X``, ``compensate X``, ``X timeout``...); ``what`` the activity or
    child workflow type; ``value`` the decoded input (seconds for a timer)."""

    kind: str
    label: str | None
    what: str | None
    value: Any
    event_id: int = 0


@dataclass
class Replayed:
    """What one replayed run did: its commands in issue order and, if it completed, its result."""

    commands: list[Command] = field(default_factory=list)
    result: Any = ABSENT


@dataclass(frozen=True)
class Finding:
    """One data difference between history and the definition now.

    ``kind``: ``data`` (a command's input) or ``result`` (a completed execution's output);
    ``field``: where in the input (``input.reservation``, ``compensation.input``, ``timeout``,
    ``result.total``); ``recorded``/``now``: the two values (None where absent);
    ``severity``: ``error`` (incompatible) or ``warning``; ``message``: the line people read.
    """

    kind: str
    state: str | None
    event_id: int | None
    field: str
    recorded: Any
    now: Any
    severity: str
    message: str


# --- noting what a replay does (called in workflow context by nexus_temporal.replay) ----------

_RUNS: dict[tuple[str, str], Replayed] = {}


def _run() -> Replayed:
    info = workflow.info()
    return _RUNS.setdefault((info.namespace, info.run_id), Replayed())


def _decoded(payload: Payload) -> Any:
    encoding = payload.metadata.get("encoding", b"")
    if encoding == b"binary/null":
        return None
    if encoding != b"json/plain":
        return _OPAQUE
    try:
        return json.loads(payload.data)
    except (ValueError, UnicodeDecodeError):
        return _OPAQUE


def _values(payloads: Sequence[Payload]) -> Any:
    values = [_decoded(p) for p in payloads]
    if any(v is _OPAQUE for v in values):
        return _OPAQUE
    return values[0] if len(values) == 1 else values


def note_command(kind: str, label: str | None, what: str | None, args: Sequence[Any]) -> None:
    """Note a command the replayed definition starts, with its arguments as JSON values."""
    payloads = workflow.payload_converter().to_payloads(args) if args else []
    _run().commands.append(Command(kind, label, what, _values(payloads) if payloads else None))


def note_result(result: Any) -> None:
    """Note the result the replayed definition completes with."""
    _run().result = _values([workflow.payload_converter().to_payload(result)])


def take(namespace: str, run_id: str) -> Replayed:
    """What the run replayed in ``namespace`` did (forgotten here once taken)."""
    return _RUNS.pop((namespace, run_id), None) or Replayed()


class _TimerNotingInstance(_WorkflowInstanceImpl):  # type: ignore[misc]
    """The SDK's workflow instance, noting each timer it starts (workflow code has no timer
    interceptor; every ``workflow.sleep`` and wait timeout comes through here)."""

    def _timer_impl(self, delay: float, options: Any, callback: Any, *args: Any, **kw: Any) -> Any:
        handle = super()._timer_impl(delay, options, callback, *args, **kw)
        meta = getattr(options, "user_metadata", None)
        summary = _decoded(meta.summary) if meta is not None and meta.HasField("summary") else None
        label = summary if isinstance(summary, str) else None
        _run().commands.append(Command("timer", label, None, float(delay)))
        return handle


class DataRunner(UnsandboxedWorkflowRunner):
    """The unsandboxed runner, with instances that note their timers (replays only)."""

    def create_instance(self, det: WorkflowInstanceDetails) -> WorkflowInstance:
        return _TimerNotingInstance(det)  # type: ignore[abstract]


# --- what history recorded ---------------------------------------------------------------------


def _summary(event: Any) -> str | None:
    if event.HasField("user_metadata") and event.user_metadata.HasField("summary"):
        value = _decoded(event.user_metadata.summary)
        return value if isinstance(value, str) else None
    return None


def recorded(history: WorkflowHistory) -> tuple[list[Command], Any, int | None]:
    """History's commands with their inputs, its result (ABSENT unless it completed) and the
    completion's event id."""
    commands: list[Command] = []
    result: Any = ABSENT
    completed: int | None = None
    for event in history.events:
        eid = int(event.event_id)
        if event.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED:
            attrs = event.activity_task_scheduled_event_attributes
            value = _values(attrs.input.payloads) if attrs.input.payloads else None
            commands.append(
                Command("activity", _summary(event), attrs.activity_type.name, value, eid)
            )
        elif event.event_type == EventType.EVENT_TYPE_START_CHILD_WORKFLOW_EXECUTION_INITIATED:
            child = event.start_child_workflow_execution_initiated_event_attributes
            value = _values(child.input.payloads) if child.input.payloads else None
            commands.append(Command("child", _summary(event), child.workflow_type.name, value, eid))
        elif event.event_type == EventType.EVENT_TYPE_TIMER_STARTED:
            timer = event.timer_started_event_attributes
            seconds = timer.start_to_fire_timeout.ToTimedelta().total_seconds()
            commands.append(Command("timer", _summary(event), None, seconds, eid))
        elif event.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED:
            payloads = event.workflow_execution_completed_event_attributes.result.payloads
            result = _values(payloads) if payloads else None
            completed = eid
    return commands, result, completed


# --- comparing ---------------------------------------------------------------------------------


def _same_value(a: Any, b: Any) -> bool:
    if a is ABSENT or b is ABSENT:
        return a is b
    return json.dumps(a, sort_keys=True) == json.dumps(b, sort_keys=True)


def differences(a: Any, b: Any, path: str, limit: int = 3) -> list[tuple[str, Any, Any]]:
    """The leaves where ``a`` and ``b`` (JSON values) differ: ``(path, a's, b's)``, at most
    ``limit``; a key only one side has is ABSENT on the other."""
    out: list[tuple[str, Any, Any]] = []

    def walk(x: Any, y: Any, where: str) -> None:
        if len(out) >= limit:
            return
        if isinstance(x, dict) and isinstance(y, dict):
            for key in sorted(set(x) | set(y), key=str):
                walk(x.get(key, ABSENT), y.get(key, ABSENT), f"{where}.{key}" if where else key)
        elif isinstance(x, list) and isinstance(y, list) and len(x) == len(y):
            for i, (xi, yi) in enumerate(zip(x, y, strict=True)):
                walk(xi, yi, f"{where}[{i}]")
        elif not _same_value(x, y):
            out.append((where or "value", x, y))

    walk(a, b, path)
    return out


def short(value: Any, width: int = 48) -> str:
    """A value for one line: JSON, cut to ``width`` characters."""
    if value is ABSENT:
        return "(absent)"
    text = json.dumps(value, separators=(",", ":"), sort_keys=True, default=str)
    return text if len(text) <= width else text[: width - 1] + "…"


def _state_of(label: str | None) -> str | None:
    if label is None:
        return None
    text = label.removeprefix("compensate ").removesuffix(" timeout")
    for cut in (" (fallback ", ": items ", " ("):
        text = text.split(cut, 1)[0]
    return text


def _same_command(a: Command, b: Command) -> bool:
    if a.label != b.label:
        return False
    return (is_invoke(a.what or "") and is_invoke(b.what or "")) or a.what == b.what


def _command_differences(old: Command, new: Command) -> list[tuple[str, Any, Any]]:
    """The differing fields of one command's data, named as people know them."""
    if old.kind == "timer":
        if abs(float(old.value) - float(new.value)) < 0.001:
            return []
        name = "timeout" if (old.label or "").endswith(" timeout") else "duration"
        return [(name, float(old.value), float(new.value))]
    prefix = "compensation.input" if (old.label or "").startswith("compensate ") else "input"
    a, b = old.value, new.value
    if is_invoke(old.what or "") and isinstance(a, dict) and isinstance(b, dict):
        found = differences(a.get("payload", ABSENT), b.get("payload", ABSENT), prefix)
        # A request field history lacks was added by a later release of the interpreter
        # (e.g. ``retry_policy``), not by the definition: it is not compared.
        for key in sorted(set(a) - _PATH_FIELDS - {"payload"}):
            found += differences(a[key], b.get(key, ABSENT), key, limit=1)
        return found
    return differences(a, b, prefix)


def _json(value: Any) -> Any:
    return None if value is ABSENT else value


def compare(
    history: WorkflowHistory,
    replayed: Replayed,
    *,
    allow: Collection[str] = (),
    warn: bool = False,
    last_state: str | None = None,
) -> list[Finding]:
    """Every data difference between ``history`` and what its replay did, in history order.

    ``allow``: states whose data changes the user declared safe, and ``warn``: all of them
    (both make those findings warnings). ``last_state``: the state a completed run ended in,
    named on a ``result would differ`` finding. Commands past the first one whose kind,
    label or type differs are not compared: the path comparison reports that divergence.
    """
    old_commands, old_result, completed = recorded(history)
    findings: list[Finding] = []
    for kind in ("activity", "child", "timer"):
        mine = [c for c in old_commands if c.kind == kind]
        theirs = [c for c in replayed.commands if c.kind == kind]
        for old, new in zip(mine, theirs, strict=False):
            if not _same_command(old, new):
                break
            if old.value is _OPAQUE or new.value is _OPAQUE:
                continue
            state = _state_of(old.label)
            safe = warn or (state is not None and state in allow)
            show = (lambda v: f"{v:g}s") if kind == "timer" else short
            for where, a, b in _command_differences(old, new):
                text = f"DATA CHANGED at state {state}: {where}: "
                text += f"recorded {show(a)} / now {show(b)}"
                if safe:
                    text += " (declared safe)"
                findings.append(
                    Finding(
                        "data",
                        state,
                        old.event_id,
                        where,
                        _json(a),
                        _json(b),
                        WARNING if safe else ERROR,
                        text,
                    )
                )
    if old_result is not ABSENT and old_result is not _OPAQUE and replayed.result is not ABSENT:
        if replayed.result is not _OPAQUE:
            for where, a, b in differences(old_result, replayed.result, "result"):
                findings.append(
                    Finding(
                        "result",
                        last_state,
                        completed,
                        where,
                        _json(a),
                        _json(b),
                        WARNING,
                        f"result would differ: {where}: recorded {short(a)} / now {short(b)} "
                        "(the execution completed: it does not run again)",
                    )
                )
    return sorted(findings, key=lambda f: f.event_id or 0)


__all__ = [
    "ERROR",
    "WARNING",
    "Command",
    "DataRunner",
    "Finding",
    "Replayed",
    "compare",
    "differences",
    "note_command",
    "note_result",
    "recorded",
    "short",
    "take",
]
