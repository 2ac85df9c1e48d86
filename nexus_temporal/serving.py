"""A small HTTP server run in a daemon thread, for the local helper servers of the project
(the cloud-function emulators and the codec server): start, stop, URL, context manager.

:class:`HardenedHTTPServer` and :class:`DeadlineRequestHandler` are for servers that untrusted
clients can reach (the codec server): a bound on concurrent connections, and a deadline for
each request so that a client sending slowly (or not at all) cannot hold a thread for long.
"""

from __future__ import annotations

import io
import logging
import socket
import threading
import time
from abc import ABC, abstractmethod
from http.server import BaseHTTPRequestHandler, HTTPServer, ThreadingHTTPServer
from types import TracebackType
from typing import Any, ClassVar, Self

log = logging.getLogger("nexus.serving")

#: Defaults of :class:`HardenedHTTPServer` / :class:`DeadlineRequestHandler`.
DEFAULT_MAX_CONNECTIONS = 64
DEFAULT_REQUEST_TIMEOUT = 10.0

_BUSY_BODY = b'{"error": "server busy, retry shortly"}'
_BUSY = (
    b"HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\n"
    b"Retry-After: 1\r\nConnection: close\r\nContent-Length: "
    + str(len(_BUSY_BODY)).encode()
    + b"\r\n\r\n"
    + _BUSY_BODY
)


class BackgroundServer(ABC):
    """Serve :meth:`make_server`'s server on ``host:port`` (0: a free port) until :meth:`stop`."""

    def __init__(self, host: str, port: int) -> None:
        self.host = host
        self.port = port
        self._server: HTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def label(self) -> str:
        """Names the server in errors and its thread."""
        return "server"

    @abstractmethod
    def make_server(self) -> HTTPServer:
        """A threaded HTTP server bound to ``host:port``."""

    @property
    def bound_port(self) -> int:
        """The port listened on (the free one picked for port 0)."""
        if self._server is None:
            raise RuntimeError(f"the {self.label} is not started")
        return int(self._server.server_port)

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host  # an IPv6 literal
        return f"http://{host}:{self.bound_port}"

    def start(self) -> Self:
        self._server = self.make_server()
        self._thread = threading.Thread(
            target=self._server.serve_forever, name=self.label.replace(" ", "-"), daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


class HardenedHTTPServer(ThreadingHTTPServer):
    """A thread per connection, at most ``max_connections`` at a time.

    One more connection is answered ``503`` at once and closed, from the accepting thread
    (a few bytes, sent without blocking): refusing keeps the server answering as soon as a
    slot frees, where waiting for a slot would stall every later client behind the attackers.
    A handler's exception is logged in one line, never as a traceback (which
    :class:`socketserver.BaseServer` prints to stderr).
    """

    daemon_threads = True
    # the listen backlog (socketserver's default is 5): a burst of connections beyond it has
    # its SYNs dropped, and a legitimate client retries only after a second
    request_queue_size = 128
    # stop() must not wait for handler threads: a stalled client holds one until its deadline
    block_on_close = False

    def __init__(
        self,
        address: tuple[str, int],
        handler: type[BaseHTTPRequestHandler],
        max_connections: int = DEFAULT_MAX_CONNECTIONS,
    ) -> None:
        if max_connections < 1:
            raise ValueError("max_connections must be at least 1")
        self.max_connections = max_connections
        self._slots = threading.BoundedSemaphore(max_connections)
        if ":" in address[0]:
            self.address_family = socket.AF_INET6
        super().__init__(address, handler)

    def process_request(self, request: Any, client_address: Any) -> None:
        if not self._slots.acquire(blocking=False):
            log.warning(
                "refused a connection from %s: %d busy", client_address[0], self.max_connections
            )
            _refuse(request)
            self.shutdown_request(request)
            return
        try:
            super().process_request(request, client_address)
        except BaseException:  # the thread did not start: its slot is free again
            self._slots.release()
            raise

    def process_request_thread(self, request: Any, client_address: Any) -> None:
        try:
            super().process_request_thread(request, client_address)
        finally:
            self._slots.release()

    def handle_error(self, request: Any, client_address: Any) -> None:
        import sys

        exc = sys.exc_info()[1]
        log.warning("connection from %s failed: %s", client_address[0], type(exc).__name__)


def _refuse(sock: socket.socket) -> None:
    """Best effort, never blocking: drain what the client sent (closing a socket with unread
    data resets the connection, and the client would lose the answer), then send the 503."""
    try:
        sock.setblocking(False)
        try:
            sock.recv(65536)
        except BlockingIOError:
            pass
        sock.send(_BUSY)
    except OSError:
        pass


class _DeadlineReader(io.RawIOBase):
    """The handler's socket, read with whatever time is left before its request deadline."""

    def __init__(self, handler: DeadlineRequestHandler) -> None:
        self._handler = handler
        self._sock: socket.socket = handler.connection

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        deadline = self._handler.deadline
        if deadline is None:
            return self._sock.recv_into(buffer)
        left = deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError("request deadline passed")
        self._sock.settimeout(left)
        try:
            return self._sock.recv_into(buffer)
        finally:  # writes keep the per-operation timeout, not the rest of the deadline
            self._sock.settimeout(self._handler.timeout)


class DeadlineRequestHandler(BaseHTTPRequestHandler):
    """Each request, its head and its body, must arrive within ``timeout`` seconds of the
    moment the server starts waiting for it (so an idle keep-alive connection is closed after
    ``timeout`` too); every socket operation times out after ``timeout`` as well.

    A socket timeout alone bounds one ``recv``: a client trickling a byte every few seconds
    (slowloris) would hold its thread for ever. A request past its deadline is dropped
    (:meth:`handle_one_request` of the standard library closes the connection on
    :class:`TimeoutError`).
    """

    # applied to the socket by StreamRequestHandler.setup; the request deadline too
    timeout: ClassVar[float | None] = DEFAULT_REQUEST_TIMEOUT
    deadline: float | None = None

    def setup(self) -> None:
        super().setup()
        # replace the plain socket file (closed, so the socket is not kept open by it)
        self.rfile.close()
        self.rfile = io.BufferedReader(_DeadlineReader(self))

    def handle_one_request(self) -> None:
        # no timeout configured: no deadline either (the plain standard library behaviour)
        self.deadline = None if self.timeout is None else time.monotonic() + self.timeout
        super().handle_one_request()
