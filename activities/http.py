"""The ``http(s)://`` provider: POST (or ``method``) the payload as JSON, return the JSON reply.

Error classes: 429 and 5xx and connection errors are retryable (``Retry-After`` honoured through
``next_retry_delay``); other 4xx, and 3xx (redirects are not followed), are not.
``${env:NAME}`` in a header value is read from the worker's environment so secrets never enter
workflow history.
"""

from __future__ import annotations

import os
import re
from datetime import timedelta
from typing import Any

import httpx
from temporalio.exceptions import ApplicationError

from activities.invoke import InvokeRequest

_ENV = re.compile(r"\$\{env:([A-Za-z_][A-Za-z0-9_]*)\}")
MAX_RETRY_AFTER = 300.0


def expand_env(value: str) -> str:
    def sub(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in os.environ:
            raise ApplicationError(
                f"environment variable {name} is not set on the worker",
                type="ProviderNotConfigured",
                non_retryable=True,
            )
        return os.environ[name]

    return _ENV.sub(sub, value)


def retry_after(response: httpx.Response) -> timedelta | None:
    raw = response.headers.get("retry-after")
    if not raw:
        return None
    try:
        return timedelta(seconds=min(max(float(raw), 0.0), MAX_RETRY_AFTER))
    except ValueError:
        return None


async def call_http(request: InvokeRequest) -> Any:
    headers = {k: expand_env(v) for k, v in request.headers.items()}
    headers.setdefault("Idempotency-Key", request.idempotency_key)
    try:
        async with httpx.AsyncClient(timeout=None) as client:
            response = await client.request(
                request.method, request.uri, json=request.payload, headers=headers
            )
    except httpx.HTTPError as exc:
        raise ApplicationError(
            f"function '{request.function}': {type(exc).__name__} calling {request.uri}",
            type="ConnectionError",
        ) from None
    if response.status_code == 429 or response.status_code >= 500:
        raise ApplicationError(
            f"function '{request.function}': HTTP {response.status_code}",
            {"status": response.status_code},
            type="Throttled" if response.status_code == 429 else "HttpError",
            next_retry_delay=retry_after(response),
        )
    if response.status_code >= 300:  # redirects are not followed: a moved endpoint is a bug
        raise ApplicationError(
            f"function '{request.function}': HTTP {response.status_code}",
            {"status": response.status_code, "body": response.text[:500]},
            type="HttpError",
            non_retryable=True,
        )
    if not response.content:
        return None
    try:
        return response.json()
    except ValueError:
        return response.text
