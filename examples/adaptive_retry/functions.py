"""Functions of the adaptive-retry example: an inventory service with a one-off glitch per SKU,
and a pricing service that may be down, backed by a cached price."""

from __future__ import annotations

import threading
from typing import Any

from temporalio.exceptions import ApplicationError

_lock = threading.Lock()
_seen: set[str] = set()


def inventory(payload: dict[str, Any]) -> dict[str, Any]:
    """Fails the first call for each SKU (an isolated blip), then answers."""
    with _lock:
        first = payload["sku"] not in _seen
        _seen.add(payload["sku"])
    if first:
        raise ApplicationError("inventory glitch", type="ServiceUnavailable")
    return {"sku": payload["sku"], "in_stock": True}


def pricing(payload: dict[str, Any]) -> dict[str, Any]:
    """The live price, unless the payload says the service is down."""
    if payload.get("down"):
        raise ApplicationError("pricing is down", type="ServiceUnavailable")
    return {"price": 42.0}


def cached_price(payload: dict[str, Any]) -> dict[str, Any]:
    """Yesterday's price: always available."""
    return {"price": 40.0}
