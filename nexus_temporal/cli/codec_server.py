"""``nexus codec-server``: serve the payload codec to the Temporal Web UI and CLI, until Ctrl-C.

Exit codes: 0 stopped; 2 a usage error (no or invalid keys, port in use, unsafe settings).
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
from pathlib import Path
from typing import Any

from nexus_temporal.cli._errors import EXIT_OK, UsageError

#: Bearer token(s) for the codec server when no token flag is given (comma-separated).
ENV_TOKEN = "NEXUS_CODEC_AUTH_TOKEN"
#: A file of bearer tokens (one a line) when no token flag is given; wins over ENV_TOKEN.
ENV_TOKEN_FILE = "NEXUS_CODEC_AUTH_TOKEN_FILE"
MIB = 1024 * 1024


def _positive(kind: type[int] | type[float]) -> Any:
    def parse(text: str) -> int | float:
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"'{text}' is not a number") from None
        if value <= 0:
            raise argparse.ArgumentTypeError(f"{text} must be greater than 0")
        return value

    return parse


def register(subparsers: Any) -> None:
    """Add ``codec-server`` to the ``nexus`` command line (``handler`` set as the default)."""
    from nexus_temporal.codec_server import DEFAULT_MAX_BODY
    from nexus_temporal.serving import DEFAULT_MAX_CONNECTIONS, DEFAULT_REQUEST_TIMEOUT

    p = subparsers.add_parser(
        "codec-server",
        help="serve the payload encryption codec to the Temporal Web UI and CLI",
        description="Decrypt (and encrypt) payloads for the Temporal Web UI "
        "(temporal server start-dev --ui-codec-endpoint URL) and CLI "
        "(temporal --codec-endpoint URL). See docs/security.md.",
    )
    p.add_argument("--port", type=int, default=8888, help="[8888]; 0 picks a free port")
    p.add_argument(
        "--host", default="127.0.0.1", help="interface to listen on [127.0.0.1: this machine]"
    )
    p.add_argument(
        "--keys",
        "--codec-keys",
        dest="keys",
        metavar="FILE",
        help="key file [NEXUS_CODEC_KEYS_FILE, or inline keys in NEXUS_CODEC_KEYS]",
    )
    p.add_argument(
        "--cors-origin",
        dest="origins",
        action="append",
        default=[],
        metavar="URL",
        help="browser origin allowed to call the server, repeatable ('*': any, not with a "
        "token) [http://localhost:8233 and http://127.0.0.1:8233: the dev server's Web UI]",
    )
    p.add_argument(
        "--allowed-host",
        dest="allowed_hosts",
        action="append",
        default=[],
        metavar="HOST[:PORT]",
        help="also accept requests whose Host header is this (the name clients use to reach "
        "the server, e.g. behind a proxy), repeatable [localhost, 127.0.0.1, [::1] and --host, "
        "with the listening port]",
    )
    p.add_argument(
        "--auth-token-file",
        dest="token_files",
        action="append",
        default=[],
        metavar="FILE",
        help="require 'Authorization: Bearer TOKEN' with a token from this file (one per "
        f"line), repeatable [{ENV_TOKEN_FILE}; else {ENV_TOKEN}, comma-separated]",
    )
    p.add_argument(
        "--auth-token",
        dest="tokens",
        action="append",
        default=[],
        metavar="TOKEN",
        help="the same with the token itself: visible to every user in the process list, "
        "prefer --auth-token-file",
    )
    p.add_argument(
        "--max-body-mib",
        type=_positive(int),
        default=DEFAULT_MAX_BODY // MIB,
        metavar="MIB",
        help=f"largest request body, refused unread beyond [{DEFAULT_MAX_BODY // MIB}]",
    )
    p.add_argument(
        "--request-timeout",
        type=_positive(float),
        default=DEFAULT_REQUEST_TIMEOUT,
        metavar="SECONDS",
        help="a request must arrive within this, else its connection is dropped "
        f"[{DEFAULT_REQUEST_TIMEOUT:g}]",
    )
    p.add_argument(
        "--max-connections",
        type=_positive(int),
        default=DEFAULT_MAX_CONNECTIONS,
        metavar="N",
        help=f"connections served at a time; more get 503 [{DEFAULT_MAX_CONNECTIONS}]",
    )
    p.add_argument(
        "--new-key",
        metavar="ID",
        help="print a new random key as an 'ID:BASE64' line for a key file, and exit",
    )
    p.add_argument(
        "--add-to",
        metavar="FILE",
        help="with --new-key: append the line to this key file instead (created with mode "
        "0600 if missing), printing no key",
    )
    p.set_defaults(handler=handle)


def _read_tokens(path: str) -> list[str]:
    from nexus_temporal.codec import warn_if_exposed

    warn_if_exposed(path, "auth token file")
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else "not UTF-8"
        raise ValueError(f"cannot read the auth token file {path}: {reason}") from None
    tokens = [line.strip() for line in text.splitlines() if line.strip()]
    if not tokens:
        raise ValueError(f"the auth token file {path} holds no token")
    return tokens


def _tokens(args: argparse.Namespace) -> list[str]:
    """Flags first (all of them), else the environment. ValueError for an unusable one."""
    if args.tokens:
        print(
            "nexus: warning: --auth-token puts the token in the process list (ps, "
            "/proc/PID/cmdline), readable by every user of this machine; use "
            f"--auth-token-file FILE, {ENV_TOKEN_FILE} or {ENV_TOKEN} instead",
            file=sys.stderr,
            flush=True,
        )
        if any(not t.strip() for t in args.tokens):
            raise ValueError("--auth-token must not be empty")
    tokens = [t.strip() for t in args.tokens]
    for path in args.token_files:
        tokens += _read_tokens(path)
    if tokens:
        return tokens
    if os.environ.get(ENV_TOKEN_FILE):
        return _read_tokens(os.environ[ENV_TOKEN_FILE])
    return [t.strip() for t in os.environ.get(ENV_TOKEN, "").split(",") if t.strip()]


def _new_key(args: argparse.Namespace) -> int:
    from nexus_temporal.codec import CodecConfigError, KeyRing, new_key, write_secret_file

    try:
        KeyRing([(args.new_key, b"\0" * 32)])  # validates the id
    except CodecConfigError as exc:
        raise UsageError(str(exc)) from None
    line = f"{args.new_key}:{new_key()}"
    if args.add_to is None:
        print(line)
        return EXIT_OK
    path = Path(args.add_to)
    if path.exists():  # a key file already: it must stay valid, the id must be new
        try:
            existing = KeyRing.load(path)
        except CodecConfigError as exc:
            raise UsageError(f"not adding to it: {exc}") from None
        if existing is not None and args.new_key in existing.ids:
            raise UsageError(f"{path} already has a key '{args.new_key}'")
    try:
        created = write_secret_file(path, line)
    except OSError as exc:
        raise UsageError(f"cannot write {path}: {exc.strerror or exc}") from None
    where = "created (mode 0600)" if created else "appended to"
    print(f"key '{args.new_key}' {where} {path}")
    return EXIT_OK


def handle(args: argparse.Namespace) -> int:
    from nexus_temporal.codec import CodecConfigError, EncryptionCodec, KeyRing
    from nexus_temporal.codec_server import (
        DEFAULT_ORIGINS,
        CodecServer,
        CodecServerConfigError,
    )

    if args.new_key is not None:
        return _new_key(args)
    if args.add_to is not None:
        raise UsageError("--add-to goes with --new-key ID")
    try:
        keys = KeyRing.load(args.keys)
    except CodecConfigError as exc:
        raise UsageError(str(exc)) from None
    if keys is None:
        raise UsageError(
            "no codec keys: pass --keys FILE, or set NEXUS_CODEC_KEYS_FILE or NEXUS_CODEC_KEYS "
            "(the same keys the workers use)"
        )
    try:
        tokens = _tokens(args)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    origins = args.origins or list(DEFAULT_ORIGINS)
    try:
        server = CodecServer(
            EncryptionCodec(keys),
            host=args.host,
            port=args.port,
            origins=origins,
            tokens=tokens,
            allowed_hosts=args.allowed_hosts,
            max_body=args.max_body_mib * MIB,
            request_timeout=args.request_timeout,
            max_connections=args.max_connections,
        )
    except CodecServerConfigError as exc:
        raise UsageError(str(exc)) from None
    if "*" in server.origins:
        print(
            "nexus: warning: --cors-origin '*': any web page open in a browser on a machine "
            "that reaches this server can decode payloads with it",
            file=sys.stderr,
            flush=True,
        )
    if not tokens and args.host not in ("127.0.0.1", "localhost", "::1"):
        print(
            f"nexus: warning: listening on {args.host} without an auth token: anyone who "
            "reaches the port can decode payloads (--auth-token-file FILE)",
            file=sys.stderr,
            flush=True,
        )
    if args.host in ("", "0.0.0.0", "::") and not args.allowed_hosts:
        print(
            f"nexus: warning: listening on {args.host or 'every interface'}, but only requests "
            "naming localhost in their Host header are served: add --allowed-host NAME for "
            "each name or address other machines use to reach this one",
            file=sys.stderr,
            flush=True,
        )
    try:
        server.start()
    except OSError as exc:
        raise UsageError(
            f"cannot listen on {args.host}:{args.port}: {exc.strerror or exc}"
        ) from None
    stop = threading.Event()
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        print(f"codec server listening on {server.url}", flush=True)
        print(
            f"  keys: {', '.join(keys.ids)} (encrypting with '{keys.active_id}'); "
            f"CORS origins: {', '.join(origins)}; "
            f"auth: {'bearer token' if tokens else 'none'}; "
            f"Host: {', '.join(sorted(server.allowed_hosts))}",
            flush=True,
        )
        print(
            f"  Web UI: temporal server start-dev --ui-codec-endpoint {server.url}  "
            f"CLI: temporal workflow show --codec-endpoint {server.url} ...",
            flush=True,
        )
        print("Ctrl-C stops the server", flush=True)
        stop.wait()
    finally:
        server.stop()
    print("stopped", flush=True)
    return EXIT_OK
