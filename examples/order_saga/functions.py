"""Functions for the order saga, called through python: URIs."""

from __future__ import annotations

from typing import Any

from temporalio.exceptions import ApplicationError


def reserve_stock(req: dict[str, Any]) -> dict[str, Any]:
    return {"reservation_id": f"res-{req['order']}", "items": len(req["items"])}


def release_stock(req: dict[str, Any]) -> dict[str, Any]:
    return {"released": req["reservation"]}


def charge_card(req: dict[str, Any]) -> dict[str, Any]:
    return {"charge_id": f"ch-{req['order']}", "amount": req["amount"]}


def refund_card(req: dict[str, Any]) -> dict[str, Any]:
    return {"refunded": req["charge_id"], "amount": req["amount"]}


def book_shipping(req: dict[str, Any]) -> dict[str, Any]:
    if "nowhere" in str(req.get("address", "")).lower():
        raise ApplicationError(
            "carrier rejected the address", type="AddressRejected", non_retryable=True
        )
    return {"tracking": f"TRK-{req['order']}"}
