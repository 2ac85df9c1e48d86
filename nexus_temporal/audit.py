"""A tamper-evident audit trail of one workflow execution, exported from Temporal's history.

Each record is one step (workflow started, an activity scheduled/completed/failed with its state
name and attempt, a timer, a signal or update, a child workflow, the end of a run), with its
payloads as SHA-256 digests (or their contents), hash-chained: ``prev`` is the previous record's
``hash``, and ``hash`` is the SHA-256 of the record's canonical JSON without ``hash`` and
``hmac``. With a key, ``hmac`` is HMAC-SHA256 over the same bytes. The first record (``export``)
states how many records follow and whether they are signed, so a truncated file is detected.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from temporalio.api.common.v1 import Payload, Payloads
from temporalio.api.failure.v1 import Failure
from temporalio.api.history.v1 import HistoryEvent
from temporalio.client import Client

from nexus_temporal.errors import NexusTemporalError

FORMAT = "nexus-audit/v1"
GENESIS = "0" * 64
#: How deep a failure's cause chain is recorded.
_CAUSE_DEPTH = 5


class AuditError(NexusTemporalError):
    """A user-facing problem exporting or reading an audit trail (no traceback)."""


# --- the chain -------------------------------------------------------------------------------


def canonical(record: dict[str, Any]) -> bytes:
    """The bytes a record's hash and signature cover: its JSON without ``hash`` and ``hmac``,
    keys sorted, no spaces, UTF-8."""
    body = {k: v for k, v in record.items() if k not in ("hash", "hmac")}
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def record_hash(record: dict[str, Any]) -> str:
    return hashlib.sha256(canonical(record)).hexdigest()


def record_hmac(record: dict[str, Any], key: bytes) -> str:
    return hmac.new(key, canonical(record), hashlib.sha256).hexdigest()


def chain(records: Sequence[dict[str, Any]], key: bytes | None = None) -> list[dict[str, Any]]:
    """Number, link, hash and (with ``key``) sign ``records``; the first is the export header."""
    out: list[dict[str, Any]] = []
    prev = GENESIS
    for seq, body in enumerate(records, start=1):
        record = {"seq": seq, **body, "prev": prev}
        record["hash"] = record_hash(record)
        if key is not None:
            record["hmac"] = record_hmac(record, key)
        prev = record["hash"]
        out.append(record)
    return out


def dumps(records: Sequence[dict[str, Any]]) -> str:
    """JSON Lines, one record a line."""
    return "".join(json.dumps(r, ensure_ascii=False, sort_keys=True) + "\n" for r in records)


# --- export ----------------------------------------------------------------------------------


@dataclass
class _Run:
    """What the records of one run need from earlier events of that run."""

    scheduled: dict[int, dict[str, Any]] = field(default_factory=dict)
    attempts: dict[int, int] = field(default_factory=dict)
    children: dict[int, dict[str, Any]] = field(default_factory=dict)
    timers: dict[int, str] = field(default_factory=dict)


def _payloads(payloads: Payloads | None, contents: bool) -> list[dict[str, Any]] | None:
    if payloads is None or not payloads.payloads:
        return None
    return [_payload(p, contents) for p in payloads.payloads]


def _payload(p: Payload, contents: bool) -> dict[str, Any]:
    out: dict[str, Any] = {"sha256": hashlib.sha256(p.data).hexdigest(), "size": len(p.data)}
    if contents:
        encoding = p.metadata.get("encoding", b"").decode(errors="replace")
        out["encoding"] = encoding
        if encoding == "json/plain":
            try:
                out["json"] = json.loads(p.data)
            except ValueError:
                out["base64"] = base64.b64encode(p.data).decode()
        else:
            out["base64"] = base64.b64encode(p.data).decode()
    return out


def _text(p: Payload) -> str | None:
    """A payload that holds a JSON string (an activity summary), as text."""
    try:
        value = json.loads(p.data)
    except ValueError:
        return None
    return value if isinstance(value, str) else None


def _failure(f: Failure, depth: int = 0) -> dict[str, Any]:
    out: dict[str, Any] = {"message": f.message}
    if f.HasField("application_failure_info"):
        out["type"] = f.application_failure_info.type or "Error"
        out["non_retryable"] = f.application_failure_info.non_retryable
    elif f.HasField("timeout_failure_info"):
        out["type"] = "Timeout"
    elif f.HasField("canceled_failure_info"):
        out["type"] = "Canceled"
    elif f.HasField("activity_failure_info"):
        out["type"] = "ActivityError"
    elif f.HasField("child_workflow_execution_failure_info"):
        out["type"] = "ChildWorkflowError"
    if f.HasField("cause") and depth < _CAUSE_DEPTH:
        out["cause"] = _failure(f.cause, depth + 1)
    return out


def event_record(
    event: HistoryEvent, run: _Run, workflow_id: str, run_id: str, contents: bool
) -> dict[str, Any] | None:
    """The audit record of one history event, or None for bookkeeping events (workflow tasks,
    activity started) that are folded into other records."""
    kind = event.WhichOneof("attributes") or ""
    a: Any  # the event's attributes: one protobuf message type per kind
    base: dict[str, Any] = {
        "workflow_id": workflow_id,
        "run_id": run_id,
        "event_id": event.event_id,
        "time": event.event_time.ToJsonString(),
    }

    def rec(step: str, **fields: Any) -> dict[str, Any]:
        return {"kind": step, **base, **{k: v for k, v in fields.items() if v is not None}}

    if kind == "workflow_execution_started_event_attributes":
        a = event.workflow_execution_started_event_attributes
        return rec(
            "workflow_started",
            workflow_type=a.workflow_type.name,
            task_queue=a.task_queue.name,
            attempt=a.attempt,
            continued_from=a.continued_execution_run_id or None,
            parent=a.parent_workflow_execution.workflow_id or None,
            input=_payloads(a.input, contents),
        )
    if kind == "activity_task_scheduled_event_attributes":
        a = event.activity_task_scheduled_event_attributes
        summary = (
            _text(event.user_metadata.summary)
            if event.HasField("user_metadata") and event.user_metadata.HasField("summary")
            else None
        )
        info = {
            "state": summary,
            "activity_id": a.activity_id,
            "activity_type": a.activity_type.name,
        }
        run.scheduled[event.event_id] = info
        return rec("activity_scheduled", **info, input=_payloads(a.input, contents))
    if kind == "activity_task_started_event_attributes":
        a = event.activity_task_started_event_attributes
        run.attempts[a.scheduled_event_id] = a.attempt
        return None
    for name, step in (
        ("activity_task_completed_event_attributes", "activity_completed"),
        ("activity_task_failed_event_attributes", "activity_failed"),
        ("activity_task_timed_out_event_attributes", "activity_timed_out"),
        ("activity_task_canceled_event_attributes", "activity_canceled"),
    ):
        if kind == name:
            a = getattr(event, name)
            info = run.scheduled.get(a.scheduled_event_id, {})
            fields: dict[str, Any] = {
                **info,
                "scheduled_event_id": a.scheduled_event_id,
                "attempt": run.attempts.get(a.scheduled_event_id),
            }
            if step == "activity_completed":
                fields["output"] = _payloads(a.result, contents)
            elif step in ("activity_failed", "activity_timed_out"):
                fields["error"] = _failure(a.failure)
            return rec(step, **fields)
    if kind == "timer_started_event_attributes":
        a = event.timer_started_event_attributes
        run.timers[event.event_id] = a.timer_id
        return rec(
            "timer_started",
            timer_id=a.timer_id,
            seconds=a.start_to_fire_timeout.ToTimedelta().total_seconds(),
        )
    if kind == "timer_fired_event_attributes":
        a = event.timer_fired_event_attributes
        return rec("timer_fired", timer_id=a.timer_id)
    if kind == "timer_canceled_event_attributes":
        return rec("timer_canceled", timer_id=event.timer_canceled_event_attributes.timer_id)
    if kind == "workflow_execution_signaled_event_attributes":
        a = event.workflow_execution_signaled_event_attributes
        return rec(
            "signal_received",
            signal=a.signal_name,
            identity=a.identity or None,
            input=_payloads(a.input, contents),
        )
    if kind == "workflow_execution_update_accepted_event_attributes":
        a = event.workflow_execution_update_accepted_event_attributes
        req = a.accepted_request
        return rec(
            "update_accepted",
            update=req.input.name,
            update_id=req.meta.update_id,
            identity=req.meta.identity or None,
            input=_payloads(req.input.args, contents),
        )
    if kind == "marker_recorded_event_attributes":
        a = event.marker_recorded_event_attributes
        details = {k: _payloads(v, contents) for k, v in sorted(a.details.items())}
        return rec(
            "marker_recorded",
            marker=a.marker_name,
            details=details or None,
            error=_failure(a.failure) if a.HasField("failure") else None,
        )
    if kind == "start_child_workflow_execution_initiated_event_attributes":
        a = event.start_child_workflow_execution_initiated_event_attributes
        info = {"child_workflow_id": a.workflow_id, "child_workflow_type": a.workflow_type.name}
        run.children[event.event_id] = info
        return rec("child_workflow_initiated", **info, input=_payloads(a.input, contents))
    for name, step in (
        ("child_workflow_execution_started_event_attributes", "child_workflow_started"),
        ("child_workflow_execution_completed_event_attributes", "child_workflow_completed"),
        ("child_workflow_execution_failed_event_attributes", "child_workflow_failed"),
        ("child_workflow_execution_timed_out_event_attributes", "child_workflow_timed_out"),
        ("child_workflow_execution_canceled_event_attributes", "child_workflow_canceled"),
        ("child_workflow_execution_terminated_event_attributes", "child_workflow_terminated"),
        ("start_child_workflow_execution_failed_event_attributes", "child_workflow_not_started"),
    ):
        if kind == name:
            a = getattr(event, name)
            fields = dict(run.children.get(a.initiated_event_id, {}))
            if hasattr(a, "workflow_execution") and a.workflow_execution.run_id:
                fields["child_run_id"] = a.workflow_execution.run_id
            if step == "child_workflow_completed":
                fields["output"] = _payloads(a.result, contents)
            if step == "child_workflow_failed":
                fields["error"] = _failure(a.failure)
            return rec(step, **fields)
    if kind == "workflow_execution_completed_event_attributes":
        a = event.workflow_execution_completed_event_attributes
        return rec("workflow_completed", output=_payloads(a.result, contents))
    if kind == "workflow_execution_failed_event_attributes":
        a = event.workflow_execution_failed_event_attributes
        return rec("workflow_failed", error=_failure(a.failure))
    if kind == "workflow_execution_continued_as_new_event_attributes":
        a = event.workflow_execution_continued_as_new_event_attributes
        return rec(
            "workflow_continued_as_new",
            new_run_id=a.new_execution_run_id,
            input=_payloads(a.input, contents),
        )
    if kind == "workflow_execution_timed_out_event_attributes":
        return rec("workflow_timed_out")
    if kind == "workflow_execution_canceled_event_attributes":
        return rec("workflow_canceled")
    if kind == "workflow_execution_terminated_event_attributes":
        a = event.workflow_execution_terminated_event_attributes
        return rec("workflow_terminated", reason=a.reason or None, identity=a.identity or None)
    return None


async def _events(client: Client, workflow_id: str, run_id: str) -> AsyncIterator[HistoryEvent]:
    handle = client.get_workflow_handle(workflow_id, run_id=run_id)
    async for event in handle.fetch_history_events():
        yield event


async def export(
    client: Client, workflow_id: str, *, contents: bool = False, key: bytes | None = None
) -> list[dict[str, Any]]:
    """The chained audit records of the latest execution of ``workflow_id``, from its first
    run through every continue-as-new.

    Raises:
        AuditError: no such workflow.
    """
    from temporalio.service import RPCError, RPCStatusCode

    try:
        latest = client.get_workflow_handle(workflow_id)
        first_run = ""
        async for event in latest.fetch_history_events():
            first_run = event.workflow_execution_started_event_attributes.first_execution_run_id
            break
    except RPCError as exc:
        if exc.status == RPCStatusCode.NOT_FOUND:
            raise AuditError(f"no workflow with id '{workflow_id}'") from None
        raise AuditError(f"cannot read the history of '{workflow_id}': {exc.message}") from None
    bodies: list[dict[str, Any]] = []
    runs: list[str] = []
    run_id: str | None = first_run
    open_run = False
    while run_id:
        runs.append(run_id)
        run, nxt, open_run = _Run(), None, True
        async for event in _events(client, workflow_id, run_id):
            body = event_record(event, run, workflow_id, run_id, contents)
            if body is None:
                continue
            bodies.append(body)
            if body["kind"].startswith("workflow_") and body["kind"] != "workflow_started":
                open_run = False
                nxt = body.get("new_run_id")
        run_id = nxt
    header = {
        "kind": "export",
        "format": FORMAT,
        "workflow_id": workflow_id,
        "runs": runs,
        "records": len(bodies) + 1,
        "complete": not open_run,
        "contents": contents,
        "signed": "hmac-sha256" if key is not None else None,
        "exported_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    return chain([header, *bodies], key)


# --- verify ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Problem:
    """What is wrong with one record (``record`` is its line number, 1-based)."""

    record: int
    message: str

    def __str__(self) -> str:
        return f"record {self.record}: {self.message}"


@dataclass(frozen=True)
class Unreadable:
    """A line that is not one JSON object, or one that JSON readers would read differently."""

    reason: str


#: One line of an audit file as :func:`parse` reads it (None: not a JSON object, as before).
Line = dict[str, Any] | Unreadable | None


class _DuplicateKey(ValueError):
    def __init__(self, key: str) -> None:
        self.key = key
        super().__init__(key)


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """``object_pairs_hook`` that refuses a key written twice in one object: ``json`` keeps the
    last value, other readers the first, so a forged first value could be shown to a person
    while the hash, computed over the last, still matches."""
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise _DuplicateKey(key)
        out[key] = value
    return out


def parse(text: str) -> list[Line]:
    """The records of a JSONL audit file, one per non-blank line; an :class:`Unreadable` for a
    line that is not a JSON object or that has a key twice in one of its objects."""
    out: list[Line] = []
    for line in text.splitlines():
        if not line.strip():
            continue
        value: Any
        try:
            value = json.loads(line, object_pairs_hook=_unique_keys)
        except _DuplicateKey as exc:
            value = Unreadable(f"duplicate key '{exc.key}': readers disagree on its value (edited)")
        except RecursionError:
            value = Unreadable("nested too deeply to read (edited)")
        except json.JSONDecodeError:
            value = Unreadable("not a JSON object (edited)")
        except ValueError:  # a number beyond Python's int digit limit (no exporter writes one)
            value = Unreadable("a number too long to read (edited)")
        if not isinstance(value, (dict, Unreadable)):
            value = Unreadable("not a JSON object (edited)")
        out.append(value)
    return out


@dataclass(frozen=True)
class Summary:
    """What a trail says it covers, from its export header (None: no readable header)."""

    workflow_id: str | None
    runs: list[str]
    records: int
    declared: int | None
    #: The workflow had ended when it was exported (the header's ``complete``).
    ended: bool
    #: Every record the header declares is in the file.
    all_records: bool
    signed: bool
    exported_at: str | None
    head: str | None

    @property
    def complete(self) -> bool:
        """The trail holds every step of the workflow: it had ended, and nothing is missing."""
        return self.ended and self.all_records

    def to_json(self) -> dict[str, Any]:
        return {
            "workflow_id": self.workflow_id,
            "runs": self.runs,
            "records": self.records,
            "declared_records": self.declared,
            "complete": self.complete,
            "workflow_ended": self.ended,
            "all_records_present": self.all_records,
            "signed": self.signed,
            "exported_at": self.exported_at,
            "head": self.head,
        }


def summarize(records: Sequence[Line]) -> Summary:
    """The workflow a trail covers and whether it is complete (a partial export, of a workflow
    that was still running, or a file with records missing, is not)."""
    header = records[0] if records and isinstance(records[0], dict) else None
    header = header if header is not None and header.get("kind") == "export" else None
    h: dict[str, Any] = header or {}
    declared = h.get("records")
    declared = declared if isinstance(declared, int) and not isinstance(declared, bool) else None
    seqs = {
        r.get("seq")
        for r in records
        if isinstance(r, dict) and isinstance(r.get("seq"), int) and not isinstance(r["seq"], bool)
    }
    runs = h.get("runs")
    last = records[-1] if records else None
    workflow_id = h.get("workflow_id")
    return Summary(
        workflow_id=workflow_id if isinstance(workflow_id, str) else None,
        runs=[r for r in runs if isinstance(r, str)] if isinstance(runs, list) else [],
        records=len(records),
        declared=declared,
        ended=h.get("complete") is True,
        all_records=declared is not None and seqs >= set(range(1, declared + 1)),
        signed=bool(h.get("signed")),
        exported_at=h.get("exported_at") if isinstance(h.get("exported_at"), str) else None,
        head=last.get("hash") if isinstance(last, dict) else None,
    )


def verify(lines: Sequence[Line], key: bytes | None = None) -> list[Problem]:
    """Every problem that shows a record was edited, removed, inserted or reordered, or that a
    signature does not match ``key``; empty when the trail is intact."""
    problems: list[Problem] = []
    if not lines:
        return [Problem(1, "the file holds no records")]
    records = [r if isinstance(r, dict) else None for r in lines]
    header = records[0]
    if header is None or header.get("kind") != "export" or header.get("seq") != 1:
        problems.append(Problem(1, "the first record is not the export header (removed?)"))
    signed = bool(header and header.get("signed"))
    if key is not None and not signed:
        problems.append(Problem(1, "the trail is not signed, but a key was given"))
    declared = header.get("records") if header is not None else None
    edited: set[int] = set()
    disordered: set[int] = set()
    present = {r.get("seq") for r in records if r is not None}
    seen: dict[int, int] = {}
    last_seq = 0
    for line, record in enumerate(records, start=1):
        if record is None:
            bad = lines[line - 1]
            reason = bad.reason if isinstance(bad, Unreadable) else "not a JSON object (edited)"
            problems.append(Problem(line, reason))
            edited.add(line)
            # Taken to be the record that belongs here: the records after it are then neither
            # "removed" nor out of order because of it.
            last_seq += 1
            continue
        seq = record.get("seq")
        if line > 1 and header is not None:
            # Hashes and signatures cover each record alone: a record of another workflow's
            # trail (signed with the same key) must not pass as a step of this one.
            owner, run_id = record.get("workflow_id"), record.get("run_id")
            if owner != header.get("workflow_id"):
                problems.append(
                    Problem(
                        line, f"belongs to workflow {owner!r}, not {header.get('workflow_id')!r}"
                    )
                )
            elif isinstance(header.get("runs"), list) and run_id not in header["runs"]:
                problems.append(Problem(line, f"run {run_id!r} is not one of the export's runs"))
        if record.get("hash") != record_hash(record):
            problems.append(Problem(line, "edited: its content does not match its hash"))
            edited.add(line)
        if key is not None and signed:
            if not hmac.compare_digest(str(record.get("hmac", "")), record_hmac(record, key)):
                problems.append(Problem(line, "signature does not match (edited, or not this key)"))
        if not isinstance(seq, int) or isinstance(seq, bool):
            problems.append(Problem(line, "has no record number 'seq' (edited or inserted)"))
            disordered.add(line)
            continue
        if isinstance(declared, int) and not 1 <= seq <= declared:
            problems.append(
                Problem(
                    line, f"record number {seq} is not one of the export's {declared}: inserted"
                )
            )
            disordered.add(line)
            continue
        if seq in seen:
            problems.append(Problem(line, f"duplicates record {seq} (line {seen[seq]}): inserted"))
            disordered.add(line)
        elif seq < last_seq:
            problems.append(
                Problem(line, f"out of order: record {seq} comes after record {last_seq}")
            )
            disordered.add(line)
        elif seq > last_seq + 1:
            missing = [m for m in range(last_seq + 1, seq) if m not in present]
            if missing:
                gone = (
                    f"record {missing[0]}"
                    if len(missing) == 1
                    else f"records {missing[0]}-{missing[-1]}"
                )
                problems.append(Problem(line, f"{gone} before it removed"))
            else:
                problems.append(
                    Problem(line, f"out of order: record {seq} comes before record {last_seq + 1}")
                )
            disordered.add(line)
        seen.setdefault(seq, line)
        last_seq = max(last_seq, seq)
        if line > 1:
            before = records[line - 2]
            expected = before.get("hash") if before is not None else None
            # After an unreadable line the hash to link to is unknown: that line is reported.
            explained = before is None or line in edited or {line, line - 1} & disordered
            if record.get("prev") != expected and not explained:
                problems.append(
                    Problem(line, "chain broken: 'prev' is not the hash of the record before it")
                )
        elif record.get("prev") != GENESIS:
            problems.append(Problem(line, "chain broken: the first record must start the chain"))
    if isinstance(declared, int) and declared != len(records):
        if declared > len(records) and last_seq < declared:
            problems.append(
                Problem(
                    len(records),
                    f"the export holds {declared} records, the file {len(records)}: "
                    f"records {last_seq + 1}-{declared} at the end removed",
                )
            )
        elif declared < len(records):
            problems.append(
                Problem(
                    len(records),
                    f"the export holds {declared} records, the file {len(records)}: "
                    "records inserted",
                )
            )
    # One line may be reported by several checks; keep the order of the file.
    return sorted(problems, key=lambda p: p.record)
