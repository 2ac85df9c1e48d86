"""Client-side helpers: start a definition, follow it live, run the examples."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

from temporalio.client import Client, WorkflowFailureError, WorkflowHandle
from temporalio.exceptions import ApplicationError, WorkflowAlreadyStartedError
from temporalio.service import RPCError, RPCStatusCode

from nexus_temporal.errors import NexusTemporalError
from nexus_temporal.protocol import STATE_QUERY


class UsageError(NexusTemporalError, ValueError):
    """A user mistake on the command line: reported in one line, exit code 2."""


class OperationFailed(NexusTemporalError, RuntimeError):
    """An operation the Temporal server refused (an id already running, a workflow that is not
    there, an input over the server's size limit): reported in one line, exit code 1."""


def refusal(what: str, exc: RPCError) -> OperationFailed:
    """``what`` failed because the server answered ``exc``: one line saying what to do."""
    message = exc.message.rstrip(".")
    if "size exceeds" in message.lower() or exc.status == RPCStatusCode.RESOURCE_EXHAUSTED:
        return OperationFailed(
            f"{what}: the server refused it: {message}; a workflow's input, signals and "
            "results must stay under the server's blob size limit (2 MB by default): pass "
            "large data by reference (a URL, an object-store key)"
        )
    return OperationFailed(f"{what}: the server refused it: {message} ({exc.status.name})")


def parse_input(text: str | None) -> Any:
    """``--input`` as JSON text, or ``@path`` to a JSON file."""
    if text is None:
        return {}
    source = "--input"
    if text.startswith("@"):
        path = Path(text[1:])
        try:
            text = path.read_text()
        except OSError as exc:
            raise UsageError(f"cannot read input file {path}: {exc.strerror}") from None
        source = str(path)
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise UsageError(
            f"{source} is not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}"
        ) from None


async def start(
    client: Client, reference: str, data: Any, *, task_queue: str, workflow_id: str | None = None
) -> WorkflowHandle[Any, Any]:
    name = reference.split("@", 1)[0]
    wid = workflow_id or f"{name.replace(' ', '-').lower()}-{uuid.uuid4().hex[:12]}"
    try:
        return await client.start_workflow(reference, data, id=wid, task_queue=task_queue)
    except WorkflowAlreadyStartedError:
        raise OperationFailed(
            f"cannot start {reference}: a workflow with id '{wid}' is already running; "
            "choose another --workflow-id (or none: one is generated), or wait for it to end"
        ) from None
    except RPCError as exc:
        raise refusal(f"cannot start {reference}", exc) from None


@dataclass
class RunResult:
    ok: bool
    result: Any = None
    error: dict[str, Any] = field(default_factory=dict)
    states: list[str] = field(default_factory=list)
    workflow_id: str = ""


def failure_line(error: dict[str, Any]) -> str:
    """``FAILED in state 'S': Type: message`` for a :attr:`RunResult.error`; without a state
    (the execution failed before its first state) ``FAILED: Type: message``."""
    state, kind = error.get("state"), error.get("type")
    message = str(error.get("message") or error.get("summary") or "")
    if kind and message.startswith(f"{kind}: "):
        message = message[len(kind) + 2 :]
    where = f" in state '{state}'" if state else ""
    return f"FAILED{where}: {kind}: {message}" if kind else f"FAILED{where}: {message}"


def describe_failure(exc: WorkflowFailureError) -> dict[str, Any]:
    cause = exc.cause
    if isinstance(cause, ApplicationError):
        details = cause.details[0] if cause.details else {}
        info = dict(details) if isinstance(details, dict) else {"details": details}
        info.setdefault("type", cause.type)
        info["summary"] = cause.message
        return info
    return {"type": type(cause).__name__, "summary": str(cause)}


class MapProgress:
    """Turns successive ``maps`` snapshots into 'done/total, rate, ETA' lines."""

    def __init__(self) -> None:
        self.first: dict[str, tuple[float, int]] = {}

    def line(self, name: str, p: dict[str, int], now: float) -> str:
        finished = p["done"] + p["failed"]
        t0, n0 = self.first.setdefault(name, (now, finished))
        rate = (finished - n0) / (now - t0) if now > t0 else 0.0
        left = p["total"] - finished
        eta = f"{left / rate:.0f}s" if rate > 0 else "?"
        pct = 100.0 * finished / p["total"] if p["total"] else 100.0
        width = 30
        bar = "#" * int(width * pct / 100) + "." * (width - int(width * pct / 100))
        return (
            f"  {name} [{bar}] {finished}/{p['total']} ({pct:.0f}%) failed {p['failed']}"
            f"  {rate:.0f} items/s  ETA {eta}"
        )


#: A query waits at most this long: a worker failing the task makes the server hold it.
QUERY_TIMEOUT = timedelta(seconds=5)


async def last_task_failure(handle: WorkflowHandle[Any, Any]) -> str | None:
    """The message of the execution's failing workflow task (None: its last task passed)."""
    from temporalio.api.enums.v1 import EventType

    message = None
    try:
        async for event in handle.fetch_history_events():
            if event.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_FAILED:
                message = event.workflow_task_failed_event_attributes.failure.message
            elif event.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED:
                message = None  # a later task went through: that failure is over
    except Exception:  # history unavailable: nothing more to say than the query did
        return None
    return message


async def follow(
    handle: WorkflowHandle[Any, Any],
    emit: Callable[[str], None] | None = None,
    poll: float = 0.25,
    progress: Callable[[str], None] | None = None,
) -> RunResult:
    """Wait for the result, emitting each state as the workflow enters it and, for running
    maps, a progress line (done/total, rate, ETA)."""
    seen: list[str] = []
    result_task = asyncio.ensure_future(handle.result())
    bars = MapProgress()
    loop = asyncio.get_running_loop()

    reported: set[str] = set()

    async def observe() -> None:
        try:
            snap = await handle.query(STATE_QUERY, rpc_timeout=QUERY_TIMEOUT)
        except Exception as exc:  # not started yet, or already closed: the result tells
            if "failed state" in str(exc) or "Timeout" in str(exc):
                # Temporal answers no query while a worker fails the task (e.g. a worker that
                # lacks the pinned content): say why the execution does not move.
                message = await last_task_failure(handle)
                if message and message not in reported and emit:
                    reported.add(message)
                    emit(f"  ! a worker fails this execution's workflow task: {message}")
            return
        trail = snap.get("trail", [])
        dropped = snap.get("trail_dropped", 0)
        for name in trail[max(0, len(seen) - dropped) :]:
            seen.append(name)
            if emit:
                emit(f"  -> {name}")
        if progress:
            for name, p in snap.get("maps", {}).items():
                if name in snap.get("current", []) and p.get("total"):
                    progress(bars.line(name, p, loop.time()))

    while not result_task.done():
        await observe()
        await asyncio.wait([result_task], timeout=poll)
    await observe()
    try:
        return RunResult(True, result_task.result(), states=seen, workflow_id=handle.id)
    except WorkflowFailureError as exc:
        return RunResult(False, error=describe_failure(exc), states=seen, workflow_id=handle.id)
