"""``nexus worker DIR_OR_FILE...``: serve definitions on a task queue until Ctrl-C or SIGTERM.

Exit codes: 0 stopped; 1 the server is unreachable; 2 an invalid definition, a function that
does not import, a policy violation or a bad flag (before anything connects).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

from nexus_temporal.cli._common import connect, connection_flags
from nexus_temporal.cli._errors import EXIT_OK


class Server(Protocol):
    """What ``nexus dev`` starts next to the worker: stopped when the worker stops."""

    def stop(self) -> None: ...


def register(subparsers: Any) -> None:
    p = subparsers.add_parser("worker", help="serve definitions on a task queue")
    add_arguments(p, dev=False)
    p.set_defaults(handler=handle)


def add_arguments(p: argparse.ArgumentParser, *, dev: bool) -> None:
    """The flags ``worker`` and ``dev`` share."""
    p.add_argument("paths", nargs="+", metavar="DIR_OR_FILE")
    p.add_argument(
        "--import",
        dest="imports",
        action="append",
        default=[],
        metavar="MODULE",
        help="register functions from this module",
    )
    connection_flags(p)
    p.add_argument(
        "--policy",
        dest="policies",
        action="append",
        type=Path,
        default=[],
        metavar="FILE",
        help="refuse definitions that break an error rule of this policy file "
        "('default': the built-in rules); repeatable",
    )
    p.add_argument(
        "--allow-policy-violations",
        action="store_true",
        help="serve them anyway, logging every violation",
    )
    p.add_argument(
        "--providers",
        type=Path,
        metavar="FILE",
        help="cloud provider settings (docs/providers.md) [NEXUS_PROVIDERS_FILE]",
    )
    from workers.observability import add_flags as add_observability_flags

    add_observability_flags(p, dev=dev)


def handle(args: argparse.Namespace) -> int:
    return asyncio.run(serve(args))


async def serve(
    args: argparse.Namespace, start_server: Callable[[argparse.Namespace], Server] | None = None
) -> int:
    """Check everything that can be checked offline, then (``start_server``: start a server,
    which may set ``args.address``) connect and serve until SIGINT or SIGTERM."""
    from nexus_temporal.registry import load_registry
    from workers.config import WorkerConfig
    from workers.main import build_worker, prepare

    registry = load_registry(args.paths)  # invalid definitions stop us before any server
    config = WorkerConfig(
        definitions=[Path(p) for p in args.paths],
        task_queue=args.task_queue,
        imports=args.imports,
        providers_file=args.providers,
        policies=args.policies,
        allow_policy_violations=args.allow_policy_violations,
    )
    prepare(config, registry)  # and so do functions that do not import
    from workers.observability import Observability

    observability = Observability.from_args(args)  # a bad OTEL_TRACES_EXPORTER stops us too
    server = start_server(args) if start_server is not None else None
    try:
        await observability.start()
        client = observability.instrument(await connect(args))
        from nexus_temporal.devserver import ensure_search_attributes

        sa = await ensure_search_attributes(client)
        if not sa:
            logging.getLogger("nexus").warning(
                "search attributes NexusDefinition/NexusVersion/NexusState are not registered "
                "and could not be added; running without them"
            )
        config.search_attributes = sa
        worker = build_worker(client, config, registry)
        observability.watch(client, worker)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        names = ", ".join(f"{p.name}@{p.version}" for p in registry.plans)
        print(f"worker serving task queue '{args.task_queue}': {names}", flush=True)
        if observability.describe():
            print(f"observability: {observability.describe()}", flush=True)
        async with worker:
            await stop.wait()
        print("stopped", flush=True)
    finally:
        await observability.stop()
        if server is not None:
            server.stop()
    return EXIT_OK
