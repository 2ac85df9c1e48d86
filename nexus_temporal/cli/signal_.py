"""``nexus signal WORKFLOW_ID NAME [--input JSON]``: send a signal to a running workflow (e.g. an
approval). ``signal_``: a module named ``signal`` would shadow the standard library's.

Exit codes: 0 sent; 1 the server is unreachable or refused it; 2 a bad ``--input``.
"""

from __future__ import annotations

import argparse
import asyncio
from typing import Any

from nexus_temporal.cli._common import connect, connection_flags
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
    from nexus_temporal.runner import parse_input

    data = parse_input(args.input)
    client = await connect(args)
    await client.get_workflow_handle(args.workflow_id).signal(args.name, data)
    print(f"signal '{args.name}' sent to {args.workflow_id}")
    return EXIT_OK
