"""``nexus run NAME[@VERSION]``: start a workflow and follow it to its result (``run_``: the
package's ``run`` is the console entry point).

Exit codes: 0 the workflow succeeded (its result printed as JSON); 1 it failed, or the server is
unreachable; 2 a usage error (bad ``--input``, unusable codec keys).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from typing import Any

from nexus_temporal.cli._common import connect, connection_flags
from nexus_temporal.cli._errors import EXIT_FAILED, EXIT_OK


def register(subparsers: Any) -> None:
    p = subparsers.add_parser("run", help="start a workflow and follow it to its result")
    add_arguments(p)
    p.set_defaults(handler=handle)


def add_arguments(p: argparse.ArgumentParser) -> None:
    """The flags ``run`` and ``start`` share."""
    p.add_argument("reference", metavar="NAME[@VERSION]")
    p.add_argument("--input", "-i", help="JSON text, or @file.json")
    p.add_argument("--workflow-id", "--id", dest="workflow_id")
    connection_flags(p)


def handle(args: argparse.Namespace) -> int:
    return asyncio.run(launch(args, follow_it=True))


async def launch(args: argparse.Namespace, *, follow_it: bool) -> int:
    """Start the workflow; with ``follow_it``, print its progress and its result."""
    from nexus_temporal.runner import follow, parse_input, start

    data = parse_input(args.input)
    client = await connect(args)
    handle = await start(
        client, args.reference, data, task_queue=args.task_queue, workflow_id=args.workflow_id
    )
    print(f"started {args.reference} as workflow id {handle.id}", flush=True)
    if not follow_it:
        return EXIT_OK
    last = [0.0]

    def show_progress(line: str) -> None:
        if sys.stdout.isatty():
            print("\r" + line, end="", flush=True)
        elif time.monotonic() - last[0] >= 2:  # logs and CI: a line every 2 s
            last[0] = time.monotonic()
            print(line, flush=True)

    outcome = await follow(
        handle, emit=lambda line: print(line, flush=True), progress=show_progress
    )
    if outcome.ok:
        print(json.dumps(outcome.result, indent=2, sort_keys=True))
        return EXIT_OK
    err = outcome.error
    print(
        f"FAILED in state '{err.get('state')}': {err.get('type')}: "
        f"{err.get('message', err.get('summary'))}",
        file=sys.stderr,
    )
    for comp in err.get("compensations", []) or []:
        print(
            f"  compensation {comp['action']} for {comp['state']}: {comp['status']}",
            file=sys.stderr,
        )
    return EXIT_FAILED
