"""The ``aws-lambda:`` provider: invoke a Lambda function synchronously with boto3.

Targets: ``aws-lambda:NAME``, ``aws-lambda:NAME:QUALIFIER`` or
``aws-lambda:arn:aws:lambda:REGION:ACCOUNT:function:NAME[:QUALIFIER]``; the function's
``region`` and ``qualifier`` options override. The region comes from the option, else the ARN,
else the worker's ``aws.region``.

botocore's own retries are off (one HTTP attempt per activity attempt): Temporal is the only
retry layer. The idempotency key travels in the client context,
``context.client_context.custom["idempotency_key"]`` in the handler.

Error classification (the ``type`` of the ``ApplicationError``):

======================================================  =====================  =========
Outcome                                                 Type                   Retried
======================================================  =====================  =========
handler raised (``FunctionError``)                      the payload's          yes
                                                        ``errorType``, else
                                                        ``FunctionError``
``TooManyRequestsException`` / HTTP 429                 ``Throttled``          yes, after
                                                                               Retry-After
``ResourceNotFoundException``                           ``FunctionNotFound``   no
403, ``AccessDeniedException``, bad signature           ``AccessDenied``       no
``ResourceConflictException``,                          ``ServiceError``       yes
``ResourceNotReadyException``, any 5xx
any other 4xx (invalid request content, parameter,      ``InvalidRequest``     no
payload too large, ...)
connection failure                                      ``ConnectionError``    yes
connect or read timeout                                 ``Timeout``            yes
no credentials                                          ``ProviderNotConfigured``  no
signed request to a plain-http, non-loopback endpoint   ``InsecureTransport``  no
======================================================  =====================  =========

The ``endpoint_url`` is the operator's (trusted), but a signed request carries the access key
id and any session token in headers: it goes over https only (plain http to loopback, e.g. the
emulator, or ``unsigned``). Messages never carry URL userinfo or bearer tokens.
"""

from __future__ import annotations

import asyncio
import base64
import json
import re
import threading
from collections.abc import Mapping
from datetime import timedelta
from typing import Any

from temporalio.exceptions import ApplicationError

from activities.config import AwsSettings, ProvidersConfig
from activities.http import CredentialRefused, require_secure
from activities.invoke import InvokeRequest
from activities.redact import scrub_text, strip_userinfo
from nexus_temporal.dsl import targets as _targets
from nexus_temporal.dsl.targets import LambdaTarget

# The URI syntax lives in the bottom layer, shared with `nexus validate`.
ARN = _targets.LAMBDA_ARN
SHORT = _targets.LAMBDA_SHORT
parse_uri = _targets.parse_lambda_uri
uri_problem = _targets.lambda_uri_problem

REGION = re.compile(r"^[a-z]{2}(-[a-z]+)+-\d$")
MAX_RETRY_AFTER = 300.0
#: Error codes that mean "try again later", whatever their HTTP status.
_RETRYABLE_CODES = ("ResourceConflictException", "ResourceNotReadyException")
_THROTTLE_CODES = ("TooManyRequestsException", "ThrottlingException", "EC2ThrottledException")
_ACCESS_CODES = (
    "AccessDeniedException",
    "UnrecognizedClientException",
    "InvalidSignatureException",
    "ExpiredTokenException",
)


