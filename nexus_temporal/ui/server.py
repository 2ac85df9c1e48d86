"""The HTTP server of ``nexus ui``: the page, its static assets and the JSON API (docs/ui.md).

- ``GET /``: the page; ``GET /static/<file>``: its script, style and vendored libraries;
- ``GET /api/info``: namespace, Web UI address, definitions loaded, whether redrive is offered;
- ``GET /api/executions?definition=&version=&status=&state=``: the list;
- ``GET /api/executions/{workflow_id}``: one execution (``workflow_id`` percent-encoded);
- ``POST /api/executions/{workflow_id}/redrive`` (``{"version": V}`` optional) and
  ``POST /api/executions/{workflow_id}/rerun`` (``{"from": STATE, "input": ...}``).

The page shows decrypted payloads to whoever can load it, so: it listens on 127.0.0.1 by
default; a request whose ``Host`` is not a name of this server is refused (403: a page on
another site whose name resolves here, DNS rebinding, cannot read it); a POST must be
``application/json`` from the page's own origin (no cross-site form can redrive); the page
runs no inline script and loads nothing from elsewhere (``Content-Security-Policy``), and
renders every value as text. Each request must arrive within a deadline, at most
``max_connections`` at a time (:mod:`nexus_temporal.serving`).
"""

from __future__ import annotations

import asyncio
import json
import logging
import threading
from collections.abc import Awaitable, Callable
from concurrent.futures import TimeoutError as FutureTimeout
from http import HTTPStatus
from http.server import HTTPServer
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import parse_qs, unquote, urlsplit

from nexus_temporal.serving import BackgroundServer, DeadlineRequestHandler, HardenedHTTPServer
from nexus_temporal.ui.actions import ActionError, redrive_available, run_action
from nexus_temporal.ui.source import FilterError, NotFound, Source

log = logging.getLogger("nexus.ui")

STATIC = Path(__file__).parent / "static"
_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".png": "image/png",
    ".LICENSE": "text/plain; charset=utf-8",
}
_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; "
    # inline styles: the graph library sets element styles; no inline script runs
    "style-src 'self' 'unsafe-inline'; script-src 'self'; connect-src 'self'; "
    "frame-ancestors 'none'; base-uri 'none'; form-action 'none'",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}
LOOPBACK = ("localhost", "127.0.0.1", "[::1]")
MAX_BODY = 1024 * 1024
#: Seconds an API call may take (fetching a long history, a query without a worker).
API_TIMEOUT = 60.0
T = TypeVar("T")


