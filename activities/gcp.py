"""The ``gcp-function:`` provider: call an HTTP Google Cloud Function (2nd gen).

Target: ``gcp-function:projects/PROJECT/locations/LOCATION/functions/NAME``. The function's
HTTPS endpoint is resolved once per worker process with google-cloud-functions
(``FunctionServiceClient.get_function``, v2) and cached; the call carries a Google ID token
whose audience is that endpoint (google-auth: the worker's service account key file, else
Application Default Credentials) and an ``Idempotency-Key`` header.

Errors: resolving — ``FunctionNotFound`` (404) and ``AccessDenied`` (401/403) are not retried,
any other API failure is ``ServiceError`` (retried); getting the ID token fails with
``AuthenticationFailed`` (retried); the call itself has the HTTP provider's classes (429
``Throttled`` and 5xx ``HttpError`` retried with ``Retry-After`` honoured, other 4xx
``HttpError`` not retried, ``ConnectionError`` and ``Timeout`` retried).

The ID token goes only to a Cloud Functions / Cloud Run host (``*.cloudfunctions.net``,
``*.run.app``) over https, or to a loopback host (the local emulator): a resolved URL anywhere
else fails with ``CredentialNotAllowed`` (``InsecureTransport`` for plain http) instead of
handing the token to it.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from temporalio.exceptions import ApplicationError

from activities.config import GcpSettings, ProvidersConfig
from activities.http import (
    CREDENTIAL_NOT_ALLOWED,
    CredentialRefused,
    is_loopback,
    require_secure,
    send_json,
)
from activities.invoke import InvokeRequest
from activities.redact import Redactor
from nexus_temporal.dsl import targets as _targets

# The URI syntax lives in the bottom layer, shared with `nexus validate`.
NAME = _targets.GCP_NAME
resource_name = _targets.gcp_resource_name
uri_problem = _targets.gcp_uri_problem

#: Where Google serves HTTP functions (2nd gen: Cloud Run; 1st gen URLs: cloudfunctions.net).
FUNCTION_DOMAINS = ("run.app", "cloudfunctions.net")


def check_token_destination(url: str) -> None:
    """Raise :class:`CredentialRefused` unless an ID token may be sent to ``url``."""
    host = (urlsplit(url).hostname or "").lower()
    if not (is_loopback(host) or any(host.endswith("." + d) for d in FUNCTION_DOMAINS)):
        raise CredentialRefused(
            CREDENTIAL_NOT_ALLOWED,
            f"the resolved function URL's host {host or '(none)'} is not a Cloud Functions host "
            f"({', '.join('*.' + d for d in FUNCTION_DOMAINS)}), so the worker does not send "
            "its Google ID token there: check gcp.functions_endpoint",
        )
    require_secure(url, "a Google ID token")


class GcpProvider:
    """Resolve and call Cloud Functions with the worker's ``gcp:`` settings."""

    def __init__(self, providers: ProvidersConfig) -> None:
        self.settings: GcpSettings | None = providers.gcp
        self._lock = threading.Lock()
        self._client: Any = None
        self._urls: dict[str, str] = {}
        self._id_credentials: dict[str, Any] = {}

    def problem(self, uri: str, options: Mapping[str, Any]) -> str | None:
        try:
            resource_name(uri)
        except ValueError as exc:
            return str(exc)
        if self.settings is None:
            return (
                "the gcp-function provider is not configured on this worker "
                "(add 'gcp:' to the providers file or set NEXUS_GCP_AUTH)"
            )
        file = self.settings.credentials_file
        if file and not Path(file).is_file():
            return f"gcp.credentials_file '{file}' does not exist"
        return None

    def target_key(self, request: InvokeRequest) -> str:
        return request.uri

    def client(self) -> Any:
        with self._lock:
            if self._client is None:
                from google.cloud import functions_v2

                settings = self.settings or GcpSettings()
                endpoint = settings.functions_endpoint
                if endpoint and endpoint.startswith("http://"):
                    # A local emulator: plain REST, no credentials.
                    from google.auth.credentials import AnonymousCredentials

                    self._client = functions_v2.FunctionServiceClient(
                        credentials=AnonymousCredentials(),  # type: ignore[no-untyped-call]
                        transport="rest",
                        client_options={"api_endpoint": endpoint},
                    )
                else:
                    options = {"api_endpoint": endpoint} if endpoint else None
                    credentials = None
                    if settings.credentials_file:
                        from google.oauth2 import service_account

                        credentials = service_account.Credentials.from_service_account_file(
                            settings.credentials_file,
                            scopes=["https://www.googleapis.com/auth/cloud-platform"],
                        )
                    self._client = functions_v2.FunctionServiceClient(
                        credentials=credentials, client_options=options
                    )
            return self._client

    def _resolve(self, function: str, name: str) -> str:
        with self._lock:
            if name in self._urls:
                return self._urls[name]
        from google.api_core import exceptions as gexc

        try:
            fn = self.client().get_function(name=name, timeout=30.0)
        except gexc.NotFound:
            raise ApplicationError(
                f"function '{function}': Cloud Function {name} not found",
                type="FunctionNotFound",
                non_retryable=True,
            ) from None
        except (gexc.PermissionDenied, gexc.Unauthenticated) as exc:
            raise ApplicationError(
                f"function '{function}': not allowed to read {name} ({type(exc).__name__})",
                type="AccessDenied",
                non_retryable=True,
            ) from None
        except Exception as exc:
            raise ApplicationError(
                f"function '{function}': resolving {name} failed ({type(exc).__name__})",
                type="ServiceError",
            ) from None
        url = fn.service_config.uri or fn.url
        if not url:
            raise ApplicationError(
                f"function '{function}': {name} has no HTTPS endpoint (not an HTTP function?)",
                type="InvalidRequest",
                non_retryable=True,
            )
        with self._lock:
            self._urls[name] = url
        return str(url)

    def _id_token(self, function: str, audience: str) -> str:
        import google.auth.transport.requests
        from google.oauth2 import id_token, service_account

        settings = self.settings or GcpSettings()
        request = google.auth.transport.requests.Request()  # type: ignore[no-untyped-call]
        try:
            with self._lock:
                creds = self._id_credentials.get(audience)
                if creds is None:
                    if settings.credentials_file:
                        creds = service_account.IDTokenCredentials.from_service_account_file(
                            settings.credentials_file, target_audience=audience
                        )
                    else:
                        creds = id_token.fetch_id_token_credentials(audience, request)
                    self._id_credentials[audience] = creds
            if not creds.valid:
                creds.refresh(request)
            return str(creds.token)
        except Exception as exc:  # google.auth.exceptions.* and transport errors
            raise ApplicationError(
                f"function '{function}': cannot get a Google ID token ({type(exc).__name__})",
                type="AuthenticationFailed",
            ) from None

    async def call(self, request: InvokeRequest) -> Any:
        if self.settings is None:
            raise ApplicationError(
                f"function '{request.function}': the gcp-function provider is not configured "
                "on this worker",
                type="ProviderNotConfigured",
                non_retryable=True,
            )
        name = resource_name(request.uri)
        url = await asyncio.to_thread(self._resolve, request.function, name)
        headers = {"Idempotency-Key": request.idempotency_key}
        redactor = Redactor()
        if self.settings.auth == "id-token":
            try:
                check_token_destination(url)
            except CredentialRefused as exc:
                raise exc.error(request.function) from None
            token = await asyncio.to_thread(self._id_token, request.function, url)
            headers["Authorization"] = f"Bearer {token}"
            redactor.add(token)
        return await send_json(
            request.function,
            "POST",
            url,
            request.payload,
            headers,
            timeout=self.settings.timeout,
            redactor=redactor,
        )
