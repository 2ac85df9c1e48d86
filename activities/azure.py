"""The ``azure-function:`` provider: call an HTTP-triggered Azure Function over HTTPS.

Targets: ``azure-function:APP/ROUTE`` (``https://APP.azurewebsites.net/api/ROUTE``, or the
worker's ``endpoint_url`` for that app) or ``azure-function:https://HOST/api/ROUTE``. The payload
is POSTed as JSON with an ``Idempotency-Key`` header (stable across retries of one call).

Credentials come from the worker (``azure:`` settings), never from the definition:

- ``auth: aad``: ``Authorization: Bearer`` with a token from azure-identity's
  ``DefaultAzureCredential`` for ``scope`` (default ``api://APP/.default``);
- ``auth: key``: ``x-functions-key`` read from ``key_file`` or the ``key_env`` variable;
- ``auth: none``.

Errors are those of the HTTP provider: 429 ``Throttled`` and 5xx ``HttpError`` are retried
(``Retry-After`` honoured), other 4xx are ``HttpError`` not retried, a connection failure is
``ConnectionError`` and a client timeout ``Timeout`` (both retried).
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from temporalio.exceptions import ApplicationError

from activities.config import AzureAppSettings, AzureSettings, ProvidersConfig
from activities.http import send_json
from activities.invoke import InvokeRequest

_APP = r"[A-Za-z0-9][A-Za-z0-9-]{0,58}"
SHORT = re.compile(rf"^(?P<app>{_APP})/(?P<route>[^\s?#]+)$")
FULL = re.compile(r"^(?P<base>https?://(?P<host>[A-Za-z0-9.-]+)(:\d+)?)/(?P<path>[^\s?#]*)$")


@dataclass(frozen=True)
class AzureTarget:
    app: str
    #: The URL without a worker override (``https://APP.azurewebsites.net/api/ROUTE``).
    url: str
    #: The path after the host, e.g. ``api/charge``.
    path: str


def parse_uri(uri: str) -> AzureTarget:
    """Parse an ``azure-function:`` URI; raises ``ValueError`` saying what is wrong."""
    rest = uri.removeprefix("azure-function:")
    full = FULL.match(rest)
    if full:
        app = full["host"].split(".", 1)[0]
        return AzureTarget(app, rest, full["path"])
    short = SHORT.match(rest)
    if short:
        path = f"api/{short['route'].strip('/')}"
        return AzureTarget(short["app"], f"https://{short['app']}.azurewebsites.net/{path}", path)
    raise ValueError(
        f"'{rest}' is not an Azure function: write azure-function:APP/ROUTE or "
        "azure-function:https://APP.azurewebsites.net/api/ROUTE"
    )


def uri_problem(uri: str) -> str | None:
    try:
        parse_uri(uri)
    except ValueError as exc:
        return str(exc)
    return None


class AzureProvider:
    """Call Azure Functions with the worker's ``azure:`` settings.

    ``credential`` replaces DefaultAzureCredential (any azure-core async ``TokenCredential``).
    """

    def __init__(self, providers: ProvidersConfig, credential: Any = None) -> None:
        self.settings: AzureSettings | None = providers.azure
        self._credential = credential

    def _app(self, target: AzureTarget) -> AzureAppSettings:
        return (self.settings or AzureSettings()).for_app(target.app)

    def url(self, target: AzureTarget) -> str:
        app = self._app(target)
        if app.endpoint_url:
            return f"{app.endpoint_url.rstrip('/')}/{target.path}"
        return target.url

    def problem(self, uri: str, options: Mapping[str, Any]) -> str | None:
        try:
            target = parse_uri(uri)
        except ValueError as exc:
            return str(exc)
        if self.settings is None:
            return (
                "the azure-function provider is not configured on this worker "
                "(add 'azure:' to the providers file or set NEXUS_AZURE_AUTH)"
            )
        app = self._app(target)
        if app.auth == "key" and not (
            (app.key_file and Path(app.key_file).is_file())
            or (app.key_env and app.key_env in os.environ)
        ):
            return (
                f"no function key for app '{target.app}': set the environment variable "
                f"{app.key_env or '(azure.key_env)'} or azure.key_file"
            )
        return None

    def target_key(self, request: InvokeRequest) -> str:
        return f"azure-function:{self.url(parse_uri(request.uri))}"

    async def _auth_headers(self, function: str, target: AzureTarget) -> dict[str, str]:
        app = self._app(target)
        if app.auth == "key":
            key = None
            if app.key_file and Path(app.key_file).is_file():
                key = Path(app.key_file).read_text().strip()
            elif app.key_env:
                key = os.environ.get(app.key_env)
            if not key:
                raise ApplicationError(
                    f"function '{function}': no function key for app '{target.app}' on the worker",
                    type="ProviderNotConfigured",
                    non_retryable=True,
                )
            return {"x-functions-key": key}
        if app.auth == "aad":
            scope = app.scope or f"api://{target.app}/.default"
            try:
                token = await self.credential().get_token(scope)
            except Exception as exc:  # azure-identity raises ClientAuthenticationError & co.
                raise ApplicationError(
                    f"function '{function}': cannot get an Azure AD token for '{scope}' "
                    f"({type(exc).__name__})",
                    type="AuthenticationFailed",
                ) from None
            return {"Authorization": f"Bearer {token.token}"}
        return {}

    def credential(self) -> Any:
        if self._credential is None:
            from azure.identity.aio import DefaultAzureCredential

            self._credential = DefaultAzureCredential()
        return self._credential

    async def call(self, request: InvokeRequest) -> Any:
        if self.settings is None:
            raise ApplicationError(
                f"function '{request.function}': the azure-function provider is not configured "
                "on this worker",
                type="ProviderNotConfigured",
                non_retryable=True,
            )
        target = parse_uri(request.uri)
        headers = await self._auth_headers(request.function, target)
        headers["Idempotency-Key"] = request.idempotency_key
        return await send_json(
            request.function,
            "POST",
            self.url(target),
            request.payload,
            headers,
            timeout=self.settings.timeout,
        )
