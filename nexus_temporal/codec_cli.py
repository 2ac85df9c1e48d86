"""``nexus codec-server``: serve the payload codec to the Temporal Web UI and CLI, until Ctrl-C.

Exit codes: 0 stopped; 2 a usage error (no or invalid keys, port in use).
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
from typing import Any

EXIT_USAGE = 2
#: Bearer token(s) for the codec server when no ``--auth-token`` is given (comma-separated).
ENV_TOKEN = "NEXUS_CODEC_AUTH_TOKEN"


def register(subparsers: Any) -> None:
    """Add ``codec-server`` to the ``nexus`` command line (``handler`` set as the default)."""
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
        help="browser origin allowed to call the server, repeatable ('*': any) "
        "[http://localhost:8233 and http://127.0.0.1:8233: the dev server's Web UI]",
    )
    p.add_argument(
        "--auth-token",
        dest="tokens",
        action="append",
        default=[],
        metavar="TOKEN",
        help=f"require 'Authorization: Bearer TOKEN', repeatable [{ENV_TOKEN}, comma-separated]",
    )
    p.add_argument(
        "--new-key",
        metavar="ID",
        help="print a new random key as an 'ID:BASE64' line for a key file, and exit",
    )
    p.set_defaults(handler=handle)


def handle(args: argparse.Namespace) -> int:
    from nexus_temporal.codec import CodecConfigError, EncryptionCodec, KeyRing, new_key
    from nexus_temporal.codec_server import DEFAULT_ORIGINS, CodecServer

    if args.new_key is not None:
        try:
            KeyRing([(args.new_key, b"\0" * 32)])  # validates the id
        except CodecConfigError as exc:
            return _usage(str(exc))
        print(f"{args.new_key}:{new_key()}")
        return 0
    try:
        keys = KeyRing.load(args.keys)
    except CodecConfigError as exc:
        return _usage(str(exc))
    if keys is None:
        return _usage(
            "no codec keys: pass --keys FILE, or set NEXUS_CODEC_KEYS_FILE or NEXUS_CODEC_KEYS "
            "(the same keys the workers use)"
        )
    tokens = args.tokens or [t for t in os.environ.get(ENV_TOKEN, "").split(",") if t.strip()]
    if any(not t.strip() for t in tokens):
        return _usage("--auth-token must not be empty")
    origins = args.origins or list(DEFAULT_ORIGINS)
    server = CodecServer(
        EncryptionCodec(keys),
        host=args.host,
        port=args.port,
        origins=origins,
        tokens=[t.strip() for t in tokens],
    )
    try:
        server.start()
    except OSError as exc:
        return _usage(f"cannot listen on {args.host}:{args.port}: {exc.strerror or exc}")
    stop = threading.Event()
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        print(f"codec server listening on {server.url}", flush=True)
        print(
            f"  keys: {', '.join(keys.ids)} (encrypting with '{keys.active_id}'); "
            f"CORS origins: {', '.join(origins)}; "
            f"auth: {'bearer token' if tokens else 'none'}",
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
    return 0


def _usage(message: str) -> int:
    print(f"nexus: error: {message}", file=sys.stderr)
    return EXIT_USAGE
