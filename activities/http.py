"""The ``http(s)://`` provider: POST (or ``method``) the payload as JSON, return the JSON reply.

Error classes: 429 and 5xx and connection errors are retryable (``Retry-After`` honoured through
``next_retry_delay``); other 4xx, and 3xx (redirects are not followed), are not.
``${env:NAME}`` in a header value is read from the worker's environment so secrets never enter
workflow history.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from datetime import timedelta
from typing import Any

import httpx
from temporalio.exceptions import ApplicationError

from activities.config import ProvidersConfig
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
    return await send_json(request.function, request.method, request.uri, request.payload, headers)


async def send_json(
    function: str,
    method: str,
    url: str,
    payload: Any,
    headers: Mapping[str, str],
    timeout: float | None = None,
) -> Any:
    """Send ``payload`` as JSON and classify the outcome (the table in docs/dsl.md §5.4).

    Shared by the HTTP-based providers (http, azure-function, gcp-function). Messages and
    details name the function and the status, never a header value.
    """
    try:
        async with httpx.AsyncClient(timeout=timeout) as client:
            response = await client.request(method, url, json=payload, headers=dict(headers))
    except httpx.TimeoutException as exc:
        raise ApplicationError(
            f"function '{function}': {type(exc).__name__} calling {url}", type="Timeout"
        ) from None
    except httpx.HTTPError as exc:
        raise ApplicationError(
            f"function '{function}': {type(exc).__name__} calling {url}",
            type="ConnectionError",
        ) from None
    if response.status_code == 429 or response.status_code >= 500:
        raise ApplicationError(
            f"function '{function}': HTTP {response.status_code}",
            {"status": response.status_code},
            type="Throttled" if response.status_code == 429 else "HttpError",
            next_retry_delay=retry_after(response),
        )
    if response.status_code >= 300:  # redirects are not followed: a moved endpoint is a bug
        raise ApplicationError(
            f"function '{function}': HTTP {response.status_code}",
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


class HttpProvider:
    """``http(s)://`` URLs: no configuration; always available."""

    def __init__(self, providers: ProvidersConfig) -> None:
        self.providers = providers

    def problem(self, uri: str, options: Mapping[str, Any]) -> str | None:
        return None

    def target_key(self, request: InvokeRequest) -> str:
        return request.uri

    async def call(self, request: InvokeRequest) -> Any:
        return await call_http(request)
