"""``nexus history export``: write executions' histories as JSON, exactly as ``temporal
workflow show --output json`` does (the input of ``nexus replay``).

Exit codes: 0 written (or nothing matched); 1 the server is unreachable; 2 a usage error (ids
and ``--query`` together or neither, an unknown workflow id, an invalid query, ``--output`` not
a directory).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path
from typing import Any

from nexus_temporal.cli._common import connect, connection_flags, fetch_histories
from nexus_temporal.cli._errors import EXIT_OK, UsageError


def register(subparsers: Any) -> None:
    h = subparsers.add_parser("history", help="workflow histories (export)")
    hsub = h.add_subparsers(dest="history_command", required=True, metavar="COMMAND")
    e = hsub.add_parser(
        "export",
        help="write executions' histories as JSON (the format of temporal workflow show "
        "--output json)",
    )
    e.add_argument("workflow_ids", nargs="*", metavar="WORKFLOW_ID")
    e.add_argument("--query", metavar="QUERY", help="export every execution this query matches")
    e.add_argument("--output", "-o", default=".", metavar="DIR", help="directory to write to [.]")
    connection_flags(e, task_queue=False)
    e.set_defaults(handler=handle_export)


def handle_export(args: argparse.Namespace) -> int:
    if bool(args.workflow_ids) == (args.query is not None):
        raise UsageError("history export: give WORKFLOW_ID... or --query, not both or neither")
    return asyncio.run(_export(args))


async def _export(args: argparse.Namespace) -> int:
    from nexus_temporal.history import safe_file_name

    out = Path(args.output)
    if out.exists() and not out.is_dir():
        raise UsageError(f"--output {out} is not a directory")
    client = await connect(args, codec_keys_first=False)
    histories = await fetch_histories(client, args.workflow_ids, args.query)
    out.mkdir(parents=True, exist_ok=True)
    used: set[str] = set()
    for history in histories:
        name = safe_file_name(history.workflow_id)
        if name in used:
            name = f"{name}-{history.run_id[:8]}"
        used.add(name)
        path = out / f"{name}.json"
        path.write_text(history.to_json() + "\n")
        print(f"{path}: {history.workflow_id} run {history.run_id} ({len(history.events)} events)")
    if not histories:
        print("no executions matched", file=sys.stderr)
    return EXIT_OK
