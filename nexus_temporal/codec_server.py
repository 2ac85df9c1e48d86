"""A Temporal remote codec server: ``POST /encode`` and ``POST /decode`` with the
:class:`~nexus_temporal.codec.EncryptionCodec`, for the Temporal Web UI (``--ui-codec-endpoint``)
and CLI (``temporal --codec-endpoint``).

Request and response bodies are the protobuf JSON form of ``temporal.api.common.v1.Payloads``:
``{"payloads": [{"metadata": {"encoding": "<base64>"}, "data": "<base64>"}]}``. Paths may carry a
prefix (``/codec/decode``). Browsers from the allowed origins get CORS headers (preflight
``OPTIONS`` included; ``X-Namespace`` and ``Authorization`` allowed). With auth tokens, a request
needs ``Authorization: Bearer <token>``; payloads and keys are never logged.
"""

from __future__ import annotations

import hmac
import json
import logging
from collections.abc import Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from google.protobuf import json_format
from temporalio.api.common.v1 import Payloads

from nexus_temporal.codec import CodecError, EncryptionCodec
from nexus_temporal.serving import BackgroundServer

log = logging.getLogger("nexus.codec_server")

#: The local dev server's Web UI, by either name.
DEFAULT_ORIGINS = ("http://localhost:8233", "http://127.0.0.1:8233")
#: Request bodies larger than this are refused (a history page of 2 MB payloads fits).
MAX_BODY = 64 * 1024 * 1024
ALLOWED_HEADERS = "Content-Type, X-Namespace, Authorization"


class CodecServer(BackgroundServer):
    """Serve ``codec`` on ``host:port`` (0: a free port) in a background thread.

    Args:
        codec: the codec that encodes and decodes.
        origins: browser origins allowed by CORS (``*``: any).
        tokens: bearer tokens that authorise a request; none: every request is served.
    """

    def __init__(
        self,
        codec: EncryptionCodec,
        host: str = "127.0.0.1",
        port: int = 8888,
        origins: Sequence[str] = DEFAULT_ORIGINS,
        tokens: Sequence[str] = (),
    ) -> None:
        super().__init__(host, port)
        self.codec = codec
        self.origins = tuple(o.rstrip("/") for o in origins)
        self.tokens = tuple(t.encode() for t in tokens)

    @property
    def label(self) -> str:
        return "codec server"

    def make_server(self) -> ThreadingHTTPServer:
        server = ThreadingHTTPServer((self.host, self.port), _handler_for(self))
        server.daemon_threads = True
        return server

    # -- request logic, independent of the HTTP plumbing ---------------------------------------

    def allowed_origin(self, origin: str | None) -> str | None:
        """The ``Access-Control-Allow-Origin`` value for a request from ``origin``, if allowed."""
        if not origin:
            return None
        if "*" in self.origins or origin.rstrip("/") in self.origins:
            return origin
        return None

    def authorised(self, header: str | None) -> bool:
        if not self.tokens:
            return True
        scheme, _, token = (header or "").partition(" ")
        if scheme.lower() != "bearer":
            return False
        given = token.strip().encode()
        # compare with every token (constant time each): no early exit on a match
        return any([hmac.compare_digest(given, t) for t in self.tokens])

    def transform(self, operation: str, body: bytes) -> tuple[int, dict[str, Any]]:
        """(status, JSON body) for ``operation`` ('encode' or 'decode') on a request body."""
        payloads = Payloads()
        try:
            json_format.Parse(body.decode("utf-8"), payloads, ignore_unknown_fields=True)
        except (json_format.ParseError, UnicodeDecodeError, ValueError) as exc:
            return 400, {"error": f"expected {{'payloads': [...]}} as JSON: {exc}"}
        try:
            if operation == "encode":
                out = [self.codec.encrypt(p) for p in payloads.payloads]
            else:
                out = [self.codec.decrypt(p) for p in payloads.payloads]
        except CodecError as exc:
            return 400, {"error": str(exc)}
        return 200, {"payloads": [json_format.MessageToDict(p) for p in out]}


def _handler_for(server: CodecServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        server_version = "nexus-codec"

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
            log.info("%s %s", self.address_string(), format % args)

        def _send(
            self, status: int, body: dict[str, Any] | None, extra: dict[str, str] | None = None
        ) -> None:
            data = json.dumps(body).encode() if body is not None else b""
            self.send_response(status)
            origin = server.allowed_origin(self.headers.get("Origin"))
            if origin:
                self.send_header("Access-Control-Allow-Origin", origin)
                self.send_header("Access-Control-Allow-Credentials", "true")
            self.send_header("Vary", "Origin")
            for name, value in (extra or {}).items():
                self.send_header(name, value)
            if body is not None:
                self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            if data:
                self.wfile.write(data)

        def _operation(self) -> str | None:
            path = self.path.split("?", 1)[0].rstrip("/")
            for op in ("encode", "decode"):
                if path.endswith("/" + op):
                    return op
            return None

        def do_OPTIONS(self) -> None:  # noqa: N802 - the CORS preflight, never authenticated
            self._send(
                204,
                None,
                {
                    "Access-Control-Allow-Methods": "POST, OPTIONS",
                    "Access-Control-Allow-Headers": ALLOWED_HEADERS,
                    "Access-Control-Max-Age": "600",
                },
            )

        def do_GET(self) -> None:  # noqa: N802
            self._send(405, {"error": "use POST /encode or POST /decode"}, {"Allow": "POST"})

        def do_POST(self) -> None:  # noqa: N802
            op = self._operation()
            try:
                length = int(self.headers.get("Content-Length") or 0)
            except ValueError:
                length = -1
            if length < 0:
                self.close_connection = True
                self._send(400, {"error": "invalid Content-Length"})
                return
            if length > MAX_BODY:
                self.close_connection = True
                self._send(413, {"error": f"request body over {MAX_BODY} bytes"})
                return
            body = self.rfile.read(length) if length else b""
            if op is None:
                self._send(404, {"error": "use POST /encode or POST /decode"})
                return
            if not server.authorised(self.headers.get("Authorization")):
                self._send(
                    401,
                    {"error": "missing or wrong bearer token"},
                    {"WWW-Authenticate": 'Bearer realm="nexus-codec"'},
                )
                return
            status, reply = server.transform(op, body)
            if status != 200:
                log.warning(
                    "%s %s (namespace %s): %s",
                    op,
                    status,
                    self.headers.get("X-Namespace", "-"),
                    reply.get("error"),
                )
            self._send(status, reply)

    return Handler
