"""``nexus signal WORKFLOW_ID NAME [--input JSON]``: send a signal to a running workflow (e.g. an
approval). ``signal_``: a module named ``signal`` would shadow the standard library's.

Exit codes: 0 sent; 1 the server is unreachable or refused it (no workflow with that id, one
already completed, an input over its size limit); 2 a bad ``--input``.
"""

from __future__ import annotations

import argparse
import asyncio
from typing import Any

from nexus_temporal.cli._common import connect, connection_flags, quiet_payload_size_warning
from nexus_temporal.cli._errors import EXIT_OK


def register(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "signal", help="send a signal to a running workflow (e.g. an approval)"
    )
    p.add_argument("workflow_id")
    p.add_argument("name")
    p.add_argument("--input", "-i", help="JSON text, or @file.json")
    connection_flags(p)
    p.set_defaults(handler=handle)


def handle(args: argparse.Namespace) -> int:
    return asyncio.run(_signal(args))


async def _signal(args: argparse.Namespace) -> int:
    from temporalio.service import RPCError, RPCStatusCode

    from nexus_temporal.runner import OperationFailed, parse_input, refusal

    data = parse_input(args.input)
    quiet_payload_size_warning()
    client = await connect(args)
    what = f"cannot signal '{args.name}' to workflow '{args.workflow_id}'"
    try:
        await client.get_workflow_handle(args.workflow_id).signal(args.name, data)
    except RPCError as exc:
        if exc.status != RPCStatusCode.NOT_FOUND:
            raise refusal(what, exc) from None
        if "completed" in exc.message:
            raise OperationFailed(
                f"{what}: it has already completed, and a signal reaches only a running "
                "workflow (start a new one: nexus start)"
            ) from None
        raise OperationFailed(
            f"{what}: no workflow has that id in namespace {client.namespace}; check the id "
            "(nexus start prints it) and --namespace"
        ) from None
    print(f"signal '{args.name}' sent to {args.workflow_id}")
    return EXIT_OK
