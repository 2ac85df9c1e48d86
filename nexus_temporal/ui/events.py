"""What each state of a NEXUS execution did, read from its history events (no I/O).

A run's history records every state the interpreter entered (``NexusState`` search-attribute
upserts), every function it called (``nexus.invoke`` or ``nexus.invoke:<function>``
activities, labelled with their state by their summary), its local activities (express
states), its child workflows (``workflow`` states and map shards) and how each ended. This
module turns the events of one logical execution (the runs of a continue-as-new chain, oldest
first) into :class:`Visit` and :class:`Call` records; :mod:`nexus_temporal.ui.model` derives
each state's status from them.

Payloads are read as JSON; they must be decrypted before (``nexus ui --codec-keys``), else
they show as ``{"encrypted": ...}``.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from temporalio.api.common.v1 import Payload
from temporalio.api.enums.v1 import EventType
from temporalio.api.failure.v1 import Failure
from temporalio.api.history.v1 import HistoryEvent

from nexus_temporal.protocol import INVOKE_ACTIVITY, RESOLVE_ACTIVITY, SHARD_TYPE

LOCAL_ACTIVITY_MARKER = "core_local_activity"
#: Summaries of a map's own work: ``X[3]`` (an item's action), ``X: items 0..99`` (a shard),
#: ``X: count items`` / ``X: read items 0..`` / ``X: store results 0..`` (its bookkeeping).
_ITEM = re.compile(r"^(?P<state>.+)\[(?P<index>\d+)\]$")
_MAP_WORK = re.compile(r"^(?P<state>.+?): (?P<what>items|count items|read items|store results)")
_ITEM_KEY = re.compile(r"/(?P<state>[^/]+)/(?P<index>\d+)(-\d+)?(/v\d+)?$")
_SHARD_RANGE = re.compile(r": items (\d+)\.\.(\d+)$")
_E = EventType


def is_invoke(activity_type: str) -> bool:
    """A NEXUS function call: ``nexus.invoke`` (one type for all) or ``nexus.invoke:<fn>``."""
    return activity_type == INVOKE_ACTIVITY or activity_type.startswith(INVOKE_ACTIVITY + ":")


def payload_value(payload: Payload) -> Any:
    """A payload as JSON data; an encrypted one as ``{"encrypted": "<key id>"}``."""
    encoding = payload.metadata.get("encoding", b"").decode(errors="replace")
    if encoding == "binary/null":
        return None
    if encoding.startswith("binary/encrypted"):
        key = payload.metadata.get("encryption-key-id", b"").decode(errors="replace")
        return {"encrypted": key or True}
    try:
        return json.loads(payload.data)
    except (ValueError, UnicodeDecodeError):
        return {"undecodable": encoding or "unknown encoding"}


def first_value(payloads: Any) -> Any:
    """The first payload of a ``Payloads`` message as JSON data (None when there is none)."""
    items = list(payloads.payloads) if payloads is not None else []
    return payload_value(items[0]) if items else None


def failure_value(failure: Failure) -> dict[str, Any]:
    """A failure as ``{type, message, details, cause}`` (the innermost application error
    wins the type: Temporal wraps an activity's error in ActivityError-like layers)."""
    message = failure.message
    if failure.HasField("encoded_attributes"):
        attrs = payload_value(failure.encoded_attributes)
        if isinstance(attrs, dict) and isinstance(attrs.get("message"), str):
            message = attrs["message"]
    out: dict[str, Any] = {"type": "", "message": message}
    if failure.HasField("application_failure_info"):
        info = failure.application_failure_info
        out["type"] = info.type
        if info.details.payloads:
            out["details"] = first_value(info.details)
    elif failure.HasField("timeout_failure_info"):
        out["type"] = "Timeout"
    elif failure.HasField("canceled_failure_info"):
        out["type"] = "Canceled"
    elif failure.HasField("terminated_failure_info"):
        out["type"] = "Terminated"
    if failure.HasField("cause"):
        cause = failure_value(failure.cause)
        out["cause"] = cause
        if not out["type"]:
            out["type"] = cause.get("type") or ""
    return out


def summary_of(event: HistoryEvent) -> str | None:
    if event.HasField("user_metadata") and event.user_metadata.HasField("summary"):
        value = payload_value(event.user_metadata.summary)
        return value if isinstance(value, str) else None
    return None


def iso(when: datetime | None) -> str | None:
    return None if when is None else when.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def _time(event: HistoryEvent) -> datetime:
    return event.event_time.ToDatetime()


@dataclass
class Call:
    """One function call, local activity or child workflow made for a state."""

    kind: str  # activity | local | child
    state: str
    label: str
    what: str  # the function, local activity type or child workflow type
    event_id: int
    scheduled_at: datetime
    #: compensate | item | shard | map (a map's bookkeeping) | call
    role: str = "call"
    index: int | None = None
    input: Any = None
    output: Any = None
    error: dict[str, Any] | None = None
    attempts: int = 0
    started_at: datetime | None = None
    closed_at: datetime | None = None
    #: running | completed | failed
    status: str = "running"
    child_id: str | None = None
    child_run_id: str | None = None

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "kind": self.kind,
            "label": self.label,
            "what": self.what,
            "status": self.status,
            "attempts": self.attempts,
            "scheduled_at": iso(self.scheduled_at),
            "started_at": iso(self.started_at),
            "closed_at": iso(self.closed_at),
            "input": self.input,
            "output": self.output,
            "error": self.error,
        }
        if self.index is not None:
            out["index"] = self.index
        if self.child_id is not None:
            out["child"] = {"workflow_id": self.child_id, "run_id": self.child_run_id}
        return out