class Loop:
    """An asyncio event loop in a daemon thread: the Temporal client lives there, and the
    HTTP handler threads run their calls on it."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, name="nexus-ui-loop")
        self._thread.daemon = True
        self._thread.start()

    def run(self, coro: Awaitable[T], timeout: float = API_TIMEOUT) -> T:
        async def wrapped() -> T:
            return await coro

        return asyncio.run_coroutine_threadsafe(wrapped(), self.loop).result(timeout)

    def stop(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(5)


class UIServer(BackgroundServer):
    """Serve the page and API for ``source`` (whose client lives on ``loop``)."""

    def __init__(
        self,
        source: Source,
        loop: Loop,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        allowed_hosts: tuple[str, ...] = (),
        poll_ms: int = 2000,
    ) -> None:
        super().__init__(host, port)
        self.source = source
        self.loop = loop
        self.extra_hosts = tuple(h.lower() for h in allowed_hosts)
        self.poll_ms = poll_ms

    @property
    def label(self) -> str:
        return "nexus ui"

    def allowed(self, host_header: str) -> bool:
        port = self.bound_port
        names = {*LOOPBACK, *self.extra_hosts}
        if self.host not in ("", "0.0.0.0", "::"):
            names.add(f"[{self.host}]" if ":" in self.host else self.host)
        value = host_header.strip().lower()
        return value in {f"{n}:{port}" for n in names} or (port == 80 and value in names)

    def make_server(self) -> HTTPServer:
        handler = type("Handler", (_Handler,), {"ui": self})
        return HardenedHTTPServer((self.host, self.port), handler)


class _Handler(DeadlineRequestHandler):
    ui: UIServer
    server_version = "nexus-ui"
    sys_version = ""

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("%s %s", self.address_string(), format % args)

    def _send(self, status: int, body: bytes, content_type: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for key, value in _HEADERS.items():
            self.send_header(key, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _json(self, status: int, value: Any) -> None:
        body = json.dumps(value, default=str).encode()
        self._send(status, body, "application/json; charset=utf-8")

    def _error(self, status: int, message: str) -> None:
        self._json(status, {"error": message})

    def _host_ok(self) -> bool:
        if self.ui.allowed(self.headers.get("Host", "")):
            return True
        self._error(HTTPStatus.FORBIDDEN, "unknown Host: open the page by the address printed")
        return False

    def do_HEAD(self) -> None:
        self.do_GET()

    def do_GET(self) -> None:
        if not self._host_ok():
            return
        url = urlsplit(self.path)
        path = url.path
        if path in ("/", "/index.html"):
            self._static("index.html")
        elif path.startswith("/static/"):
            self._static(path.removeprefix("/static/"))
        elif path == "/favicon.ico":
            self._send(HTTPStatus.NO_CONTENT, b"", "image/x-icon")
        elif path == "/api/info":
            self._api(self._info)
        elif path == "/api/executions":
            params = {k: v[-1] for k, v in parse_qs(url.query).items()}
            self._api(lambda: self._list(params))
        elif path.startswith("/api/executions/"):
            workflow_id = unquote(path.removeprefix("/api/executions/"))
            self._api(lambda: self.ui.loop.run(self.ui.source.execution(workflow_id)))
        else:
            self._error(HTTPStatus.NOT_FOUND, "not found")

    def do_POST(self) -> None:
        if not self._host_ok():
            return
        path = urlsplit(self.path).path
        origin = self.headers.get("Origin")
        if origin is not None and not self.ui.allowed(urlsplit(origin).netloc):
            self._error(HTTPStatus.FORBIDDEN, "cross-origin request refused")
            return
        if self.headers.get("Content-Type", "").split(";")[0].strip() != "application/json":
            self._error(HTTPStatus.UNSUPPORTED_MEDIA_TYPE, "send application/json")
            return
        try:
            length = int(self.headers.get("Content-Length", ""))
        except ValueError:
            self._error(HTTPStatus.LENGTH_REQUIRED, "Content-Length required")
            return
        if not 0 <= length <= MAX_BODY:
            self._error(HTTPStatus.REQUEST_ENTITY_TOO_LARGE, "body too large")
            return
        try:
            body = json.loads(self.rfile.read(length) or b"{}")
        except (ValueError, UnicodeDecodeError):
            self._error(HTTPStatus.BAD_REQUEST, "the body is not JSON")
            return
        if not isinstance(body, dict):
            self._error(HTTPStatus.BAD_REQUEST, "the body must be a JSON object")
            return
        prefix = "/api/executions/"
        verb = path.rsplit("/", 1)[-1]
        if not path.startswith(prefix) or verb not in ("redrive", "rerun"):
            self._error(HTTPStatus.NOT_FOUND, "not found")
            return
        workflow_id = unquote(path[len(prefix) : -len(verb) - 1])
        self._api(lambda: self.ui.loop.run(run_action(self.ui.source, verb, workflow_id, body)))

    def _api(self, call: Callable[[], Any]) -> None:
        try:
            value = call()
        except (FilterError, ActionError) as exc:
            self._error(HTTPStatus.BAD_REQUEST, str(exc))
        except NotFound as exc:
            self._error(HTTPStatus.NOT_FOUND, str(exc))
        except FutureTimeout:
            self._error(HTTPStatus.GATEWAY_TIMEOUT, "Temporal did not answer in time")
        except Exception as exc:  # the server's answer, without a traceback for the client
            log.warning(
                "%s %s failed: %s: %s", self.command, self.path[:200], type(exc).__name__, exc
            )
            self._error(HTTPStatus.BAD_GATEWAY, f"{type(exc).__name__}: {exc}"[:500])
        else:
            self._json(HTTPStatus.OK, value)

    def _info(self) -> dict[str, Any]:
        source = self.ui.source
        registry = source.registry
        return {
            "namespace": source.client.namespace,
            "web_ui": source.web_ui or None,
            "definitions": sorted({f"{p.name}@{p.version}" for p in registry.plans})
            if registry is not None
            else [],
            "redrive": redrive_available(),
            "poll_ms": self.ui.poll_ms,
        }

    def _list(self, params: dict[str, str]) -> list[dict[str, Any]]:
        unknown = set(params) - {"definition", "version", "status", "state", "limit"}
        if unknown:
            raise FilterError(f"unknown filter(s): {', '.join(sorted(unknown))[:100]}")
        try:
            limit = max(1, min(1000, int(params.get("limit") or 200)))
        except ValueError:
            raise FilterError("limit must be a number") from None
        return self.ui.loop.run(
            self.ui.source.list_executions(
                definition=params.get("definition") or None,
                version=params.get("version") or None,
                status=params.get("status") or None,
                state=params.get("state") or None,
                limit=limit,
            )
        )

    def _static(self, name: str) -> None:
        root = STATIC.resolve()
        target = (root / name).resolve()
        if root not in target.parents or not target.is_file():
            self._error(HTTPStatus.NOT_FOUND, "not found")
            return
        suffix = ".LICENSE" if target.name.endswith(".LICENSE") else target.suffix
        kind = _TYPES.get(suffix)
        if kind is None:
            self._error(HTTPStatus.NOT_FOUND, "not found")
            return
        self._send(HTTPStatus.OK, target.read_bytes(), kind)
