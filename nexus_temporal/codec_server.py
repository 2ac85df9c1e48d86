"""A Temporal remote codec server: ``POST /encode`` and ``POST /decode`` with the
:class:`~nexus_temporal.codec.EncryptionCodec`, for the Temporal Web UI (``--ui-codec-endpoint``)
and CLI (``temporal --codec-endpoint``).

Request and response bodies are the protobuf JSON form of ``temporal.api.common.v1.Payloads``:
``{"payloads": [{"metadata": {"encoding": "<base64>"}, "data": "<base64>"}]}``. Paths may carry a
prefix (``/codec/decode``). Browsers from the allowed origins get CORS headers (preflight
``OPTIONS`` included; ``X-Namespace`` and ``Authorization`` allowed). With auth tokens, a request
needs ``Authorization: Bearer <token>``; payloads and keys are never logged.

Whoever can reach the port is untrusted. In the order a request is checked:

1. ``Host`` must be one of the allowed hosts (403 otherwise): a web page on ``evil.example``
   whose name resolves to 127.0.0.1 (DNS rebinding) reaches the port with its own name as
   ``Host``, and would otherwise read plaintext, the browser treating it as same-origin.
2. The bearer token (401), compared in constant time, before a byte of the body is read.
3. ``Content-Length``: required (411), well-formed (400), at most ``max_body`` (413); an
   over-long body is never read.
4. Each request must arrive within ``request_timeout``, at most ``max_connections`` at a time
   (:class:`~nexus_temporal.serving.HardenedHTTPServer`), so slow clients cannot hold threads.
5. Any malformed body or payload is a JSON ``400 {"error": ...}``, never a traceback.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import logging
import re
import socket
import time
from collections.abc import Sequence
from http import HTTPStatus
from typing import Any

from google.protobuf import json_format
from temporalio.api.common.v1 import Payloads

from nexus_temporal.codec import CodecError, EncryptionCodec
from nexus_temporal.errors import NexusTemporalError
from nexus_temporal.serving import (
    DEFAULT_MAX_CONNECTIONS,
    DEFAULT_REQUEST_TIMEOUT,
    BackgroundServer,
    DeadlineRequestHandler,
    HardenedHTTPServer,
)

log = logging.getLogger("nexus.codec_server")

#: The local dev server's Web UI, by either name.
DEFAULT_ORIGINS = ("http://localhost:8233", "http://127.0.0.1:8233")
#: Names this machine is reached by; always allowed as ``Host`` (with the listening port).
LOOPBACK_HOSTS = ("localhost", "127.0.0.1", "[::1]")
#: Request bodies larger than this are refused unread (Temporal's own payload limit is 2 MB;
#: base64 in JSON makes that 2.7 MB, so a batch of such payloads fits).
DEFAULT_MAX_BODY = 8 * 1024 * 1024
ALLOWED_HEADERS = "Content-Type, X-Namespace, Authorization"
#: An error answered before the body was read closes the connection; what the client sends
#: meanwhile is drained (at most this much, for at most a second) so that the close does not
#: reset the connection before the client has read the answer.
_DRAIN_BYTES = 1024 * 1024

_HOSTNAME = re.compile(r"^(\[[0-9a-f:.]+\]|[a-z0-9]([a-z0-9.-]{0,251}[a-z0-9])?)(:[0-9]{1,5})?$")
_BASE64 = re.compile(r"^[A-Za-z0-9+/_-]*={0,2}$")  # standard or URL-safe, as protobuf reads it
_DIGITS = re.compile(r"^[0-9]{1,20}$")


class CodecServerConfigError(NexusTemporalError, ValueError):
    """An invalid server configuration (the CLI reports it as a usage error, exit 2)."""


def normalize_host(value: str) -> str:
    """``value`` (``name``, ``name:port``, an IPv4 or a bracketed or bare IPv6 address, with or
    without a port) in the form a ``Host`` header has, lower-case; CodecServerConfigError if it
    is none of those."""
    text = value.strip().lower()
    if text.count(":") > 1 and not text.startswith("["):
        text = f"[{text}]"  # a bare IPv6 address: its colons are not a port separator
    if not _HOSTNAME.match(text) or text.endswith(":"):
        raise CodecServerConfigError(
            f"invalid host '{value[:100]}': expected NAME, NAME:PORT, an IP address, or [IPv6]:PORT"
        )
    return text


def _has_port(host: str) -> bool:
    return ":" in host.rsplit("]", 1)[-1]


def _clean(text: object, limit: int = 200) -> str:
    """``text`` for a log line or an error: printable characters only (no forged log lines
    from a header or a path), at most ``limit`` of them."""
    value = str(text)
    cleaned = "".join(c if c.isprintable() else "?" for c in value[:limit])
    return cleaned + ("..." if len(value) > limit else "")


class CodecServer(BackgroundServer):
    """Serve ``codec`` on ``host:port`` (0: a free port) in a background thread.

    Args:
        codec: the codec that encodes and decodes.
        origins: browser origins allowed by CORS (``*``: any, refused with ``tokens``).
        tokens: bearer tokens that authorise a request; none: every request is served.
        allowed_hosts: ``Host`` values accepted besides localhost, 127.0.0.1, [::1] (and
            ``host`` when it is a specific address) with the listening port. A name without a
            port matches it with the listening port and without one (a proxy on port 80/443).
        max_body: the largest request body read, in bytes.
        request_timeout: seconds for a request to arrive (head and body), and for each socket
            operation.
        max_connections: connections served at a time; more are answered 503.
    """

    def __init__(
        self,
        codec: EncryptionCodec,
        host: str = "127.0.0.1",
        port: int = 8888,
        origins: Sequence[str] = DEFAULT_ORIGINS,
        tokens: Sequence[str] = (),
        allowed_hosts: Sequence[str] = (),
        max_body: int = DEFAULT_MAX_BODY,
        request_timeout: float = DEFAULT_REQUEST_TIMEOUT,
        max_connections: int = DEFAULT_MAX_CONNECTIONS,
    ) -> None:
        super().__init__(host, port)
        self.codec = codec
        self.origins = tuple(o.rstrip("/") for o in origins)
        if "*" in self.origins and tokens:
            # a token-protected server would answer any web page with the user's credentials
            raise CodecServerConfigError(
                "--cors-origin '*' cannot be combined with auth tokens: any web page could "
                "then call the server with them; list the Web UI's origin instead"
            )
        # digests: compare_digest on equal-length values leaks nothing, not even the length
        self._token_digests = tuple(hashlib.sha256(t.encode()).digest() for t in tokens)
        self.extra_hosts = tuple(normalize_host(h) for h in allowed_hosts)
        if max_body < 0 or request_timeout <= 0 or max_connections < 1:
            raise CodecServerConfigError(
                "max_body, request_timeout and max_connections must be positive"
            )
        self.max_body = max_body
        self.request_timeout = request_timeout
        self.max_connections = max_connections
        self._hosts: frozenset[str] = frozenset()

    @property
    def label(self) -> str:
        return "codec server"

    @property
    def url(self) -> str:
        """The URL to use on this machine (loopback when listening on every interface: the
        wildcard address is not an allowed ``Host``)."""
        if self.host in ("", "0.0.0.0", "::"):
            return f"http://127.0.0.1:{self.bound_port}"
        return super().url

    def make_server(self) -> HardenedHTTPServer:
        handler = _handler_for(self)
        handler.timeout = self.request_timeout
        server = HardenedHTTPServer((self.host, self.port), handler, self.max_connections)
        self._hosts = self._allowed_hosts(int(server.server_port))
        return server

    def _allowed_hosts(self, port: int) -> frozenset[str]:
        names = list(LOOPBACK_HOSTS)
        if self.host not in ("", "0.0.0.0", "::"):  # a specific address: it names itself
            names.append(normalize_host(self.host))
        allowed = {f"{name}:{port}" for name in names}
        if port == 80:  # no port in Host means 80
            allowed.update(names)
        for extra in self.extra_hosts:
            allowed.add(extra)
            if not _has_port(extra):
                allowed.add(f"{extra}:{port}")
        return frozenset(allowed)

    @property
    def allowed_hosts(self) -> frozenset[str]:
        """The accepted ``Host`` header values (known once the server is started)."""
        return self._hosts

    # -- request logic, independent of the HTTP plumbing ---------------------------------------

    def host_allowed(self, values: Sequence[str]) -> bool:
        """Whether the request's ``Host`` headers (exactly one expected) are allowed."""
        return len(values) == 1 and values[0].strip().lower() in self._hosts

    def allowed_origin(self, origin: str | None) -> str | None:
        """The ``Access-Control-Allow-Origin`` value for a request from ``origin``, if allowed:
        the origin itself when listed, ``*`` when any origin is (never echoed: the browser
        then sends no credentials)."""
        if not origin:
            return None
        if origin.rstrip("/") in self.origins:
            return origin
        if "*" in self.origins:
            return "*"
        return None

    def authorised(self, header: str | None) -> bool:
        if not self._token_digests:
            return True
        scheme, _, token = (header or "").partition(" ")
        if scheme.lower() != "bearer":
            return False
        given = hashlib.sha256(token.strip().encode()).digest()
        # compare with every token (constant time each): no early exit on a match
        return any([hmac.compare_digest(given, t) for t in self._token_digests])

    def transform(self, operation: str, body: bytes) -> tuple[int, dict[str, Any]]:
        """(status, JSON body) for ``operation`` ('encode' or 'decode') on a request body."""
        try:
            document = json.loads(body)
        except (ValueError, RecursionError):  # not JSON, not UTF-8, or nested too deep
            return 400, {"error": 'the body is not JSON; expected {"payloads": [...]}'}
        if not isinstance(document, dict) or not isinstance(document.get("payloads"), list):
            return 400, {"error": 'expected {"payloads": [...]}'}
        problem = _base64_problem(document["payloads"])
        if problem:
            return 400, {"error": problem}
        payloads = Payloads()
        try:
            json_format.ParseDict(document, payloads, ignore_unknown_fields=True)
        except (json_format.ParseError, ValueError, TypeError, RecursionError) as exc:
            return 400, {"error": f"invalid payloads: {_clean(exc)}"}
        try:
            if operation == "encode":
                out = [self.codec.encrypt(p) for p in payloads.payloads]
            else:
                out = [self.codec.decrypt(p) for p in payloads.payloads]
        except CodecError as exc:
            return 400, {"error": str(exc)}
        return 200, {"payloads": [json_format.MessageToDict(p) for p in out]}