class LambdaProvider:
    """Invoke Lambda functions with the worker's ``aws:`` settings; one boto3 client per
    region, created on first use."""

    def __init__(self, providers: ProvidersConfig) -> None:
        self.settings: AwsSettings | None = providers.aws
        self._clients: dict[str, Any] = {}
        self._lock = threading.Lock()

    def _region(self, target: LambdaTarget, options: Mapping[str, Any]) -> str | None:
        settings = self.settings or AwsSettings()
        return options.get("region") or target.region or settings.region

    def problem(self, uri: str, options: Mapping[str, Any]) -> str | None:
        try:
            target = parse_uri(uri)
        except ValueError as exc:
            return str(exc)
        if self.settings is None:
            return (
                "the aws-lambda provider is not configured on this worker "
                "(add 'aws:' to the providers file or set NEXUS_AWS_REGION)"
            )
        region = self._region(target, options)
        if not region:
            return "no AWS region: give the function 'region:', use an ARN, or set aws.region"
        if not REGION.match(region):
            return f"'{region}' is not an AWS region"
        try:
            self._check_endpoint()
        except CredentialRefused as exc:
            return str(exc)
        return None

    def _check_endpoint(self) -> None:
        """Signed requests (access key id, session token) go over https only."""
        settings = self.settings or AwsSettings()
        if settings.endpoint_url and not settings.unsigned:
            require_secure(
                settings.endpoint_url, "signed AWS requests (set aws.unsigned for a signing proxy)"
            )

    def target_key(self, request: InvokeRequest) -> str:
        target = parse_uri(request.uri)
        region = self._region(target, request.options) or "?"
        qualifier = request.options.get("qualifier") or target.qualifier or "$LATEST"
        endpoint = (self.settings or AwsSettings()).endpoint_url
        # A metric label and part of messages: never with userinfo.
        where = f"{strip_userinfo(endpoint)}/{region}" if endpoint else region
        return f"aws-lambda:{where}:{target.name}:{qualifier}"

    def client(self, region: str) -> Any:
        with self._lock:
            if region not in self._clients:
                import boto3
                from botocore import UNSIGNED
                from botocore.config import Config

                settings = self.settings or AwsSettings()
                session = boto3.session.Session(profile_name=settings.profile)
                config = Config(
                    retries={"total_max_attempts": 1, "mode": "standard"},
                    connect_timeout=settings.connect_timeout,
                    read_timeout=settings.read_timeout,
                    **({"signature_version": UNSIGNED} if settings.unsigned else {}),
                )
                self._clients[region] = session.client(
                    "lambda", region_name=region, endpoint_url=settings.endpoint_url, config=config
                )
            return self._clients[region]

    async def call(self, request: InvokeRequest) -> Any:
        if self.settings is None:
            raise ApplicationError(
                f"function '{request.function}': the aws-lambda provider is not configured "
                "on this worker",
                type="ProviderNotConfigured",
                non_retryable=True,
            )
        try:
            target = parse_uri(request.uri)
        except ValueError as exc:
            raise ApplicationError(
                f"function '{request.function}': {exc}", type="InvalidRequest", non_retryable=True
            ) from None
        region = self._region(target, request.options)
        if not region:
            raise ApplicationError(
                f"function '{request.function}': no AWS region",
                type="ProviderNotConfigured",
                non_retryable=True,
            )
        try:
            self._check_endpoint()
        except CredentialRefused as exc:
            raise exc.error(request.function) from None
        qualifier = request.options.get("qualifier") or target.qualifier
        kwargs: dict[str, Any] = {
            "FunctionName": target.arn or target.name,
            "InvocationType": "RequestResponse",
            "Payload": json.dumps(request.payload).encode(),
            "ClientContext": base64.b64encode(
                json.dumps({"custom": {"idempotency_key": request.idempotency_key}}).encode()
            ).decode(),
        }
        if qualifier:
            kwargs["Qualifier"] = qualifier
        client = self.client(region)
        try:
            response = await asyncio.to_thread(client.invoke, **kwargs)
        except Exception as exc:
            raise classify_exception(request.function, exc) from None
        raw = response["Payload"].read()
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = raw.decode(errors="replace")
        function_error = response.get("FunctionError")
        if function_error:
            error = body if isinstance(body, dict) else {}
            error_type = str(error.get("errorType") or "FunctionError")
            message = str(error.get("errorMessage") or function_error)
            raise ApplicationError(
                f"function '{request.function}': {error_type}: {message}",
                {
                    "function_error": function_error,
                    "errorType": error.get("errorType"),
                    "errorMessage": error.get("errorMessage"),
                },
                type=error_type,
            )
        return body


def classify_exception(function: str, exc: Exception) -> ApplicationError:
    """Map a boto3/botocore exception to a typed ``ApplicationError`` (the table above)."""
    from botocore.exceptions import (
        ClientError,
        ConnectTimeoutError,
        EndpointConnectionError,
        NoCredentialsError,
        ParamValidationError,
        ReadTimeoutError,
    )

    if isinstance(exc, (ReadTimeoutError, ConnectTimeoutError)):
        return ApplicationError(f"function '{function}': {type(exc).__name__}", type="Timeout")
    if isinstance(exc, EndpointConnectionError):
        return ApplicationError(
            f"function '{function}': cannot reach the Lambda endpoint", type="ConnectionError"
        )
    if isinstance(exc, NoCredentialsError):
        return ApplicationError(
            f"function '{function}': no AWS credentials on the worker",
            type="ProviderNotConfigured",
            non_retryable=True,
        )
    # botocore's own texts may quote the endpoint URL (and so its userinfo): scrubbed.
    if isinstance(exc, ParamValidationError):
        return ApplicationError(
            scrub_text(f"function '{function}': {exc}"), type="InvalidRequest", non_retryable=True
        )
    if not isinstance(exc, ClientError):
        return ApplicationError(
            scrub_text(f"function '{function}': {type(exc).__name__}: {exc}"),
            type="ConnectionError",
        )
    error = exc.response.get("Error", {})
    code = str(error.get("Code") or "")
    message = str(error.get("Message") or "")
    meta = exc.response.get("ResponseMetadata", {})
    status = int(meta.get("HTTPStatusCode") or 0)
    details = {"code": code, "status": status}
    text = scrub_text(f"function '{function}': {code or 'HTTP ' + str(status)}: {message}")
    if code in _THROTTLE_CODES or status == 429:
        return ApplicationError(
            text,
            details,
            type="Throttled",
            next_retry_delay=_retry_after(exc.response),
        )
    if code == "ResourceNotFoundException":
        return ApplicationError(text, details, type="FunctionNotFound", non_retryable=True)
    if status == 403 or code in _ACCESS_CODES:
        return ApplicationError(text, details, type="AccessDenied", non_retryable=True)
    if status >= 500 or code in _RETRYABLE_CODES:
        return ApplicationError(text, details, type="ServiceError")
    return ApplicationError(text, details, type="InvalidRequest", non_retryable=True)


def _retry_after(response: Mapping[str, Any]) -> timedelta | None:
    headers = response.get("ResponseMetadata", {}).get("HTTPHeaders", {})
    raw = response.get("retryAfterSeconds") or headers.get("retry-after")
    if raw is None:
        return None
    try:
        return timedelta(seconds=min(max(float(raw), 0.0), MAX_RETRY_AFTER))
    except (TypeError, ValueError):
        return None
