"""A small HTTP server run in a daemon thread, for the local helper servers of the project
(the cloud-function emulators and the codec server): start, stop, URL, context manager."""

from __future__ import annotations

import threading
from abc import ABC, abstractmethod
from http.server import HTTPServer
from types import TracebackType
from typing import Self


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
    def url(self) -> str:
        if self._server is None:
            raise RuntimeError(f"the {self.label} is not started")
        return f"http://{self.host}:{self._server.server_port}"

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
