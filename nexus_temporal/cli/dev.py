"""``nexus dev DIR_OR_FILE...``: an embedded Temporal dev server and a worker (Ctrl-C stops
both). It takes every ``nexus worker`` flag; exit codes are the worker's.

It also starts the local cloud emulators (``activities/emulators/``) that the ``example.json``
beside a definition declares (``emulators``), for each cloud the provider settings do not
configure, and points the worker at them (one line per emulator); ``--no-emulators`` does not.
"""

from __future__ import annotations

import argparse
import asyncio
from pathlib import Path
from typing import Any

from nexus_temporal.cli.worker import Server, add_arguments, serve


def register(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "dev", help="embedded Temporal dev server + worker (Ctrl-C stops both)"
    )
    add_arguments(p, dev=True)
    p.add_argument("--db", default=".nexus/temporal.db", help="[.nexus/temporal.db]")
    p.add_argument("--ui-port", type=int, default=8233)
    p.add_argument(
        "--ui-codec-endpoint",
        metavar="URL",
        help="the Web UI decodes payloads with this codec server (nexus codec-server)",
    )
    p.add_argument(
        "--no-emulators",
        action="store_true",
        help="do not start the emulators an example.json beside a definition declares",
    )
    p.set_defaults(handler=handle)


def handle(args: argparse.Namespace) -> int:
    return asyncio.run(serve(args, start_server=_start_server, emulators=not args.no_emulators))


def _start_server(args: argparse.Namespace) -> Server:
    """Start (or reuse) the dev server at ``--address``; the worker then connects to it."""
    from nexus_temporal.devserver import DevServer

    host, _, port = (args.address or "127.0.0.1:7233").partition(":")
    server = DevServer(
        host=host,
        port=int(port or 7233),
        ui_port=args.ui_port,
        db_file=Path(args.db),
        ui_codec_endpoint=args.ui_codec_endpoint,
    ).start()
    args.address = server.address
    print(
        f"Temporal dev server {'reused' if server.reused else 'started'} at "
        f"{server.address}; Web UI {server.ui_url}",
        flush=True,
    )
    return server
