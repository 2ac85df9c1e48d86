"""Stub Lambda functions shared by both sides of the differential tests.

The ASL oracle (``asl_oracle.py``) serves every Lambda call of a machine run in moto with the
function of this module named like the Lambda function; the converted NEXUS YAML has its
``aws-lambda:NAME`` targets rewritten to ``python:tests.stepfunctions.diff_stubs:NAME``. Both
interpreters therefore call the same Python code with the payload their data flow produced.

Errors are raised as ``ApplicationError(type=...)``: moto sees them as a Lambda
``FunctionError`` whose ``errorType`` is that type, NEXUS as an error of that type. They are
retryable, so only the machine's own ``Retry`` decides whether they are retried.
"""

from __future__ import annotations

import threading
from typing import Any

from temporalio.exceptions import ApplicationError

_lock = threading.Lock()
_attempts: dict[str, int] = {}


def echo(payload: Any) -> Any:
    """Returns its input unchanged."""
    return payload


def wrap(payload: Any) -> Any:
    """Returns ``{"got": payload}``: shows exactly what the task was sent."""
    return {"got": payload}


def add(payload: dict[str, Any]) -> dict[str, Any]:
    """``{"a": x, "b": y}`` -> ``{"sum": x + y}``."""
    return {"sum": payload["a"] + payload["b"]}


def double(payload: Any) -> Any:
    """A number -> twice it; ``{"n": x}`` -> ``{"n": x, "double": 2x}``."""
    if isinstance(payload, dict):
        return {**payload, "double": payload["n"] * 2}
    return payload * 2


def fail(payload: Any) -> Any:
    """Always fails with ``payload.error`` (default ``CustomError``) as the error type."""
    error = payload.get("error", "CustomError") if isinstance(payload, dict) else "CustomError"
    message = payload.get("message", "stub failure") if isinstance(payload, dict) else "stub"
    raise ApplicationError(str(message), type=str(error))


def fail_if(payload: dict[str, Any]) -> Any:
    """Fails with ``BadItem`` when ``payload.bad`` is true, else returns ``{"ok": payload.n}``."""
    if payload.get("bad"):
        raise ApplicationError(f"item {payload.get('n')} is bad", type="BadItem")
    return {"ok": payload.get("n")}


def flaky(payload: dict[str, Any]) -> dict[str, Any]:
    """Fails ``fail_times`` times per ``key`` (error ``payload.error``, default ``Flaky``),
    then returns ``{"key": key, "attempts": n}``. Counters are reset by ``reset_attempts``."""
    key = str(payload["key"])
    with _lock:
        _attempts[key] = _attempts.get(key, 0) + 1
        n = _attempts[key]
    if n <= int(payload.get("fail_times", 1)):
        raise ApplicationError(f"attempt {n} failed", type=str(payload.get("error", "Flaky")))
    return {"key": key, "attempts": n}


def reset_attempts() -> None:
    """Forget every ``flaky`` counter (between the oracle run and the NEXUS run)."""
    with _lock:
        _attempts.clear()


#: The stubs by Lambda function name.
STUBS = {
    "echo": echo,
    "wrap": wrap,
    "add": add,
    "double": double,
    "fail": fail,
    "fail_if": fail_if,
    "flaky": flaky,
}
