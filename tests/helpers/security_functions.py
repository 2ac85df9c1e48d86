"""Functions the trust-boundary tests call through ``python:tests.helpers.security_functions``.

``CALLS`` records every call in this process, so a test can assert that a function an attacker
tried to reach never ran.
"""

from __future__ import annotations

from typing import Any

from temporalio.exceptions import ApplicationError

CALLS: list[tuple[str, Any]] = []


def reserve(payload: Any) -> dict[str, Any]:
    CALLS.append(("reserve", payload))
    return {"reservation": f"r-{payload.get('n', 0)}", "n": payload.get("n", 0)}


def release(payload: Any) -> dict[str, Any]:
    CALLS.append(("release", payload))
    return {"released": payload}


def ship(payload: Any) -> dict[str, Any]:
    CALLS.append(("ship", payload))
    return {"shipped": True}


def refuse(payload: Any) -> Any:
    CALLS.append(("refuse", payload))
    raise ApplicationError("no way", type="Refused", non_retryable=True)


def item(payload: Any) -> Any:
    return {"seen": payload}


def calls(name: str) -> list[Any]:
    return [p for n, p in CALLS if n == name]
