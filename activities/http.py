"""The ``http(s)://`` provider: POST (or ``method``) the payload as JSON, return the JSON reply.

Error classes: 429 and 5xx and connection errors are retryable (``Retry-After`` honoured through
``next_retry_delay``); other 4xx, and 3xx (redirects are not followed), are not.

``${env:NAME}`` in a header value is read from the worker's environment, so secrets never enter
workflow history, but only for names the operator allows (``http.env_allow`` /
``NEXUS_HTTP_ENV_ALLOW``; default: none): a definition names endpoints, it does not get to read
every variable of the worker (codec keys, cloud credentials). A header holding such a secret is
sent only over https (plain http only to a loopback host).

What comes back is scrubbed (:mod:`activities.redact`): failure details, messages and results
never carry the credentials this request sent, URL userinfo or ``Bearer`` tokens, so an endpoint
echoing its request headers cannot move a secret into history.
"""

from __future__ import annotations

import ipaddress
import os
import re
from collections.abc import Mapping
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

import httpx
from temporalio.exceptions import ApplicationError

from activities.config import HttpSettings, ProvidersConfig
from activities.invoke import InvokeRequest
from activities.redact import Redactor, strip_userinfo
from nexus_temporal.errors import NexusTemporalError

_ENV = re.compile(r"\$\{env:([A-Za-z_][A-Za-z0-9_]*)\}")
MAX_RETRY_AFTER = 300.0
#: The most of a 3xx/4xx body kept in failure details (they are recorded in history).
MAX_BODY = 500

#: ``${env:NAME}`` names a variable the operator does not let definitions read.
SECRET_NOT_ALLOWED = "SecretNotAllowed"
#: A credential would cross the network in clear (plain http to a non-loopback host).
INSECURE_TRANSPORT = "InsecureTransport"
#: A credential would go to a host it does not belong to.
CREDENTIAL_NOT_ALLOWED = "CredentialNotAllowed"


class CredentialRefused(NexusTemporalError):
    """The worker will not send a credential for this call; ``type`` is the error type."""

    def __init__(self, type: str, message: str) -> None:
        super().__init__(message)
        self.type = type

    def error(self, function: str) -> ApplicationError:
        """The activity's error: non-retryable (the definition or the config must change)."""
        return ApplicationError(
            f"function '{function}': {self}",
            {"function": function},
            type=self.type,
            non_retryable=True,
        )


