"""Read what a recorded NEXUS execution did from its Temporal history.

A history (``temporal workflow show --output json``, ``nexus history export``) records, besides
Temporal's own events, what the interpreter decided: the definition it pinned at start (a
local-activity result), every state it entered (``NexusState`` search-attribute upserts), and
every action, local action and child workflow it started (each labelled with its state). This
module turns those events into :class:`Step` values that a replay compares with what a
definition does now.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from temporalio.api.common.v1 import Payload
from temporalio.api.enums.v1 import EventType
from temporalio.api.history.v1 import HistoryEvent
from temporalio.client import WorkflowHistory

from nexus_temporal.errors import NexusTemporalError
from nexus_temporal.protocol import CONTINUE_KEY, INVOKE_ACTIVITY, RESOLVE_ACTIVITY, SHARD_TYPE

LOCAL_ACTIVITY_MARKER = "core_local_activity"


class HistoryFileError(NexusTemporalError, ValueError):
    """A file that is not a readable workflow history (a usage error for the CLI)."""


@dataclass(frozen=True)
class PinnedDefinition:
    """The definition an execution pinned: ``name@version`` and its content hash.

    ``name`` and ``version`` are empty for a map shard, which records only the hash.
    """

    name: str
    version: str
    hash: str

    @property
    def label(self) -> str:
        if not self.name:
            return f"map shard of {self.hash[:12]}"
        return f"{self.name}@{self.version} ({self.hash[:12]})"


@dataclass(frozen=True)
class Step:
    """One decision of the interpreter, as history recorded it or as a replay makes it.

    ``kind``: ``enter`` (a state was entered), ``activity``, ``local`` (a local activity, as
    express states run), ``child`` (a child workflow). ``state`` is the state it belongs to,
    ``label`` the summary shown in the UI (``compensate X``, ``X (fallback f)``...), ``what`` the
    activity type or child workflow type, ``function`` the NEXUS function an ``nexus.invoke``
    calls. ``event_id`` is the history event (0 for a replay's step); ``order`` sorts steps of
    one kind the way Temporal matches them.
    """

    kind: str
    state: str | None
    label: str | None = None
    what: str | None = None
    function: str | None = None
    event_id: int = 0
    order: int = 0

    def same_as(self, other: Step) -> bool:
        """The same decision, comparing only what both sides know."""
        if self.kind != other.kind:
            return False
        pairs = (
            (self.state, other.state),
            (self.label, other.label),
            (self.what, other.what),
            (self.function, other.function),
        )
        return all(a == b for a, b in pairs if a is not None and b is not None)

    def describe(self) -> str:
        """In words, e.g. ``function 'charge' for state 'ChargeCard'``."""
        if self.kind == "enter":
            return f"state '{self.state}'"
        where = f" for state '{self.state}'" if self.state else ""
        if self.label and self.state and self.label != self.state:
            where = f" ({self.label})"
        if self.kind == "child":
            return f"child workflow '{self.what}'{where}"
        local = "local " if self.kind == "local" else ""
        if self.function:
            return f"{local}function '{self.function}'{where}"
        return f"{local}activity '{self.what}'{where}"


def load_history(path: str | Path) -> WorkflowHistory:
    """A history exported as JSON (``temporal workflow show --output json``, ``nexus history
    export`` or the test recorder). The workflow id is the file's ``workflowId`` key if any,
    else the file name without ``.json``."""
    p = Path(path)
    try:
        raw = json.loads(p.read_text())
    except OSError as exc:
        raise HistoryFileError(f"{p}: cannot read: {exc.strerror or exc}") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise HistoryFileError(f"{p}: not JSON: {exc}") from None
    if not isinstance(raw, dict) or not isinstance(raw.get("events"), list) or not raw["events"]:
        raise HistoryFileError(
            f"{p}: not a workflow history (expected an object with a non-empty 'events' list, "
            "as written by `temporal workflow show --output json` or `nexus history export`)"
        )
    workflow_id = str(raw.pop("workflowId", "") or p.stem)
    try:
        history = WorkflowHistory.from_json(workflow_id, raw)
        _ = history.run_id  # the first event must be the start
    except Exception as exc:
        raise HistoryFileError(f"{p}: not a readable workflow history: {exc}") from None
    return history


def history_files(paths: Sequence[str | Path]) -> list[Path]:
    """``*.json`` files named directly or found under directories, in a stable order."""
    files: list[Path] = []
    for raw in paths:
        p = Path(raw)
        if p.is_dir():
            files.extend(sorted(f for f in p.rglob("*.json") if f.is_file()))
        elif p.exists():
            files.append(p)
        else:
            raise HistoryFileError(f"{p}: no such file or directory")
    return files


def safe_file_name(workflow_id: str) -> str:
    """A file name for a workflow id (ids may hold ``/`` and other characters)."""
    return re.sub(r"[^A-Za-z0-9._-]+", "_", workflow_id).strip("._") or "workflow"


def _decode(payload: Payload) -> Any:
    try:
        return json.loads(payload.data)
    except (ValueError, UnicodeDecodeError):
        return None


def _summary(event: HistoryEvent) -> str | None:
    if event.HasField("user_metadata") and event.user_metadata.HasField("summary"):
        value = _decode(event.user_metadata.summary)
        return value if isinstance(value, str) else None
    return None


def pinned_definition(history: WorkflowHistory) -> PinnedDefinition | None:
    """The definition this run pinned: from its resolve marker, from the pin a
    continued-as-new run carries in its input, or from a map shard's job."""
    started = history.events[0].workflow_execution_started_event_attributes
    data = _decode(started.input.payloads[0]) if started.input.payloads else None
    if isinstance(data, dict) and isinstance(data.get(CONTINUE_KEY), dict):
        pin = data[CONTINUE_KEY].get("pin") or {}
        return PinnedDefinition(str(pin["name"]), str(pin["version"]), str(pin["hash"]))
    if started.workflow_type.name == SHARD_TYPE and isinstance(data, dict) and "pin" in data:
        return PinnedDefinition("", "", str(data["pin"]))
    for event in history.events:
        if event.event_type != EventType.EVENT_TYPE_MARKER_RECORDED:
            continue
        attrs = event.marker_recorded_event_attributes
        if attrs.marker_name != LOCAL_ACTIVITY_MARKER or "data" not in attrs.details:
            continue
        meta = _decode(attrs.details["data"].payloads[0])
        if not isinstance(meta, dict) or meta.get("activity_type") != RESOLVE_ACTIVITY:
            continue
        if "result" not in attrs.details or not attrs.details["result"].payloads:
            return None  # the start failed to resolve
        pin = _decode(attrs.details["result"].payloads[0])
        if isinstance(pin, dict) and {"name", "version", "hash"} <= set(pin):
            return PinnedDefinition(str(pin["name"]), str(pin["version"]), str(pin["hash"]))
    return None


def recorded_steps(history: WorkflowHistory) -> list[Step]:
    """What the interpreter decided, in history order (local activities: in issue order)."""
    steps: list[Step] = []
    for event in history.events:
        eid = int(event.event_id)
        kind = event.event_type
        if kind == EventType.EVENT_TYPE_UPSERT_WORKFLOW_SEARCH_ATTRIBUTES:
            fields = event.upsert_workflow_search_attributes_event_attributes.search_attributes
            if "NexusState" in fields.indexed_fields:
                state = _decode(fields.indexed_fields["NexusState"])
                if isinstance(state, str):
                    steps.append(Step("enter", state, event_id=eid, order=eid))
        elif kind == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED:
            scheduled = event.activity_task_scheduled_event_attributes
            what = scheduled.activity_type.name
            payloads = scheduled.input.payloads
            request = _decode(payloads[0]) if payloads else None
            label = _summary(event)
            state, function = label, None
            if what == INVOKE_ACTIVITY and isinstance(request, dict):
                state = request.get("state") or label
                function = request.get("function")
            steps.append(Step("activity", state, label, what, function, eid, eid))
        elif kind == EventType.EVENT_TYPE_MARKER_RECORDED:
            marker = event.marker_recorded_event_attributes
            if marker.marker_name != LOCAL_ACTIVITY_MARKER or "data" not in marker.details:
                continue
            meta = _decode(marker.details["data"].payloads[0])
            if not isinstance(meta, dict) or meta.get("activity_type") == RESOLVE_ACTIVITY:
                continue
            label = _summary(event)
            steps.append(
                Step(
                    "local",
                    _state_of_label(label),
                    label,
                    str(meta.get("activity_type")),
                    None,
                    eid,
                    int(meta.get("seq") or eid),
                )
            )
        elif kind == EventType.EVENT_TYPE_START_CHILD_WORKFLOW_EXECUTION_INITIATED:
            child = event.start_child_workflow_execution_initiated_event_attributes
            label = _summary(event)
            steps.append(
                Step(
                    "child", _state_of_label(label), label, child.workflow_type.name, None, eid, eid
                )
            )
    return steps


def _state_of_label(label: str | None) -> str | None:
    """The state a summary names: ``X``, ``compensate X``, ``X (fallback f)``, ``X: items ..``."""
    if label is None:
        return None
    text = label.removeprefix("compensate ")
    return re.split(r" \(fallback |: items ", text, maxsplit=1)[0]


def state_at(steps: Iterable[Step], event_id: int) -> str | None:
    """The state the execution was in at ``event_id``: the last one entered (or acting) before."""
    current = None
    for step in sorted(steps, key=lambda s: s.event_id):
        if step.event_id > event_id:
            break
        if step.kind == "enter" or current is None:
            current = step.state
    return current


def has_state_entries(steps: Iterable[Step]) -> bool:
    """Whether the run recorded state entries (search attributes were on for its worker)."""
    return any(s.kind == "enter" for s in steps)
