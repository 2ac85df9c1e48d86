"""Functions the interpreter tests call through ``python:tests.helpers.functions:NAME``.

They keep no hidden state that a test relies on except where named (``flaky``), so tests can
run in any order against one shared server.
"""

from __future__ import annotations

import asyncio
import threading
from typing import Any

from temporalio import activity
from temporalio.exceptions import ApplicationError

_lock = threading.Lock()
_attempts: dict[str, int] = {}
CALLS: list[dict[str, Any]] = []


def echo(payload: Any) -> Any:
    CALLS.append({"fn": "echo", "payload": payload})
    return payload


def add(payload: dict[str, Any]) -> dict[str, Any]:
    return {"sum": payload["a"] + payload["b"]}


def boom(payload: Any) -> Any:
    kind = payload.get("kind", "Boom") if isinstance(payload, dict) else "Boom"
    raise ApplicationError(f"boom: {kind}", {"payload": payload}, type=kind, non_retryable=True)


def value_error(payload: Any) -> Any:
    raise ValueError("plain python error")


def flaky(payload: dict[str, Any]) -> dict[str, Any]:
    """Fails ``fail_times`` times per ``key`` before succeeding; returns the attempt count."""
    key = payload["key"]
    with _lock:
        _attempts[key] = _attempts.get(key, 0) + 1
        n = _attempts[key]
    if n <= payload.get("fail_times", 1):
        raise ApplicationError(f"flaky attempt {n}", type="Flaky")
    return {"attempts": n, "activity_attempt": activity.info().attempt}


async def sleep_then_echo(payload: dict[str, Any]) -> Any:
    await asyncio.sleep(float(payload.get("seconds", 1)))
    return payload


def record(payload: Any) -> Any:
    CALLS.append({"fn": "record", "payload": payload})
    return {"recorded": payload}


def key(payload: Any) -> Any:
    return {"key": payload}


def maybe_fail(payload: dict[str, Any]) -> dict[str, Any]:
    """Fails (non-retryable) when ``fail`` is true; returns the doubled ``n``."""
    if payload.get("fail"):
        raise ApplicationError(
            f"item {payload.get('n')} is bad", type="BadItem", non_retryable=True
        )
    return {"n": payload["n"], "double": payload["n"] * 2}


def sum_batch(items: list[dict[str, Any]]) -> list[int]:
    return [item["n"] * 10 for item in items]


def ledger_effect(payload: dict[str, Any]) -> dict[str, Any]:
    """An idempotent side effect: recorded once per idempotency key in a SQLite ledger; every
    call (including re-runs after a crash) is counted separately."""
    import sqlite3
    import time

    import nexus_temporal

    key = nexus_temporal.idempotency_key()
    with sqlite3.connect(payload["ledger"], timeout=30) as db:
        db.execute("CREATE TABLE IF NOT EXISTS effects (key TEXT PRIMARY KEY, n INTEGER)")
        db.execute("CREATE TABLE IF NOT EXISTS calls (key TEXT)")
        db.execute("INSERT INTO calls VALUES (?)", (key,))  # every start, even if killed later
    time.sleep(float(payload.get("sleep", 0)))
    with sqlite3.connect(payload["ledger"], timeout=30) as db:
        db.execute("INSERT OR IGNORE INTO effects VALUES (?, ?)", (key, payload["n"]))
    return {"key": key}


def huge(payload: Any) -> str:
    return "x" * 2_500_000
