"""Errors that route inside the interpreter.

A :class:`NexusError` is what a ``catch`` matches on: its ``type`` comes from what history records
(an activity's ``ApplicationError.type``, ``Timeout``, a ``fail`` state's ``error``), never from
worker-local state, so routing is the same on replay.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from temporalio.exceptions import (
    ActivityError,
    ApplicationError,
    CancelledError,
    ChildWorkflowError,
    TimeoutError,
)

from nexus_temporal.errors import NexusTemporalError
from nexus_temporal.protocol import ATTEMPT_TIMED_OUT

#: The error type of an attempt the worker cut at its deadline (``retry.policy: adaptive``,
#: workers/resilience.py); routed as ``Timeout``, like the server's start-to-close timeout.
WORKER_TIMEOUT = ATTEMPT_TIMED_OUT


@dataclass
class NexusError(NexusTemporalError):
    type: str
    message: str
    state: str | None = None
    details: Any = None
    compensations: list[dict[str, Any]] = field(default_factory=list)
    #: The original message where an enclosing state (a parallel) prefixed ``message``; None
    #: when ``message`` is the original.
    cause: str | None = None

    def __str__(self) -> str:
        where = f"state '{self.state}' failed: " if self.state else ""
        return f"{where}{self.type}: {self.message}"

    def to_data(self) -> dict[str, Any]:
        """The error as the catching state's data sees it."""
        out: dict[str, Any] = {"type": self.type, "message": self.message, "state": self.state}
        if self.details is not None:
            out["details"] = self.details
        if self.cause is not None:
            out["cause"] = self.cause
        return out


def from_temporal(exc: BaseException, state: str) -> NexusError:
    """Translate an activity or child failure into a routable :class:`NexusError`."""
    cause: BaseException | None = exc
    while isinstance(cause, (ActivityError, ChildWorkflowError)) and cause.cause is not None:
        cause = cause.cause
    if isinstance(cause, ApplicationError):
        details = list(cause.details) if cause.details else None
        if cause.type == WORKER_TIMEOUT:
            # The adaptive policy's worker-side start-to-close: a timeout like the server's.
            return NexusError("Timeout", f"timed out (start_to_close): {cause.message}", state)
        return NexusError(
            cause.type or "Error",
            cause.message,
            state,
            details[0] if details and len(details) == 1 else details,
        )
    if isinstance(cause, TimeoutError):
        kind = cause.type.name.lower() if cause.type is not None else "unknown"
        return NexusError("Timeout", f"timed out ({kind})", state)
    if isinstance(cause, CancelledError):
        return NexusError("Cancelled", str(cause) or "cancelled", state)
    text = getattr(cause, "message", None) or str(cause)
    return NexusError(type(cause).__name__ if cause else "Error", text, state)


def from_child(exc: BaseException, state: str) -> NexusError:
    """Translate a NEXUS child workflow's failure into the shape of a task's error: the child's
    own type, its raw message and its details (not the parent-facing ``state 'X' failed: ...``
    message with the child's failure record as details). Anything else (a child that timed
    out, was terminated, or is not a NEXUS workflow) translates as :func:`from_temporal` does.
    """
    cause: BaseException | None = exc
    while isinstance(cause, (ActivityError, ChildWorkflowError)) and cause.cause is not None:
        cause = cause.cause
    if isinstance(cause, ApplicationError) and cause.details and len(cause.details) == 1:
        record = cause.details[0]
        if isinstance(record, dict) and {"type", "message", "details"} <= record.keys():
            return NexusError(
                str(record["type"] or cause.type or "Error"),
                str(record["message"]),
                state,
                record["details"],
            )
    return from_temporal(exc, state)


def matches(errors: tuple[str, ...], error_type: str) -> bool:
    return "*" in errors or error_type in errors
