"""Functions for the parcel routing example, called through python: URIs."""

from __future__ import annotations

from typing import Any

from temporalio.exceptions import ApplicationError


def scan_at_hub(req: dict[str, Any]) -> dict[str, Any]:
    if req["hub"] == "CLOSED":
        raise ApplicationError(
            f"hub for parcel {req['parcel']} is closed", type="HubClosed", non_retryable=True
        )
    return {"parcel": req["parcel"], "hub": req["hub"], "leg": req["leg"]}


def deliver(req: dict[str, Any]) -> dict[str, Any]:
    return {"parcel": req["parcel"], "delivered": True, "via": req["hubs"], "from": req["last"]}
