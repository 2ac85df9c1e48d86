"""Functions for the chained workflows example, called through python: URIs."""

from __future__ import annotations

from typing import Any

from temporalio.exceptions import ApplicationError

SANCTIONED = {"XX"}


def screen(req: dict[str, Any]) -> dict[str, Any]:
    if req["country"] in SANCTIONED:
        raise ApplicationError(
            f"{req['name']} failed screening", type="KycRejected", non_retryable=True
        )
    return {"risk": "low" if req["country"] in {"NL", "DE", "FR"} else "medium"}


def create_account(req: dict[str, Any]) -> dict[str, Any]:
    return {"account": f"acc-{req['name'].lower()}", "risk": req["risk"]}


def send_welcome(req: dict[str, Any]) -> dict[str, Any]:
    return {"sent": True, "account": req["account"]}