def _base64_problem(payloads: list[Any]) -> str | None:
    """Why the payloads' bytes fields are not base64, if they are not. Protobuf's JSON parser
    skips the characters that are not base64 and decodes the rest: a garbled payload would be
    "decoded" into other bytes instead of being reported."""
    for index, payload in enumerate(payloads):
        if not isinstance(payload, dict):
            return f"payload {index} is not an object"
        metadata = payload.get("metadata", {})
        if not isinstance(metadata, dict):
            return f"payload {index}: metadata is not an object"
        values = [("data", payload.get("data", ""))]
        values += [(f"metadata '{_clean(k, 64)}'", v) for k, v in metadata.items()]
        for name, value in values:
            if not isinstance(value, str) or not _is_base64(value):
                return f"payload {index}: {name} is not base64"
    return None


def _is_base64(text: str) -> bool:
    if not _BASE64.match(text):
        return False
    norm = text.rstrip("=").replace("-", "+").replace("_", "/")
    try:
        base64.b64decode(norm + "=" * (-len(norm) % 4), validate=True)
    except (binascii.Error, ValueError):
        return False
    return True


def _handler_for(server: CodecServer) -> type[DeadlineRequestHandler]:
    class Handler(DeadlineRequestHandler):
        protocol_version = "HTTP/1.1"
        server_version = "nexus-codec"
        sys_version = ""  # no Python version in the Server header
        linger = False  # drain the client's unread body before closing (see finish)

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
            log.info("%s %s", self.address_string(), _clean(format % args, 300))

        def send_error(
            self, code: int, message: str | None = None, explain: str | None = None
        ) -> None:
            """The standard library's protocol errors (bad request line, too many headers,
            unknown method) as JSON too, without echoing the request."""
            self.close_connection = True
            try:
                phrase = HTTPStatus(code).phrase
            except ValueError:
                phrase = "error"
            self._send(code, {"error": phrase})

        def _send(
            self, status: int, body: dict[str, Any] | None, extra: dict[str, str] | None = None
        ) -> None:
            data = json.dumps(body).encode() if body is not None else b""
            self.send_response(status)
            headers = getattr(self, "headers", None)
            origin = server.allowed_origin(headers.get("Origin") if headers else None)
            if origin:
                self.send_header("Access-Control-Allow-Origin", origin)
                if origin != "*":  # credentials are never allowed for any origin
                    self.send_header("Access-Control-Allow-Credentials", "true")
            self.send_header("Vary", "Origin")
            for name, value in (extra or {}).items():
                self.send_header(name, value)
            if body is not None:
                self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            if self.close_connection:
                self.send_header("Connection", "close")
            self.end_headers()
            if data:
                self.wfile.write(data)

        def _refuse_early(
            self, status: int, body: dict[str, Any], extra: dict[str, str] | None = None
        ) -> None:
            """Answer before the body is read: the connection cannot carry another request."""
            self.close_connection = True
            self.linger = self.command == "POST"
            self._send(status, body, extra)

        def _host_ok(self) -> bool:
            if server.host_allowed(self.headers.get_all("Host") or []):
                return True
            log.warning(
                "refused Host %s from %s (allowed: %s; add --allowed-host)",
                _clean(self.headers.get("Host", "-"), 100),
                self.address_string(),
                ", ".join(sorted(server.allowed_hosts)),
            )
            self._refuse_early(403, {"error": "Host not allowed"})
            return False

        def _operation(self) -> str | None:
            path = self.path.split("?", 1)[0].rstrip("/")
            for op in ("encode", "decode"):
                if path.endswith("/" + op):
                    return op
            return None

        def _content_length(self) -> int | None:
            """The body's length, or None once an error is answered."""
            if self.headers.get("Transfer-Encoding") is not None:
                # chunked bodies have no length to check up front (and with a Content-Length
                # too, the request is ambiguous: a smuggling attempt)
                self._refuse_early(411, {"error": "send the body with a Content-Length"})
                return None
            values = self.headers.get_all("Content-Length") or []
            if not values:
                self._refuse_early(411, {"error": "Content-Length required"})
                return None
            if len(set(v.strip() for v in values)) != 1 or not _DIGITS.match(values[0].strip()):
                self._refuse_early(400, {"error": "invalid Content-Length"})
                return None
            length = int(values[0])
            if length > server.max_body:
                self._refuse_early(
                    413, {"error": f"request body over {server.max_body} bytes (--max-body-mib)"}
                )
                return None
            return length

        def do_OPTIONS(self) -> None:  # noqa: N802 - the CORS preflight, never authenticated
            if not self._host_ok():
                return
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
            if not self._host_ok():
                return
            self._send(405, {"error": "use POST /encode or POST /decode"}, {"Allow": "POST"})

        def do_POST(self) -> None:  # noqa: N802
            # Every check that needs no body comes before reading it: an unauthorised or
            # oversized request costs the server its headers only.
            if not self._host_ok():
                return
            op = self._operation()
            if op is None:
                self._refuse_early(404, {"error": "use POST /encode or POST /decode"})
                return
            if not server.authorised(self.headers.get("Authorization")):
                self._refuse_early(
                    401,
                    {"error": "missing or wrong bearer token"},
                    {"WWW-Authenticate": 'Bearer realm="nexus-codec"'},
                )
                return
            length = self._content_length()
            if length is None:
                return
            body = self.rfile.read(length) if length else b""
            if len(body) < length:  # the client closed the connection mid-body
                self.close_connection = True
                return
            try:
                status, reply = server.transform(op, body)
            except Exception as exc:  # a bug, not the client's: still no traceback, no payload
                log.error("%s failed: %s", op, type(exc).__name__)
                status, reply = 500, {"error": "internal error"}
            if status != 200:
                log.warning(
                    "%s %s (namespace %s): %s",
                    op,
                    status,
                    _clean(self.headers.get("X-Namespace", "-"), 100),
                    _clean(reply.get("error")),
                )
            self._send(status, reply)

        def finish(self) -> None:
            super().finish()
            if self.linger:
                _drain(self.connection, min(1.0, server.request_timeout))

    return Handler


def _drain(sock: socket.socket, seconds: float) -> None:
    """Half-close, then read and discard what the client still sends (at most
    ``_DRAIN_BYTES``, for at most ``seconds`` in all), so that it sees the answer and our
    close rather than a connection reset."""
    deadline = time.monotonic() + seconds
    try:
        sock.shutdown(socket.SHUT_WR)
        received = 0
        while received < _DRAIN_BYTES:
            left = deadline - time.monotonic()
            if left <= 0:
                break
            sock.settimeout(left)
            chunk = sock.recv(65536)
            if not chunk:
                break
            received += len(chunk)
    except OSError:  # timed out or reset: either way the connection is done
        pass
