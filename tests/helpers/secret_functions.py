"""Functions for the payload encryption tests (``python:tests.helpers.secret_functions:NAME``):
they put the secret they are given into results, error messages, details and causes."""

from __future__ import annotations

from typing import Any

from temporalio.exceptions import ApplicationError


def check_token(payload: dict[str, Any]) -> dict[str, Any]:
    """Accepts the token, or (``strict``) rejects it with the token in the error message, its
    details and its cause's message."""
    token = payload["token"]
    if payload.get("strict"):
        raise ApplicationError(
            f"token {token} rejected", {"token": token}, type="Rejected", non_retryable=True
        ) from RuntimeError(f"upstream refused {token}")
    return {"accepted": token}
