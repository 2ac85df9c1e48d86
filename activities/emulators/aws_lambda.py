"""A local AWS Lambda Invoke API (``POST /2015-03-31/functions/{name}/invocations``) that real
boto3 clients call.

Handlers are ordinary Lambda Python handlers, ``handler(event, context)``, registered by function
name (or ``module:function`` text). Like the real service it answers a handler exception with
``X-Amz-Function-Error: Unhandled`` and ``{"errorMessage", "errorType", "stackTrace"}``; an
unknown function with ``ResourceNotFoundException`` (404); a non-JSON payload with
``InvalidRequestContentException`` (400); throttling with ``TooManyRequestsException`` (429,
``Retry-After``); injected errors with ``ServiceException`` (500) and outages with 503.
The idempotency key nexus sends is read from the client context (``custom.idempotency_key``).
"""

from __future__ import annotations

import base64
import importlib
import json
import time
import traceback
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote

from werkzeug.wrappers import Request, Response

from activities.emulators.base import Emulator, json_response

Handler = Callable[[Any, Any], Any]
_PREFIX = "/2015-03-31/functions/"


@dataclass
class ClientContext:
    custom: dict[str, Any] = field(default_factory=dict)
    env: dict[str, Any] = field(default_factory=dict)
    client: Any = None


@dataclass
class LambdaContext:
    """The parts of the Lambda context object handlers commonly use."""

    function_name: str
    function_version: str
    invoked_function_arn: str
    aws_request_id: str
    client_context: ClientContext | None
    memory_limit_in_mb: int = 128
    deadline: float = 0.0

    def get_remaining_time_in_millis(self) -> int:
        return max(int((self.deadline - time.monotonic()) * 1000), 0)


def load_handler(ref: str | Handler) -> Handler:
    if callable(ref):
        return ref
    module, _, attr = ref.partition(":")
    fn = getattr(importlib.import_module(module), attr)
    if not callable(fn):
        raise TypeError(f"{ref} is not callable")
    return fn  # type: ignore[no-any-return]


def _error(code: str, message: str, status: int, headers: dict[str, str] | None = None) -> Response:
    body = {"Type": "User" if status < 500 else "Service", "message": message, "__type": code}
    return json_response(body, status, {"x-amzn-ErrorType": code, **(headers or {})})


class LambdaEmulator(Emulator):
    """Serve Lambda handlers. ``functions``: name -> handler or ``module:function``."""

    name = "aws-lambda"

    def __init__(
        self,
        functions: Mapping[str, str | Handler],
        *,
        region: str = "us-east-1",
        account: str = "000000000000",
        timeout: float = 30.0,
        dedupe: bool = False,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        super().__init__(host, port)
        self.functions = {name: load_handler(ref) for name, ref in functions.items()}
        self.region = region
        self.account = account
        self.timeout = timeout
        #: With ``dedupe``, a key already answered returns the stored result without running
        #: the handler again (as Powertools' idempotency utility does in a real function).
        self.dedupe = dedupe
        self._results: dict[tuple[str, str], Any] = {}

    def handle(self, request: Request) -> Response:
        path = request.path
        if request.method != "POST" or not (
            path.startswith(_PREFIX) and path.endswith("/invocations")
        ):
            return _error("UnknownOperationException", f"no route {request.method} {path}", 404)
        name = unquote(path[len(_PREFIX) : -len("/invocations")])
        qualifier = request.args.get("Qualifier", "$LATEST")
        if name.startswith("arn:"):  # arn:aws:lambda:region:account:function:name[:qualifier]
            parts = name.split(":")
            name = parts[6] if len(parts) > 6 else name
            if len(parts) > 7:
                qualifier = parts[7]
        elif ":" in name:
            name, qualifier = name.split(":", 1)
        handler = self.functions.get(name)
        if handler is None:
            return _error("ResourceNotFoundException", f"Function not found: {name}", 404)
        invocation = request.headers.get("X-Amz-Invocation-Type", "RequestResponse")
        if invocation != "RequestResponse":
            return _error("InvalidParameterValueException", f"{invocation} is not emulated", 400)
        raw = request.get_data()
        try:
            event = json.loads(raw) if raw else None
        except ValueError:
            return _error("InvalidRequestContentException", "Could not parse request body", 400)
        context = self._context(name, qualifier, request.headers.get("X-Amz-Client-Context"))
        key = (
            context.client_context.custom.get("idempotency_key") if context.client_context else None
        )
        decision, faults = self.faults.decide(name, key)
        if decision == "outage":
            return _error("ServiceException", "Service unavailable (injected outage)", 503)
        if decision == "throttle":
            return _error(
                "TooManyRequestsException",
                "Rate Exceeded.",
                429,
                {"Retry-After": f"{faults.retry_after:g}"},
            )
        if decision == "error":
            return _error("ServiceException", "Internal failure (injected)", 500)
        if self.dedupe and key and (name, key) in self._results:
            status, stored, stored_error = self._results[(name, key)]
            self.faults.stats(name).executions -= 1  # answered from the store, not run
            return self._reply(status, stored, stored_error, qualifier)
        function_error: str | None = None
        try:
            result = handler(event, context)
            body = json.dumps(result).encode()
        except Exception as exc:  # the Lambda runtime reports handler exceptions as data
            function_error = "Unhandled"
            body = json.dumps(
                {
                    "errorMessage": str(exc),
                    "errorType": type(exc).__name__,
                    "requestId": context.aws_request_id,
                    "stackTrace": traceback.format_exception(exc)[-3:],
                }
            ).encode()
        if self.dedupe and key:
            self._results[(name, key)] = (200, body, function_error)
        if decision == "partial":
            return _error("ServiceException", "Internal failure after the call (injected)", 500)
        return self._reply(200, body, function_error, qualifier)

    def _reply(
        self, status: int, body: bytes, function_error: str | None, qualifier: str
    ) -> Response:
        headers = {"X-Amz-Executed-Version": "$LATEST" if qualifier == "$LATEST" else qualifier}
        if function_error:
            headers["X-Amz-Function-Error"] = function_error
        return Response(body, status=status, headers=headers, content_type="application/json")

    def _context(self, name: str, qualifier: str, header: str | None) -> LambdaContext:
        client_context = None
        if header:
            try:
                data = json.loads(base64.b64decode(header))
                client_context = ClientContext(
                    custom=dict(data.get("custom") or {}),
                    env=dict(data.get("env") or {}),
                    client=data.get("client"),
                )
            except ValueError:
                client_context = None
        arn = f"arn:aws:lambda:{self.region}:{self.account}:function:{name}"
        return LambdaContext(
            function_name=name,
            function_version=qualifier,
            invoked_function_arn=arn if qualifier == "$LATEST" else f"{arn}:{qualifier}",
            aws_request_id=str(uuid.uuid4()),
            client_context=client_context,
            deadline=time.monotonic() + self.timeout,
        )
