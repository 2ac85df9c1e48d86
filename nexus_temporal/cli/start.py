"""``nexus start NAME[@VERSION]``: start a workflow and return at once, printing its id. It
takes every ``nexus run`` flag; exit codes are ``run``'s, without waiting for the result.
``--output id`` prints the bare workflow id (``WID=$(nexus start ... -o id)``), ``--output
json`` one document: workflow_id, run_id, reference, namespace, task_queue."""

from __future__ import annotations

import argparse
import asyncio
from typing import Any

from nexus_temporal.cli.run_ import add_arguments, launch


def register(subparsers: Any) -> None:
    p = subparsers.add_parser("start", help="start a workflow and return at once")
    add_arguments(p, "id")
    p.set_defaults(handler=handle)


def handle(args: argparse.Namespace) -> int:
    return asyncio.run(launch(args, follow_it=False))
