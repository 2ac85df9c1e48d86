"""Functions for the adaptive-retry e2e tests (``python:tests.helpers.adaptive_functions:NAME``).

``brownout_static`` and ``brownout_adaptive`` are one behaviour behind two targets, so the two
retry policies are scored separately. The test flips :data:`PHASE`; every call is counted per
workflow in :data:`CALLS`.
"""

from __future__ import annotations

import asyncio
import threading
from collections import Counter
from typing import Any

from temporalio import activity
from temporalio.exceptions import ApplicationError

#: "healthy" (fast; a payload with ``blip`` fails its first attempt) or "brownout" (slow, and
#: the first ``BROWNOUT_FAILURES`` attempts of every call fail).
PHASE = {"value": "healthy"}
BROWNOUT_FAILURES = 4
BROWNOUT_LATENCY = 0.15
CALLS: Counter[tuple[str, str]] = Counter()
_lock = threading.Lock()


def _count(name: str) -> int:
    info = activity.info()
    with _lock:
        CALLS[(name, info.workflow_id or "")] += 1
    return info.attempt


async def _brownout(name: str, payload: dict[str, Any]) -> dict[str, Any]:
    attempt = _count(name)
    if PHASE["value"] == "brownout":
        await asyncio.sleep(BROWNOUT_LATENCY)
        if attempt <= BROWNOUT_FAILURES:
            raise ApplicationError("service browned out", type="ServiceUnavailable")
        return {"attempts": attempt}
    await asyncio.sleep(0.005)
    if payload.get("blip") and attempt == 1:
        raise ApplicationError("transient glitch", type="ServiceUnavailable")
    return {"attempts": attempt}


async def brownout_static(payload: dict[str, Any]) -> dict[str, Any]:
    return await _brownout("static", payload)


async def brownout_adaptive(payload: dict[str, Any]) -> dict[str, Any]:
    return await _brownout("adaptive", payload)


def always_down(payload: Any) -> Any:
    _count("down")
    raise ApplicationError("primary is down", type="ServiceUnavailable")


def backup(payload: Any) -> dict[str, Any]:
    _count("backup")
    return {"served": "backup"}


def blip_once(payload: Any) -> dict[str, Any]:
    """Fails its first attempt in every workflow, then succeeds."""
    attempt = _count("blip")
    if attempt == 1:
        raise ApplicationError("transient glitch", type="ServiceUnavailable")
    return {"attempts": attempt}


#: How long ``slow_static``/``slow_adaptive`` take: past the tests' 1 s start-to-close.
SLOW_SECONDS = 2.5


async def _slow(name: str) -> dict[str, Any]:
    attempt = _count(name)
    await asyncio.sleep(SLOW_SECONDS)
    return {"attempts": attempt}


async def slow_static(payload: Any) -> dict[str, Any]:
    """Every attempt runs past the start-to-close timeout."""
    return await _slow("slow-static")


async def slow_adaptive(payload: Any) -> dict[str, Any]:
    """Every attempt runs past the start-to-close timeout."""
    return await _slow("slow-adaptive")
