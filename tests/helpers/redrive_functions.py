"""Functions the redrive and rerun tests call (``python:tests.helpers.redrive_functions:NAME``).

Each call is counted in ``CALLS`` under ``(function, key)``, the key being the payload's
``order`` (or the item's ``n``). ``DOWN`` holds the keys for which ``ship`` and ``item`` fail,
as a function that is down does, until a test "fixes" it by removing them.
"""

from __future__ import annotations

import threading
from collections import Counter
from typing import Any

from temporalio.exceptions import ApplicationError

_lock = threading.Lock()
CALLS: Counter[tuple[str, Any]] = Counter()
DOWN: set[Any] = set()


def _count(fn: str, key: Any) -> None:
    with _lock:
        CALLS[(fn, key)] += 1


def calls(fn: str, key: Any) -> int:
    with _lock:
        return CALLS[(fn, key)]


def reserve(payload: dict[str, Any]) -> dict[str, Any]:
    _count("reserve", payload["order"])
    return {"reservation": f"r-{payload['order']}"}


def charge(payload: dict[str, Any]) -> dict[str, Any]:
    _count("charge", payload["order"])
    return {"charge_id": f"c-{payload['order']}"}


def ship(payload: dict[str, Any]) -> dict[str, Any]:
    _count("ship", payload["order"])
    if payload["order"] in DOWN:
        raise ApplicationError("shipping service unavailable", type="Unavailable")
    return {"tracking": f"t-{payload['order']}"}


def release(payload: dict[str, Any]) -> dict[str, Any]:
    _count("release", payload["order"])
    return {"released": True}


def refund(payload: dict[str, Any]) -> dict[str, Any]:
    _count("refund", payload["order"])
    return {"refunded": True}


def item(payload: dict[str, Any]) -> dict[str, Any]:
    key = (payload["run"], payload["n"])
    _count("item", key)
    if key in DOWN:
        raise ApplicationError(f"item {payload['n']} failed", type="ItemDown", non_retryable=True)
    return {"n": payload["n"], "double": payload["n"] * 2}


def step(payload: dict[str, Any]) -> dict[str, Any]:
    _count(f"step:{payload['step']}", payload["order"])
    return {"seen": payload.get("value")}