def is_loopback(host: str | None) -> bool:
    """Whether ``host`` is this machine (``localhost``, 127.0.0.0/8, ``::1``)."""
    if not host:
        return False
    name = host.strip("[]").lower().rstrip(".")
    if name == "localhost":
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def is_secure(url: str) -> bool:
    """Whether a credential may travel to ``url``: https, or plain http to loopback."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    return scheme == "https" or (scheme == "http" and is_loopback(parts.hostname))


def require_secure(url: str, what: str) -> None:
    """Raise :class:`CredentialRefused` (``InsecureTransport``) unless ``url`` is secure."""
    if not is_secure(url):
        raise CredentialRefused(
            INSECURE_TRANSPORT,
            f"refusing to send {what} over plain http to {strip_userinfo(url)}: use https "
            "(plain http is only allowed to a loopback host)",
        )


def env_names(value: str) -> list[str]:
    """The variables a header value reads with ``${env:NAME}``."""
    return _ENV.findall(value)


def retry_after(response: httpx.Response) -> timedelta | None:
    raw = response.headers.get("retry-after")
    if not raw:
        return None
    try:
        return timedelta(seconds=min(max(float(raw), 0.0), MAX_RETRY_AFTER))
    except ValueError:
        return None


async def send_json(
    function: str,
    method: str,
    url: str,
    payload: Any,
    headers: Mapping[str, str],
    timeout: float | None = None,
    redactor: Redactor | None = None,
) -> Any:
    """Send ``payload`` as JSON and classify the outcome (the table in docs/dsl.md §5.4).

    Shared by the HTTP-based providers (http, azure-function, gcp-function). Messages and
    details name the function and the status, never a header value; ``redactor`` holds the
    credentials this request sends, masked in everything returned (details, messages, result).
    """
    scrub = redactor or Redactor()
    target = httpx.URL(url)
    auth: httpx.BasicAuth | None = None
    if target.userinfo:
        # Userinfo goes as Basic auth, and off the URL httpx logs ("HTTP Request: POST ...").
        auth = httpx.BasicAuth(target.username, target.password)
        scrub.add(target.password)
        target = target.copy_with(userinfo=b"")
    try:
        async with httpx.AsyncClient(timeout=timeout) as client:
            response = await client.request(
                method, target, json=payload, headers=dict(headers), auth=auth
            )
    except httpx.TimeoutException as exc:
        raise ApplicationError(
            scrub.text(f"function '{function}': {type(exc).__name__} calling {url}"),
            type="Timeout",
        ) from None
    except httpx.HTTPError as exc:
        raise ApplicationError(
            scrub.text(f"function '{function}': {type(exc).__name__} calling {url}"),
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
            {"status": response.status_code, "body": bounded_body(response.text, scrub)},
            type="HttpError",
            non_retryable=True,
        )
    if not response.content:
        return None
    try:
        return scrub.values(response.json())
    except ValueError:
        return scrub.values(response.text)


def bounded_body(text: str, scrub: Redactor) -> str:
    """At most :data:`MAX_BODY` characters of a reply body, scrubbed.

    Scrubbing comes first (on a window long enough for any secret to be whole in it): cutting
    first could leave the start of a secret that no longer matches.
    """
    longest = max((len(s) for s in scrub.secrets), default=0)
    window = text[: MAX_BODY + longest + 256]
    return scrub.text(window)[:MAX_BODY]


class HttpProvider:
    """``http(s)://`` URLs: always available; ``${env:}`` reads only allowed variables."""

    def __init__(self, providers: ProvidersConfig) -> None:
        self.providers = providers
        self.settings: HttpSettings = providers.http

    def reserved(self) -> tuple[str, ...]:
        """Variables a pattern never unlocks besides ``config.RESERVED_ENV``: the Azure
        function key variables (a worker credential, whatever its name)."""
        azure = self.providers.azure
        if azure is None:
            return ()
        names = [azure.key_env, *(app.key_env for app in azure.apps.values())]
        return tuple(n for n in names if n)

    def _not_allowed(self, header: str, name: str) -> str:
        why = (
            f"{name} is a reserved worker variable, which a pattern never allows: list it exactly"
            if self.settings.reserved(name, self.reserved())
            else "list it"
        )
        return (
            f"header '{header}' reads ${{env:{name}}}, which this worker does not let "
            f"definitions read; if the endpoint should get it, the operator must allow it: {why} "
            f"in the providers file (http: {{env_allow: [{name}]}}) or in NEXUS_HTTP_ENV_ALLOW"
        )

    def headers_problem(self, uri: str, headers: Mapping[str, str]) -> str | None:
        """Why this worker will not send ``headers`` to ``uri`` (None: it will): a variable
        that is not allowed, or a secret over plain http. Checked at worker start, and at
        each call."""
        secret = False
        for header, value in headers.items():
            for name in env_names(value):
                if not self.settings.allows(name, self.reserved()):
                    return self._not_allowed(header, name)
                secret = True
        if secret and not is_secure(uri):
            return (
                f"a header holds a secret from the worker's environment; refusing to send it "
                f"over plain http to {strip_userinfo(uri)}: use https (plain http is only "
                "allowed to a loopback host)"
            )
        return None

    def problem(self, uri: str, options: Mapping[str, Any]) -> str | None:
        return None

    def target_key(self, request: InvokeRequest) -> str:
        # The breaker key is a metric label and appears in messages: never with userinfo.
        return strip_userinfo(request.uri)

    def _expand(self, request: InvokeRequest, redactor: Redactor) -> dict[str, str]:
        headers: dict[str, str] = {}
        secret = False
        for header, value in request.headers.items():

            def sub(match: re.Match[str], header: str = header) -> str:
                name = match.group(1)
                # Allowed first, set second: a definition cannot even probe which
                # variables exist.
                if not self.settings.allows(name, self.reserved()):
                    raise CredentialRefused(SECRET_NOT_ALLOWED, self._not_allowed(header, name))
                if name not in os.environ:
                    raise ApplicationError(
                        f"function '{request.function}': environment variable {name} (header "
                        f"'{header}') is not set on the worker",
                        type="ProviderNotConfigured",
                        non_retryable=True,
                    )
                redactor.add(os.environ[name])
                return os.environ[name]

            headers[header] = _ENV.sub(sub, value)
            secret = secret or bool(env_names(value))
        if secret:
            require_secure(request.uri, "a header holding a secret from the worker's environment")
        return headers

    async def call(self, request: InvokeRequest) -> Any:
        redactor = Redactor()
        try:
            headers = self._expand(request, redactor)
        except CredentialRefused as exc:
            raise exc.error(request.function) from None
        headers.setdefault("Idempotency-Key", request.idempotency_key)
        return await send_json(
            request.function,
            request.method,
            request.uri,
            request.payload,
            headers,
            redactor=redactor,
        )
