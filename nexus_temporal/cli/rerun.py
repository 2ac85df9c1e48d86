"""``nexus rerun WORKFLOW_ID --from STATE [--input JSON]``: start a new execution of the same
pinned definition from a chosen state, with the data recorded at that state in the source
execution (the worker reads it from the source's history) or, if the worker allows it, the
given input. Prints what it will do and the new workflow id.

Exit codes: 0 started (or, with ``--dry-run``, it can be); 1 refused (unknown source, a state it
never reached, an id already running) or the server is unreachable; 2 a usage error.
"""

from __future__ import annotations

import argparse
import asyncio
import json
from typing import Any

from nexus_temporal.cli._common import connect, connection_flags, output_flag
from nexus_temporal.cli._errors import EXIT_OK


def register(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "rerun", help="start a new execution from a chosen state of an earlier one"
    )
    p.add_argument("workflow_id", help="the source execution")
    p.add_argument("--from", dest="state", required=True, help="the state to start from")
    p.add_argument(
        "--input",
        "-i",
        help="JSON text or @file.json: the data to start the state with instead of the "
        "recorded data (the worker must allow it: NEXUS_ALLOW_RERUN_INPUT)",
    )
    p.add_argument("--run-id", help="the source run (default: the latest)")
    p.add_argument("--workflow-id", dest="new_id", help="the new execution's id")
    p.add_argument("--task-queue", "-q", help="default: the source's task queue")
    p.add_argument("--dry-run", action="store_true", help="say what it would do, do nothing")
    output_flag(p)
    connection_flags(p, task_queue=False)
    p.set_defaults(handler=handle)


def handle(args: argparse.Namespace) -> int:
    from nexus_temporal.runner import parse_input

    if args.input is not None:
        args.data = parse_input(args.input)  # a usage error before connecting
    return asyncio.run(_rerun(args))


async def _rerun(args: argparse.Namespace) -> int:
    from nexus_temporal.redrive import rerun

    client = await connect(args)
    extra: dict[str, Any] = {"input": args.data} if args.input is not None else {}
    done = await rerun(
        client,
        args.workflow_id,
        args.state,
        run_id=args.run_id,
        new_workflow_id=args.new_id,
        task_queue=args.task_queue,
        dry_run=args.dry_run,
        **extra,
    )
    if args.output == "json":
        print(json.dumps(done.to_json(), indent=2))
        return EXIT_OK
    print(("would " if done.dry_run else "") + done.description)
    if done.run_id:
        print(f"started: workflow {done.workflow_id}, run {done.run_id}")
    return EXIT_OK
