"""Stand-ins for the Lambda functions of the Step Functions example (in-process Python)."""

from __future__ import annotations

from typing import Any

from temporalio.exceptions import ApplicationError

PRICES = {"apple": 3, "pear": 4, "melon": 7}


def validate_order(payload: dict[str, Any]) -> dict[str, Any]:
    if payload["lineCount"] == 0:
        raise ApplicationError("an order needs lines", type="InvalidOrder", non_retryable=True)
    return {"valid": True, "orderId": payload["orderId"]}


def price_line(line: dict[str, Any]) -> dict[str, Any]:
    return {**line, "amount": PRICES.get(line["sku"], 10) * line["qty"]}


def reserve_stock(payload: dict[str, Any]) -> dict[str, Any]:
    return {"reservationId": f"R-{payload['orderId']}", "lines": len(payload["lines"])}


def charge_card(payload: dict[str, Any]) -> dict[str, Any]:
    if payload["card"].get("number", "").endswith("0000"):
        raise ApplicationError("card declined", type="CardDeclined", non_retryable=True)
    total = sum(line["amount"] for line in payload["lines"])
    return {"chargeId": f"C-{total}", "amount": total}
