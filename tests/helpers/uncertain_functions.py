"""``python:`` functions for the uncertain-outcome compensation tests: a ledger of side
effects and undos keyed by the idempotency key of the call (shared with the test process)."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

from temporalio.exceptions import ApplicationError

from nexus_temporal import idempotency_key

#: (function, idempotency key, payload) in call order.
LEDGER: list[tuple[str, str, Any]] = []
_lock = threading.Lock()


def _log(fn: str, payload: Any) -> None:
    with _lock:
        LEDGER.append((fn, idempotency_key(), payload))


async def charge_then_hang(payload: Any) -> Any:
    """Does its side effect, then takes longer than its timeout: the reply never arrives."""
    _log("charge_then_hang", payload)
    await asyncio.sleep(10)
    return {"charged": True}


def charge(payload: Any) -> Any:
    _log("charge", payload)
    return {"id": f"ch-{len(LEDGER)}"}


def decline(payload: Any) -> Any:
    """A typed business error the function declares final: it did nothing."""
    _log("decline", payload)
    raise ApplicationError("card declined", type="CardDeclined", non_retryable=True)


def refund(payload: Any) -> Any:
    """The undo: tolerant of "nothing to undo" (it records what it was asked to undo)."""
    _log("refund", payload)
    return {"refunded": True}


def entries(marker: str) -> list[tuple[str, str, Any]]:
    """The ledger entries whose idempotency key contains ``marker`` (a workflow id)."""
    with _lock:
        return [e for e in LEDGER if marker in e[1]]
