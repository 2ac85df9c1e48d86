"""The ``nexus.invoke`` activity: call a function URI through the provider for its scheme.

This is activity code: anything goes (I/O, clocks, credentials). Its input is recorded in
history, so it carries no secrets: headers may name ``${env:VAR}``, resolved here on the worker.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from temporalio import activity
from temporalio.exceptions import ApplicationError

INVOKE_ACTIVITY = "nexus.invoke"


@dataclass
class InvokeRequest:
    """What the workflow sends to ``nexus.invoke``."""

    function: str
    uri: str
    payload: Any = None
    idempotency_key: str = ""
    state: str = ""
    method: str = "POST"
    headers: dict[str, str] = field(default_factory=dict)


@activity.defn(name=INVOKE_ACTIVITY)
async def invoke(request: InvokeRequest) -> Any:
    """Dispatch on the URI scheme; each provider classifies its own errors."""
    scheme = request.uri.split(":", 1)[0]
    if scheme == "python":
        from activities.python import call_python

        return await call_python(request)
    if scheme in ("http", "https"):
        from activities.http import call_http

        return await call_http(request)
    raise ApplicationError(
        f"function '{request.function}': no provider for '{scheme}:' on this worker",
        type="ProviderNotConfigured",
        non_retryable=True,
    )
