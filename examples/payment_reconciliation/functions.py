"""Functions for the payment reconciliation example, registered by activity-type name."""

from __future__ import annotations

from typing import Any

from temporalio.exceptions import ApplicationError

import nexus_temporal

BALANCES = {"u1": 100, "u2": 5}


@nexus_temporal.function("validate-user-function")
def validate_user(data: dict[str, Any]) -> dict[str, Any]:
    if data.get("user") not in BALANCES:
        raise ApplicationError(
            f"unknown user {data.get('user')!r}", type="InvalidUser", non_retryable=True
        )
    return {"valid": True}


@nexus_temporal.function("check-balance-function")
def check_balance(data: dict[str, Any]) -> dict[str, Any]:
    balance = BALANCES[data["user"]]
    if balance < data["amount"]:
        raise ApplicationError(
            f"balance {balance} is below {data['amount']}",
            type="InsufficientFunds",
            non_retryable=True,
        )
    return {"balance": balance}


@nexus_temporal.function("execute-transfer-function")
def execute_transfer(data: dict[str, Any]) -> dict[str, Any]:
    return {"transfer_id": f"tx-{data['user']}-{data['amount']}", "amount": data["amount"]}


@nexus_temporal.function("log-transaction-function")
def log_transaction(data: dict[str, Any]) -> dict[str, Any]:
    return {"logged": data["ExecuteTransfer"]["transfer_id"]}


@nexus_temporal.function("refund-user")
def refund_user(data: dict[str, Any]) -> dict[str, Any]:
    return {"refunded": data["user"]}


@nexus_temporal.function("reverse-transfer")
def reverse_transfer(data: dict[str, Any]) -> dict[str, Any]:
    return {"reversed": data["ExecuteTransfer"]["transfer_id"]}
