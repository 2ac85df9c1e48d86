"""A loopback WSGI server in a background thread, with the emulators' control endpoints.

``GET /_emulator/stats`` returns each function's counters; ``GET``/``POST /_emulator/faults``
reads or sets faults (``{"function": "name" | "*", ...fault fields}``, or ``{"clear": true}``).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterable
from typing import Any

from werkzeug.serving import BaseWSGIServer, make_server
from werkzeug.wrappers import Request, Response

from activities.emulators.faults import Faults, FaultState
from nexus_temporal.serving import BackgroundServer

# werkzeug logs every request at INFO; emulators are chatty enough through their stats.
logging.getLogger("werkzeug").setLevel(logging.WARNING)


def json_response(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(
        json.dumps(body), status=status, headers=headers or {}, content_type="application/json"
    )


class Emulator(BackgroundServer):
    """Base of the emulators: serve :meth:`handle` on ``host:port`` (0: a free port)."""

    name = "emulator"

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        super().__init__(host, port)
        self.faults = FaultState()

    @property
    def label(self) -> str:
        return f"{self.name} emulator"

    def make_server(self) -> BaseWSGIServer:
        return make_server(self.host, self.port, self.wsgi, threaded=True)

    def wsgi(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        request = Request(environ)
        if request.path.startswith("/_emulator/"):
            return self._control(request)(environ, start_response)
        return self.dispatch(environ, start_response)

    def dispatch(
        self, environ: dict[str, Any], start_response: Callable[..., Any]
    ) -> Iterable[bytes]:
        """Serve a non-control request (subclasses)."""
        response = self.handle(Request(environ))
        return response(environ, start_response)

    def handle(self, request: Request) -> Response:
        """Each emulator (Lambda, Azure, GCP) answers its own API here."""
        raise NotImplementedError(f"{type(self).__name__} must implement handle()")

    def _control(self, request: Request) -> Response:
        if request.path == "/_emulator/stats":
            return json_response(self.faults.all_stats())
        if request.path == "/_emulator/faults":
            if request.method == "POST":
                body = dict(request.get_json(force=True) or {})
                if body.pop("clear", False):
                    self.faults.clear()
                function = body.pop("function", "*")
                if body:
                    self.faults.set(function, Faults.from_mapping(body))
            return json_response(self.faults.all_faults())
        return json_response({"error": "unknown control endpoint"}, 404)
