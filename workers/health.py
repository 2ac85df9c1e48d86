"""The worker's HTTP endpoints: ``/healthz`` (liveness), ``/readyz`` (readiness), ``/metrics``.

- ``/healthz``: 200 while the process serves HTTP at all (its event loop is not stuck).
- ``/readyz``: 200 once the worker is polling its task queue and Temporal answers (a
  ``GetSystemInfo`` call within 3 s); 503 with the reason otherwise (starting, shutting down,
  server unreachable).
- ``/metrics``: Prometheus text (:class:`workers.telemetry.Metrics`), when metrics are on.

A tiny HTTP/1.1 server on the worker's own event loop (no extra dependency, no thread), so the
readiness check sees the real client and worker. It listens on 127.0.0.1 unless told otherwise
(workers.observability), and whoever reaches it is untrusted: a request's head must arrive
within ``request_timeout`` in all (not per line, so a client trickling bytes is dropped too)
and within ``MAX_HEADERS`` lines; bodies are never read.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import timedelta

from temporalio.api.workflowservice.v1 import GetSystemInfoRequest
from temporalio.client import Client
from temporalio.worker import Worker

from workers.telemetry import Metrics

log = logging.getLogger("nexus.health")

Response = tuple[int, str, bytes]
Route = Callable[[], Awaitable[Response]]
PROMETHEUS_TEXT = "text/plain; version=0.0.4; charset=utf-8"
_REASONS = {200: "OK", 404: "Not Found", 405: "Method Not Allowed", 503: "Service Unavailable"}
#: Header lines read before a request is refused as malformed (nothing here needs headers).
MAX_HEADERS = 100


@dataclass
class Probes:
    """What liveness and readiness look at; ``client`` and ``worker`` are set once they exist."""

    client: Client | None = None
    worker: Worker | None = None
    timeout: float = 3.0

    async def ready(self) -> tuple[bool, str]:
        """(ready, reason): the worker polls and the Temporal frontend answers."""
        if self.client is None:
            return False, "not connected to Temporal yet"
        if self.worker is None or not self.worker.is_running:
            return False, "worker not polling yet"
        if self.worker.is_shutdown:
            return False, "worker shutting down"
        try:
            await self.client.workflow_service.get_system_info(
                GetSystemInfoRequest(), timeout=timedelta(seconds=self.timeout)
            )
        except Exception as exc:
            return False, f"Temporal unreachable: {type(exc).__name__}: {exc}"
        return True, f"polling task queue '{self.worker.task_queue}'"


@dataclass
class Endpoints:
    """Routes by path; one :class:`Endpoints` may listen on several ports."""

    probes: Probes
    metrics: Metrics | None = None
    servers: list[asyncio.AbstractServer] = field(default_factory=list)
    request_timeout: float = 10.0  # seconds for a request's head to arrive, all lines together

    def routes(self, health: bool, metrics: bool) -> dict[str, Route]:
        out: dict[str, Route] = {}
        if health:
            out["/healthz"] = self._live
            out["/livez"] = self._live
            out["/readyz"] = self._ready
        if metrics and self.metrics is not None:
            out["/metrics"] = self._metrics
        return out

    async def _live(self) -> Response:
        return 200, "text/plain", b"ok\n"

    async def _ready(self) -> Response:
        ok, reason = await self.probes.ready()
        return (200 if ok else 503), "text/plain", (reason + "\n").encode()

    async def _metrics(self) -> Response:
        assert self.metrics is not None
        body = await asyncio.to_thread(self.metrics.render)
        return 200, PROMETHEUS_TEXT, body

    async def listen(self, host: str, port: int, routes: dict[str, Route]) -> None:
        """Serve ``routes`` on ``host:port`` until :meth:`close`."""

        async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            try:
                async with asyncio.timeout(self.request_timeout):
                    request = await _read_head(reader)
            except TimeoutError:  # a slow or silent client: dropped, no answer owed
                writer.close()
                return
            except Exception as exc:  # an over-long line, or the client went away
                log.debug("bad request: %s", exc)
                request = ""
            try:
                status, ctype, body = await _answer(request, routes)
            except Exception as exc:  # a bad request never takes the worker down
                log.debug("bad request: %s", exc)
                status, ctype, body = 400, "text/plain", b"bad request\n"
            head = (
                f"HTTP/1.1 {status} {_REASONS.get(status, 'Bad Request')}\r\n"
                f"Content-Type: {ctype}\r\nContent-Length: {len(body)}\r\n"
                "Connection: close\r\n\r\n"
            )
            try:
                writer.write(head.encode() + body)
                async with asyncio.timeout(self.request_timeout):  # a client that never reads
                    await writer.drain()
            except (TimeoutError, OSError):
                pass  # the client is gone or stuck: nothing more to tell it
            finally:
                writer.close()

        self.servers.append(await asyncio.start_server(handle, host, port))

    async def close(self) -> None:
        for server in self.servers:
            server.close()
            await server.wait_closed()
        self.servers.clear()


async def _read_head(reader: asyncio.StreamReader) -> str:
    """The request line, once the headers after it are read (and ignored)."""
    line = await reader.readline()
    for _ in range(MAX_HEADERS + 1):
        if (await reader.readline()) in (b"\r\n", b"\n", b""):
            return line.decode("latin-1")
    raise ValueError(f"more than {MAX_HEADERS} header lines")


async def _answer(request_line: str, routes: dict[str, Route]) -> Response:
    method, target, _version = request_line.split(" ", 2)
    route = routes.get(target.split("?", 1)[0])
    if route is None:
        return 404, "text/plain", f"not found; try {', '.join(sorted(routes))}\n".encode()
    if method not in ("GET", "HEAD"):
        return 405, "text/plain", b"GET only\n"
    status, ctype, body = await route()
    return status, ctype, b"" if method == "HEAD" else body
