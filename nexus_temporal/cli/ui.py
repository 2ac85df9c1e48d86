"""``nexus ui``: serve the live execution view (docs/ui.md) until Ctrl-C.

Exit codes: 0 stopped; 1 the Temporal server is unreachable; 2 a usage error (the port in
use, unreadable definitions or codec keys).
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from typing import Any

from nexus_temporal.cli._common import connect, connection_flags
from nexus_temporal.cli._errors import EXIT_OK, UsageError

DEFAULT_PORT = 8234
DEFAULT_WEB_UI = "http://localhost:8233"


def register(subparsers: Any) -> None:
    """Add ``ui`` to the ``nexus`` command line."""
    p = subparsers.add_parser(
        "ui",
        help="serve a web page drawing NEXUS executions on their definition's graph",
        description="Serve the executions list and, for each execution, its definition's "
        "graph coloured by what each state did (live while it runs), with each state's "
        "input, output, errors, attempts and timings; and the same as JSON under /api "
        "(docs/ui.md). It reads history and the nexus_state query: no worker is needed.",
    )
    p.add_argument("--host", default="127.0.0.1", help="address to listen on [127.0.0.1]")
    p.add_argument(
        "--port", type=int, default=DEFAULT_PORT, help=f"port (0: a free one) [{DEFAULT_PORT}]"
    )
    p.add_argument(
        "--definitions",
        "-d",
        nargs="+",
        default=[],
        metavar="FILE_OR_DIR",
        help="the definitions the workers serve, to draw each execution's graph (matched by "
        "content hash; without them the graph shows the states history recorded)",
    )
    p.add_argument(
        "--web-ui",
        default=DEFAULT_WEB_UI,
        metavar="URL",
        help=f"the Temporal Web UI, for the links ('' for none) [{DEFAULT_WEB_UI}]",
    )
    p.add_argument(
        "--allowed-host",
        dest="allowed_hosts",
        action="append",
        default=[],
        metavar="HOST[:PORT]",
        help="also accept requests naming this Host (a name other machines use to reach this "
        "one, with --host 0.0.0.0), repeatable [localhost, 127.0.0.1, [::1], --host]",
    )
    p.add_argument(
        "--poll",
        type=float,
        default=2.0,
        metavar="SECONDS",
        help="how often the page asks for updates [2]",
    )
    connection_flags(p, task_queue=False)
    p.set_defaults(handler=handle)


def handle(args: argparse.Namespace) -> int:
    from nexus_temporal.client import settings_from_args
    from nexus_temporal.codec import CodecConfigError, EncryptionCodec, KeyRing
    from nexus_temporal.registry import load_registry
    from nexus_temporal.ui import Loop, Source, UIServer

    if not 0 <= args.port <= 65535:
        raise UsageError(f"--port {args.port}: expected 0..65535")
    if not 0.2 <= args.poll <= 3600:
        raise UsageError(f"--poll {args.poll:g}: expected 0.2 to 3600 seconds")
    if args.web_ui and not args.web_ui.startswith(("http://", "https://")):
        raise UsageError(f"--web-ui {args.web_ui[:100]}: expected an http:// or https:// URL")
    registry = None
    if args.definitions:
        from nexus_temporal.dsl.errors import DefinitionError

        try:
            registry = load_registry(args.definitions)
        except DefinitionError:
            raise
        except (OSError, ValueError) as exc:
            raise UsageError(f"--definitions: {exc}") from None
    try:
        keys = KeyRing.load(settings_from_args(args).resolved().codec_keys)
    except CodecConfigError as exc:
        raise UsageError(str(exc)) from None
    loop = Loop()
    try:
        client = loop.run(connect(args))
        source = Source(
            client, registry, EncryptionCodec(keys) if keys else None, web_ui=args.web_ui
        )
        server = UIServer(
            source,
            loop,
            args.host,
            args.port,
            allowed_hosts=tuple(args.allowed_hosts),
            poll_ms=int(args.poll * 1000),
        )
        try:
            server.start()
        except OSError as exc:
            raise UsageError(
                f"cannot listen on {args.host}:{args.port}: {exc.strerror or exc}"
            ) from None
        if args.host not in ("127.0.0.1", "localhost", "::1"):
            print(
                f"nexus: warning: listening on {args.host}: whoever reaches the port sees "
                "the executions' payloads" + (" decrypted" if keys else ""),
                file=sys.stderr,
                flush=True,
            )
        stop = threading.Event()
        signal.signal(signal.SIGINT, lambda *_: stop.set())
        signal.signal(signal.SIGTERM, lambda *_: stop.set())
        try:
            print(f"nexus ui on {server.url}", flush=True)
            graphs = f"{len(registry.plans)} definitions" if registry else "no --definitions"
            print(
                f"  namespace {client.namespace}; {graphs}; payloads "
                f"{'decrypted with ' + ', '.join(keys.ids) if keys else 'as stored'}",
                flush=True,
            )
            print("Ctrl-C stops it", flush=True)
            stop.wait()
        finally:
            server.stop()
    finally:
        loop.stop()
    print("stopped", flush=True)
    return EXIT_OK
