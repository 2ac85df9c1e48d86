"""``nexus run NAME[@VERSION]``: start a workflow and follow it to its result (``run_``: the
package's ``run`` is the console entry point).

Exit codes: 0 the workflow succeeded (its result printed as JSON); 1 it failed, the server is
unreachable or refused the start (an id already running, an input over its size limit); 2 a
usage error (bad ``--input``, unusable codec keys). When no worker polls the task queue, a
warning says so once on stderr after a few seconds, and the run keeps waiting.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from nexus_temporal.cli._common import (
    connect,
    connection_flags,
    output_flag,
    quiet_payload_size_warning,
)
from nexus_temporal.cli._errors import EXIT_FAILED, EXIT_OK

if TYPE_CHECKING:
    from temporalio.client import Client, WorkflowHandle


def register(subparsers: Any) -> None:
    p = subparsers.add_parser("run", help="start a workflow and follow it to its result")
    add_arguments(p)
    p.set_defaults(handler=handle)


def add_arguments(p: argparse.ArgumentParser, *outputs: str) -> None:
    """The flags ``run`` and ``start`` share; ``outputs``: formats besides text and json."""
    p.add_argument("reference", metavar="NAME[@VERSION]")
    p.add_argument("--input", "-i", help="JSON text, or @file.json")
    p.add_argument("--workflow-id", "--id", dest="workflow_id")
    output_flag(p, *outputs)
    connection_flags(p)


def handle(args: argparse.Namespace) -> int:
    return asyncio.run(launch(args, follow_it=True))


#: After this long without a poller on the task queue, ``nexus run`` says so (once).
NO_POLLERS_AFTER = 5.0


async def launch(args: argparse.Namespace, *, follow_it: bool) -> int:
    """Start the workflow; with ``follow_it``, print its progress and its result."""
    from nexus_temporal.runner import failure_line, follow, parse_input, start

    data = parse_input(args.input)
    quiet_payload_size_warning()
    client = await connect(args)
    handle = await start(
        client, args.reference, data, task_queue=args.task_queue, workflow_id=args.workflow_id
    )
    output = getattr(args, "output", "text")
    started = {
        "workflow_id": handle.id,
        "run_id": handle.result_run_id,
        "reference": args.reference,
        "namespace": client.namespace,
        "task_queue": args.task_queue,
    }
    if output == "id":
        print(handle.id, flush=True)
    elif output == "json" and not follow_it:
        print(json.dumps(started, indent=2), flush=True)
    else:  # with --output json, run's progress goes to stderr: stdout holds one document
        text = sys.stdout if output == "text" else sys.stderr
        print(f"started {args.reference} as workflow id {handle.id}", file=text, flush=True)
    if not follow_it:
        return EXIT_OK
    if output == "json":
        return await _follow_json(client, handle, args, started)
    last = [0.0]

    def show_progress(line: str) -> None:
        if sys.stdout.isatty():
            print("\r" + line, end="", flush=True)
        elif time.monotonic() - last[0] >= 2:  # logs and CI: a line every 2 s
            last[0] = time.monotonic()
            print(line, flush=True)

    watch = asyncio.ensure_future(warn_without_pollers(client, args.task_queue))
    try:
        outcome = await follow(
            handle, emit=lambda line: print(line, flush=True), progress=show_progress
        )
    finally:
        watch.cancel()
    if outcome.ok:
        print(json.dumps(outcome.result, indent=2, sort_keys=True))
        return EXIT_OK
    err = outcome.error
    print(failure_line(err), file=sys.stderr)
    for comp in err.get("compensations", []) or []:
        print(
            f"  compensation {comp['action']} for {comp['state']}: {comp['status']}",
            file=sys.stderr,
        )
    return EXIT_FAILED


async def _follow_json(
    client: Client, handle: WorkflowHandle[Any, Any], args: argparse.Namespace, doc: dict[str, Any]
) -> int:
    """``run --output json``: the states on stderr, one JSON document on stdout: ``status``
    ``completed`` with ``result``, or ``failed`` with ``error`` (the failure line on stderr
    too)."""
    from nexus_temporal.runner import failure_line, follow

    watch = asyncio.ensure_future(warn_without_pollers(client, args.task_queue))
    try:
        outcome = await follow(handle, emit=lambda line: print(line, file=sys.stderr, flush=True))
    finally:
        watch.cancel()
    doc = doc | {"status": "completed" if outcome.ok else "failed", "states": outcome.states}
    doc |= {"result": outcome.result} if outcome.ok else {"error": outcome.error}
    print(json.dumps(doc, indent=2, sort_keys=True, default=str), flush=True)
    if outcome.ok:
        return EXIT_OK
    print(failure_line(outcome.error), file=sys.stderr)
    return EXIT_FAILED


async def warn_without_pollers(
    client: Client, task_queue: str, after: float = NO_POLLERS_AFTER
) -> None:
    """After ``after`` seconds, say once on stderr if no worker polls ``task_queue`` (a typo in
    ``-q``, no worker running): the run would otherwise wait silently. It keeps waiting."""
    from temporalio.api.enums.v1 import TaskQueueType
    from temporalio.api.taskqueue.v1 import TaskQueue
    from temporalio.api.workflowservice.v1 import DescribeTaskQueueRequest

    await asyncio.sleep(after)
    try:
        answer = await client.workflow_service.describe_task_queue(
            DescribeTaskQueueRequest(
                namespace=client.namespace,
                task_queue=TaskQueue(name=task_queue),
                task_queue_type=TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW,
            ),
            timeout=timedelta(seconds=5),
        )
    except Exception:  # the check is a courtesy: never fail the run for it
        return
    if not answer.pollers:
        print(
            f"nexus: warning: no worker polls task queue '{task_queue}' in namespace "
            f"{client.namespace}; is `nexus worker` or `nexus dev` running, on this queue "
            "(-q/--task-queue)? Still waiting (Ctrl-C stops waiting; the workflow stays queued)",
            file=sys.stderr,
            flush=True,
        )