@dataclass
class Visit:
    """One entry into a state (its calls are those made for it until the next entry)."""

    state: str
    number: int
    entered_at: datetime
    event_id: int
    calls: list[Call] = field(default_factory=list)
    ended_at: datetime | None = None


@dataclass
class Recorded:
    """What the events of one logical execution hold, in history order."""

    visits: list[Visit] = field(default_factory=list)
    calls: list[Call] = field(default_factory=list)
    entered: list[str] = field(default_factory=list)
    workflow_input: Any = None
    started_at: datetime | None = None
    closed_at: datetime | None = None
    #: running | succeeded | failed | terminated | canceled | timed_out
    status: str = "running"
    result: Any = None
    error: dict[str, Any] | None = None
    pin: dict[str, str] | None = None
    workflow_type: str = ""

    def visits_of(self, state: str) -> list[Visit]:
        return [v for v in self.visits if v.state == state]


def _classify(label: str, state_hint: str | None) -> tuple[str, str, int | None]:
    """(state, role, item index) from a call's summary."""
    if label.startswith("compensate "):
        return label.removeprefix("compensate "), "compensate", None
    item = _ITEM.match(label)
    if item:
        return item["state"], "item", int(item["index"])
    work = _MAP_WORK.match(label)
    if work:
        return work["state"], "shard" if work["what"] == "items" else "map", None
    state = state_hint or label
    return re.split(r" \(fallback ", state, maxsplit=1)[0], "call", None


