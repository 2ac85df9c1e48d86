"""A local Azure Functions HTTP host shim, built on the azure-functions package's own
``HttpRequest`` / ``HttpResponse`` types.

Give it a Python v2 programming model ``func.FunctionApp`` (or ``module:app`` text): each
HTTP-triggered function is served at ``/api/<route>`` (``{name}`` route parameters included)
for its methods, as the Functions host does. Authorization follows the function's auth level:
``ANONYMOUS`` is open; ``FUNCTION``/``ADMIN`` need a key (``x-functions-key`` header or
``code`` query parameter) from ``keys``, or a bearer token accepted by ``tokens`` (as App
Service authentication would). An exception in a function is a 500, as on the real host.
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Callable, Collection
from dataclasses import dataclass
from typing import Any

try:
    import azure.functions as func
except ImportError as exc:  # an optional extra: say which
    raise ImportError(
        "the Azure Functions emulator needs the 'emulators' extra: "
        "pip install 'nexus-temporal[emulators]'"
    ) from exc
from werkzeug.wrappers import Request, Response

from activities.emulators.base import Emulator, json_response


@dataclass(frozen=True)
class Route:
    name: str
    pattern: re.Pattern[str]
    methods: tuple[str, ...]
    auth_level: str
    handler: Callable[..., Any]


def load_app(ref: str | func.FunctionApp) -> func.FunctionApp:
    if isinstance(ref, func.FunctionApp):
        return ref
    module, _, attr = ref.partition(":")
    app = getattr(importlib.import_module(module), attr or "app")
    if not isinstance(app, func.FunctionApp):
        raise TypeError(f"{ref} is not an azure.functions.FunctionApp")
    return app


#: ``FunctionApp.get_functions()`` may be called once per app: keep its routes.
_ROUTES: dict[int, tuple[func.FunctionApp, list[Route]]] = {}


def _routes(app: func.FunctionApp) -> list[Route]:
    if id(app) in _ROUTES:
        return _ROUTES[id(app)][1]
    routes = []
    for fn in app.get_functions():
        trigger: Any = fn.get_trigger()
        if getattr(trigger, "type", None) != "httpTrigger":
            continue
        name = str(fn.get_function_name())
        route = str(trigger.route or name)
        regex = re.sub(r"\{(\w+)(:[^}]*)?\}", r"(?P<\1>[^/]+)", route.strip("/"))
        methods = tuple(str(getattr(m, "value", m)).upper() for m in (trigger.methods or ()))
        level = str(getattr(trigger.auth_level, "value", trigger.auth_level) or "function")
        routes.append(
            Route(name, re.compile(f"^{regex}$"), methods, level.lower(), fn.get_user_function())
        )
    _ROUTES[id(app)] = (app, routes)
    return routes


class AzureFunctionsEmulator(Emulator):
    """Serve a FunctionApp's HTTP functions under ``/api/``."""

    name = "azure-function"

    def __init__(
        self,
        app: str | func.FunctionApp,
        *,
        keys: Collection[str] = (),
        tokens: Collection[str] | None = (),
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        """Args:
        keys: accepted function keys.
        tokens: accepted bearer tokens; None accepts any bearer token.
        """
        super().__init__(host, port)
        self.routes = _routes(load_app(app))
        self.keys = set(keys)
        self.tokens = None if tokens is None else set(tokens)

    def _authorized(self, request: Request) -> bool:
        key = request.headers.get("x-functions-key") or request.args.get("code")
        if key and key in self.keys:
            return True
        auth = request.headers.get("Authorization", "")
        if auth.startswith("Bearer "):
            token = auth[len("Bearer ") :]
            return bool(token) and (self.tokens is None or token in self.tokens)
        return False

    def handle(self, request: Request) -> Response:
        path = request.path
        if not path.startswith("/api/"):
            return json_response({"error": "not found"}, 404)
        sub = path[len("/api/") :].strip("/")
        for route in self.routes:
            match = route.pattern.match(sub)
            if match is None:
                continue
            if route.methods and request.method not in route.methods:
                return json_response({"error": "method not allowed"}, 405)
            if route.auth_level != "anonymous" and not self._authorized(request):
                return Response(status=401)
            return self._call(route, request, match.groupdict())
        return json_response({"error": f"no function at {path}"}, 404)

    def _call(self, route: Route, request: Request, params: dict[str, str]) -> Response:
        key = request.headers.get("Idempotency-Key")
        decision, faults = self.faults.decide(route.name, key)
        if decision == "outage":
            return Response("Service Unavailable (injected outage)", status=503)
        if decision == "throttle":
            return Response(
                "Too Many Requests", status=429, headers={"Retry-After": f"{faults.retry_after:g}"}
            )
        if decision == "error":
            return Response("Internal Server Error (injected)", status=500)
        az_request = func.HttpRequest(
            method=request.method,
            url=request.url,
            headers=dict(request.headers),
            params=dict(request.args),
            route_params=params,
            body=request.get_data(),
        )
        try:
            result = route.handler(az_request)
        except Exception:  # the host answers an unhandled exception with a bare 500
            return Response("Internal Server Error", status=500)
        if decision == "partial":
            return Response("Internal Server Error (injected, after the call)", status=500)
        if isinstance(result, func.HttpResponse):
            return Response(
                result.get_body(),
                status=result.status_code,
                headers=dict(result.headers),
                mimetype=result.mimetype,
            )
        if result is None:
            return Response(status=204)
        return Response(str(result), status=200)
