"""Functions for the express enrichment example: short, in-memory calls."""

from __future__ import annotations

from typing import Any

from temporalio.exceptions import ApplicationError

COMPANIES = {"acme.com": ("Acme", 5000), "tiny.io": ("Tiny", 12)}


def validate(lead: dict[str, Any]) -> dict[str, Any]:
    if "@" not in str(lead.get("email", "")):
        raise ApplicationError("no valid email", type="InvalidLead", non_retryable=True)
    return {"valid": True}


def enrich(req: dict[str, Any]) -> dict[str, Any]:
    company, size = COMPANIES.get(req["email"].split("@", 1)[1], ("unknown", 1))
    return {"company": company, "size": size}


def route(req: dict[str, Any]) -> dict[str, Any]:
    return {"team": "enterprise" if req["size"] >= 1000 else "smb"}


def handoff(req: dict[str, Any]) -> dict[str, Any]:
    return {"ticket": f"T-{req['team']}-{req['email'].split('@')[0]}", "team": req["team"]}


def release(req: dict[str, Any]) -> dict[str, Any]:
    return {"released": req["team"]}