class _Reader:
    def __init__(self) -> None:
        self.rec = Recorded()
        self.scheduled: dict[tuple[int, int], Call] = {}
        self.children: dict[tuple[int, int], Call] = {}
        self.run = 0

    def add(self, call: Call) -> None:
        self.rec.calls.append(call)
        if call.role in ("compensate", "map", "shard", "item"):
            return
        visits = self.rec.visits_of(call.state)
        if not visits:  # a run without state entries (search attributes off): one visit
            visit = Visit(call.state, 1, call.scheduled_at, call.event_id)
            self.rec.visits.append(visit)
            visits = [visit]
        visits[-1].calls.append(call)

    def event(self, event: HistoryEvent) -> None:
        kind = event.event_type
        eid = int(event.event_id)
        key = (self.run, eid)
        rec = self.rec
        attrs: Any
        call: Call | None
        if kind == _E.EVENT_TYPE_WORKFLOW_EXECUTION_STARTED:
            attrs = event.workflow_execution_started_event_attributes
            if self.run == 0:
                rec.started_at = _time(event)
                rec.workflow_input = first_value(attrs.input)
                rec.workflow_type = attrs.workflow_type.name
        elif kind == _E.EVENT_TYPE_UPSERT_WORKFLOW_SEARCH_ATTRIBUTES:
            fields = event.upsert_workflow_search_attributes_event_attributes.search_attributes
            if "NexusState" in fields.indexed_fields:
                state = payload_value(fields.indexed_fields["NexusState"])
                if isinstance(state, str):
                    number = len(rec.visits_of(state)) + 1
                    rec.visits.append(Visit(state, number, _time(event), eid))
                    rec.entered.append(state)
        elif kind == _E.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED:
            attrs = event.activity_task_scheduled_event_attributes
            what = attrs.activity_type.name
            request = first_value(attrs.input)
            summary = summary_of(event)
            label = summary or what
            hint, value, function = None, request, what
            if is_invoke(what) and isinstance(request, dict):
                hint = request.get("state") or None
                value = request.get("payload")
                function = str(request.get("function") or what)
            state, role, index = _classify(label, hint)
            if summary is None and hint and isinstance(request, dict):
                # A map item's call carries no summary (one payload less per item); its
                # idempotency key ends in the state and the item's index.
                found = _ITEM_KEY.search(str(request.get("idempotency_key") or ""))
                if found and found["state"] == hint:
                    role, index = "item", int(found["index"])
                    label = f"{hint}[{index}]"
            new = Call("activity", state, label, function, eid, _time(event), role, index, value)
            self.scheduled[key] = new
            self.add(new)
        elif kind == _E.EVENT_TYPE_ACTIVITY_TASK_STARTED:
            attrs = event.activity_task_started_event_attributes
            call = self.scheduled.get((self.run, int(attrs.scheduled_event_id)))
            if call is not None:
                call.attempts = int(attrs.attempt)
                call.started_at = _time(event)
        elif kind in (
            _E.EVENT_TYPE_ACTIVITY_TASK_COMPLETED,
            _E.EVENT_TYPE_ACTIVITY_TASK_FAILED,
            _E.EVENT_TYPE_ACTIVITY_TASK_TIMED_OUT,
            _E.EVENT_TYPE_ACTIVITY_TASK_CANCELED,
        ):
            self._activity_closed(event)
        elif kind == _E.EVENT_TYPE_MARKER_RECORDED:
            self._marker(event)
        elif kind == _E.EVENT_TYPE_START_CHILD_WORKFLOW_EXECUTION_INITIATED:
            attrs = event.start_child_workflow_execution_initiated_event_attributes
            what = attrs.workflow_type.name
            label = summary_of(event) or what
            state, role, _ = _classify(label, None)
            if what == SHARD_TYPE:
                role = "shard"
            child = Call("child", state, label, what, eid, _time(event), role)
            child.input = first_value(attrs.input)
            child.child_id = attrs.workflow_id
            self.children[key] = child
            self.add(child)
        else:
            self._child_or_close(event)

    def _activity_closed(self, event: HistoryEvent) -> None:
        kind = event.event_type
        if kind == _E.EVENT_TYPE_ACTIVITY_TASK_COMPLETED:
            a = event.activity_task_completed_event_attributes
            call = self.scheduled.get((self.run, int(a.scheduled_event_id)))
            if call is not None:
                call.output, call.status = first_value(a.result), "completed"
        else:
            attrs: Any = (
                event.activity_task_failed_event_attributes
                if kind == _E.EVENT_TYPE_ACTIVITY_TASK_FAILED
                else event.activity_task_timed_out_event_attributes
                if kind == _E.EVENT_TYPE_ACTIVITY_TASK_TIMED_OUT
                else None
            )
            if attrs is None:
                c = event.activity_task_canceled_event_attributes
                call = self.scheduled.get((self.run, int(c.scheduled_event_id)))
                if call is not None:
                    call.status, call.error = "failed", {"type": "Canceled", "message": "canceled"}
            else:
                call = self.scheduled.get((self.run, int(attrs.scheduled_event_id)))
                if call is not None:
                    call.status, call.error = "failed", failure_value(attrs.failure)
        if call is not None:
            call.closed_at = _time(event)

    def _marker(self, event: HistoryEvent) -> None:
        attrs = event.marker_recorded_event_attributes
        if attrs.marker_name != LOCAL_ACTIVITY_MARKER or "data" not in attrs.details:
            return
        meta = first_value(attrs.details["data"])
        if not isinstance(meta, dict):
            return
        result = first_value(attrs.details["result"]) if "result" in attrs.details else None
        if meta.get("activity_type") == RESOLVE_ACTIVITY:
            if isinstance(result, dict) and {"name", "version", "hash"} <= set(result):
                self.rec.pin = {k: str(result[k]) for k in ("name", "version", "hash")}
            return
        label = summary_of(event) or str(meta.get("activity_type"))
        state, role, index = _classify(label, None)
        when = _time(event)
        call = Call(
            "local", state, label, str(meta.get("activity_type")), int(event.event_id), when
        )
        call.closed_at = when
        call.role, call.index, call.attempts = role, index, int(meta.get("attempt") or 1)
        if attrs.HasField("failure"):
            call.status, call.error = "failed", failure_value(attrs.failure)
        else:
            call.status, call.output = "completed", result
        self.add(call)

    def _child_or_close(self, event: HistoryEvent) -> None:
        kind = event.event_type
        rec = self.rec
        child_events = {
            _E.EVENT_TYPE_CHILD_WORKFLOW_EXECUTION_STARTED: "child_workflow_execution_started",
            _E.EVENT_TYPE_CHILD_WORKFLOW_EXECUTION_COMPLETED: "child_workflow_execution_completed",
            _E.EVENT_TYPE_CHILD_WORKFLOW_EXECUTION_FAILED: "child_workflow_execution_failed",
            _E.EVENT_TYPE_CHILD_WORKFLOW_EXECUTION_TIMED_OUT: "child_workflow_execution_timed_out",
            _E.EVENT_TYPE_CHILD_WORKFLOW_EXECUTION_TERMINATED: (
                "child_workflow_execution_terminated"
            ),
            _E.EVENT_TYPE_CHILD_WORKFLOW_EXECUTION_CANCELED: "child_workflow_execution_canceled",
            _E.EVENT_TYPE_START_CHILD_WORKFLOW_EXECUTION_FAILED: (
                "start_child_workflow_execution_failed"
            ),
        }
        if kind in child_events:
            attrs: Any = getattr(event, child_events[kind] + "_event_attributes")
            call = self.children.get((self.run, int(attrs.initiated_event_id)))
            if call is None:
                return
            if kind == _E.EVENT_TYPE_CHILD_WORKFLOW_EXECUTION_STARTED:
                call.started_at = _time(event)
                call.child_run_id = attrs.workflow_execution.run_id
                call.attempts = 1
                return
            call.closed_at = _time(event)
            if kind == _E.EVENT_TYPE_CHILD_WORKFLOW_EXECUTION_COMPLETED:
                call.status, call.output = "completed", first_value(attrs.result)
            else:
                call.status = "failed"
                failure = getattr(attrs, "failure", None)
                call.error = (
                    failure_value(failure)
                    if failure is not None and failure.ByteSize()
                    else {"type": child_events[kind].rsplit("_", 1)[-1].title(), "message": ""}
                )
            return
        closes = {
            _E.EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED: "succeeded",
            _E.EVENT_TYPE_WORKFLOW_EXECUTION_FAILED: "failed",
            _E.EVENT_TYPE_WORKFLOW_EXECUTION_TERMINATED: "terminated",
            _E.EVENT_TYPE_WORKFLOW_EXECUTION_CANCELED: "canceled",
            _E.EVENT_TYPE_WORKFLOW_EXECUTION_TIMED_OUT: "timed_out",
        }
        if kind in closes:
            rec.status, rec.closed_at = closes[kind], _time(event)
            if kind == _E.EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED:
                rec.result = first_value(event.workflow_execution_completed_event_attributes.result)
            elif kind == _E.EVENT_TYPE_WORKFLOW_EXECUTION_FAILED:
                failure = event.workflow_execution_failed_event_attributes.failure
                rec.error = failure_value(failure)
            elif kind == _E.EVENT_TYPE_WORKFLOW_EXECUTION_TERMINATED:
                reason = event.workflow_execution_terminated_event_attributes.reason
                rec.error = {"type": "Terminated", "message": reason}
            elif kind == _E.EVENT_TYPE_WORKFLOW_EXECUTION_TIMED_OUT:
                rec.error = {"type": "Timeout", "message": "the execution timed out"}
        elif kind == _E.EVENT_TYPE_WORKFLOW_EXECUTION_CONTINUED_AS_NEW:
            rec.status = "running"  # the next run of the chain goes on


def read_runs(runs: list[list[HistoryEvent]]) -> Recorded:
    """The record of one logical execution from the events of its runs, oldest run first."""
    reader = _Reader()
    for number, events in enumerate(runs):
        reader.run = number
        for event in events:
            reader.event(event)
    rec = reader.rec
    # A visit ends when its last call closed, else when the next state was entered.
    for i, visit in enumerate(rec.visits):
        closes = [c.closed_at for c in visit.calls]
        if visit.calls and all(closes):
            visit.ended_at = max(c for c in closes if c is not None)
        elif not visit.calls:
            later = rec.visits[i + 1].entered_at if i + 1 < len(rec.visits) else rec.closed_at
            visit.ended_at = later
    return rec


def shard_range(label: str) -> tuple[int, int] | None:
    """The item range a shard's summary names (``X: items 0..99``), inclusive."""
    found = _SHARD_RANGE.search(label)
    return (int(found.group(1)), int(found.group(2))) if found else None
