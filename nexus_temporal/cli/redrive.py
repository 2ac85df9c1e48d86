"""``nexus redrive WORKFLOW_ID``: continue a failed (timed-out, terminated) execution from the
state that failed, in a new run linked to the old one (Temporal reset), without re-running the
states that succeeded. ``--version V`` runs it on a newer version that ``nexus replay`` finds
compatible; ``--dry-run`` only says what it would do.

Exit codes: 0 redriven (or, with ``--dry-run``, it can be); 1 refused (the execution succeeded,
is running, the version cannot continue it) or the server is unreachable; 2 a usage error.
"""

from __future__ import annotations

import argparse
import asyncio
import json
from typing import Any

from nexus_temporal.cli._common import connect, connection_flags, output_flag
from nexus_temporal.cli._errors import EXIT_OK, UsageError


def register(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "redrive",
        help="continue a failed execution from the state that failed (a new, linked run)",
    )
    p.add_argument("workflow_id")
    p.add_argument("--run-id", help="the run to redrive (default: the latest)")
    p.add_argument("--version", help="run it on this newer version of its definition")
    p.add_argument(
        "--definitions",
        "-d",
        action="append",
        default=[],
        help="definition files or directories holding --version (repeatable)",
    )
    p.add_argument("--dry-run", action="store_true", help="say what it would do, do nothing")
    output_flag(p)
    connection_flags(p, task_queue=False)
    p.set_defaults(handler=handle)


def handle(args: argparse.Namespace) -> int:
    if args.definitions and args.version is None:
        raise UsageError("--definitions is for --version: give the version to run")
    return asyncio.run(_redrive(args))


async def _redrive(args: argparse.Namespace) -> int:
    from nexus_temporal.redrive import redrive

    client = await connect(args)
    done = await redrive(
        client,
        args.workflow_id,
        run_id=args.run_id,
        version=args.version,
        definitions=args.definitions or None,
        dry_run=args.dry_run,
    )
    if args.output == "json":
        print(json.dumps(done.to_json(), indent=2))
        return EXIT_OK
    print(("would " if done.dry_run else "") + done.description)
    for warning in done.warnings:
        print(f"warning: {warning}")
    if done.run_id:
        print(f"redriven: workflow {done.workflow_id}, new run {done.run_id}")
    return EXIT_OK
