"""Functions for the approval flow, called through python: URIs."""

from __future__ import annotations

from typing import Any


def notify_manager(req: dict[str, Any]) -> dict[str, Any]:
    return {"notified": True, "expense": req["expense"]}


def record_decision(req: dict[str, Any]) -> dict[str, Any]:
    decision = req["decision"]
    return {"expense": req["expense"], "approved": decision["approved"], "by": decision["by"]}
