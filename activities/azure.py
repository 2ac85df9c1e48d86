"""The ``azure-function:`` provider: call an HTTP-triggered Azure Function over HTTPS.

Targets: ``azure-function:APP/ROUTE`` (``https://APP.azurewebsites.net/api/ROUTE``, or the
worker's ``endpoint_url`` for that app) or ``azure-function:https://HOST/api/ROUTE``. The payload
is POSTed as JSON with an ``Idempotency-Key`` header (stable across retries of one call).

Credentials come from the worker (``azure:`` settings), never from the definition:

- ``auth: aad``: ``Authorization: Bearer`` with a token from azure-identity's
  ``DefaultAzureCredential`` for ``scope`` (default ``api://APP/.default``);
- ``auth: key``: ``x-functions-key`` read from ``key_file`` or the ``key_env`` variable;
- ``auth: none``.

They go only where they belong: ``APP.azurewebsites.net`` (or the ``endpoint_url`` the worker
configures for that app), over https (plain http only to a loopback host). A full-URL target on
any other host gets no credential: the call fails with ``CredentialNotAllowed`` (and the worker
refuses to start with such a target), unless the app's ``auth`` is ``none``.

Errors are those of the HTTP provider: 429 ``Throttled`` and 5xx ``HttpError`` are retried
(``Retry-After`` honoured), other 4xx are ``HttpError`` not retried, a connection failure is
``ConnectionError`` and a client timeout ``Timeout`` (both retried).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from temporalio.exceptions import ApplicationError

from activities.config import AzureAppSettings, AzureSettings, ProvidersConfig
from activities.http import (
    CREDENTIAL_NOT_ALLOWED,
    CredentialRefused,
    require_secure,
    send_json,
)
from activities.invoke import InvokeRequest
from activities.redact import Redactor, strip_userinfo
from nexus_temporal.dsl import targets as _targets
from nexus_temporal.dsl.targets import AzureTarget

# The URI syntax lives in the bottom layer, shared with `nexus validate`.
SHORT = _targets.AZURE_SHORT
FULL = _targets.AZURE_FULL
parse_uri = _targets.parse_azure_uri
uri_problem = _targets.azure_uri_problem

APP_DOMAIN = "azurewebsites.net"


@dataclass(frozen=True)
class Destination:
    """Where one call goes and whose credentials it may carry."""

    url: str
    #: The function app whose settings apply (the default AAD scope is ``api://APP``).
    app: str
    settings: AzureAppSettings
    #: The host is the app's own (``APP.azurewebsites.net``) or a configured endpoint_url.
    own: bool


def origin(url: str) -> tuple[str, str, int | None]:
    """(scheme, host, port) of ``url``, the default port spelled out."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    try:
        port = parts.port or {"https": 443, "http": 80}.get(scheme)
    except ValueError:  # out of range: matches no configured endpoint
        port = -1
    return scheme, (parts.hostname or "").lower(), port


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
        return self.destination(target).url

    def destination(self, target: AzureTarget) -> Destination:
        """Where the call goes, the app it belongs to, and whether the worker's credentials may
        go with it (``own`` False: a foreign host).

        A short target, or a full URL on ``APP.azurewebsites.net``, is the app's: the app's
        ``endpoint_url`` (if configured) replaces the host. A full URL on a configured
        ``endpoint_url``'s origin belongs to that app (``azure.apps`` first, then the
        provider-wide one) and is called as written. Any other host is foreign.
        """
        settings = self.settings or AzureSettings()
        wanted = origin(target.url)
        if not target.explicit or wanted[1] == f"{target.app.lower()}.{APP_DOMAIN}":
            app = self._app(target)
            if app.endpoint_url:
                url = f"{app.endpoint_url.rstrip('/')}/{target.path}"
                return Destination(url, target.app, app, own=True)
            return Destination(target.url, target.app, app, own=True)
        for name, own in settings.apps.items():
            if own.endpoint_url and origin(own.endpoint_url) == wanted:
                return Destination(target.url, name, settings.for_app(name), own=True)
        own_endpoint = bool(settings.endpoint_url) and origin(settings.endpoint_url or "") == wanted
        return Destination(target.url, target.app, self._app(target), own=own_endpoint)

    def _checked(self, target: AzureTarget) -> Destination:
        """The destination, if the worker's credentials may go there; else
        :class:`CredentialRefused` saying what to configure."""
        dest = self.destination(target)
        if dest.settings.auth == "none":
            return dest
        if not dest.own:
            raise CredentialRefused(
                CREDENTIAL_NOT_ALLOWED,
                f"{origin(dest.url)[1]} is neither an Azure Functions host (*.{APP_DOMAIN}) nor "
                "a configured azure endpoint_url, so the worker does not send its Azure "
                f"credentials (auth: {dest.settings.auth}) there: write azure-function:APP/ROUTE, "
                "or have the operator set azure.apps.<app>.endpoint_url to this host",
            )
        require_secure(dest.url, f"the Azure credentials (auth: {dest.settings.auth})")
        return dest

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
        try:
            dest = self._checked(target)
        except CredentialRefused as exc:
            return str(exc)
        app = dest.settings
        if app.auth == "key" and not (
            (app.key_file and Path(app.key_file).is_file())
            or (app.key_env and app.key_env in os.environ)
        ):
            return (
                f"no function key for app '{dest.app}': set the environment variable "
                f"{app.key_env or '(azure.key_env)'} or azure.key_file"
            )
        return None

    def target_key(self, request: InvokeRequest) -> str:
        # A metric label and part of messages: never with userinfo (an endpoint_url may have).
        return f"azure-function:{strip_userinfo(self.url(parse_uri(request.uri)))}"

    async def _auth_headers(self, function: str, dest: Destination) -> dict[str, str]:
        app = dest.settings
        if app.auth == "key":
            key = None
            if app.key_file and Path(app.key_file).is_file():
                key = Path(app.key_file).read_text().strip()
            elif app.key_env:
                key = os.environ.get(app.key_env)
            if not key:
                raise ApplicationError(
                    f"function '{function}': no function key for app '{dest.app}' on the worker",
                    type="ProviderNotConfigured",
                    non_retryable=True,
                )
            return {"x-functions-key": key}
        if app.auth == "aad":
            scope = app.scope or f"api://{dest.app}/.default"
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
        try:
            dest = self._checked(target)
        except CredentialRefused as exc:
            raise exc.error(request.function) from None
        headers = await self._auth_headers(request.function, dest)
        # The key or token is masked in whatever comes back (an echoing function, a 4xx body).
        redactor = Redactor()
        for value in headers.values():
            redactor.add(value)
            redactor.add(value.removeprefix("Bearer "))
        headers["Idempotency-Key"] = request.idempotency_key
        return await send_json(
            request.function,
            "POST",
            dest.url,
            request.payload,
            headers,
            timeout=self.settings.timeout,
            redactor=redactor,
        )
