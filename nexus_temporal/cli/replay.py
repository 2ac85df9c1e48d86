"""``nexus replay`` and ``nexus history export``: check definitions against recorded executions.

``nexus history export`` writes each execution's history as JSON, exactly as ``temporal workflow
show --output json`` does. ``nexus replay`` replays such files (or histories fetched from the
server) against the current interpreter and the given definitions, and prints, per execution,
``compatible`` or ``INCOMPATIBLE at state 'X': <why>`` (docs/versioning.md).

Exit codes: 0 every execution compatible; 1 at least one incompatible (or the server is
unreachable); 2 a usage error: a bad history file, an invalid definition, a history whose
definition none of the given ones can stand in for, an unknown workflow id.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from temporalio.client import Client, WorkflowHistory

from nexus_temporal.client import add_connection_flags, settings_from_args

EXIT_INCOMPATIBLE = 1
EXIT_USAGE = 2


class _Usage(Exception):
    """A mistake on the command line or in its inputs: one line, exit 2."""


def register(subparsers: Any) -> None:
    """Add ``replay`` and ``history`` to the ``nexus`` command line (``handler`` set)."""
    p = subparsers.add_parser(
        "replay",
        help="replay recorded executions against definitions: compatible or where they diverge",
        description="Replay histories against the current interpreter and the given "
        "definitions; exit 1 if any execution could not continue on them.",
    )
    p.add_argument(
        "--definitions",
        "-d",
        nargs="+",
        required=True,
        metavar="FILE_OR_DIR",
        help="the definitions to check (e.g. a candidate v2 of a YAML)",
    )
    source = p.add_mutually_exclusive_group(required=True)
    source.add_argument(
        "--history",
        nargs="+",
        metavar="FILE_OR_DIR",
        help="history JSON files (nexus history export, temporal workflow show --output json) "
        "or directories of them",
    )
    source.add_argument(
        "--workflow-id",
        nargs="+",
        metavar="ID",
        help="fetch these executions' histories (latest run) from the server",
    )
    source.add_argument(
        "--query",
        metavar="QUERY",
        help="fetch every execution a visibility query matches, e.g. "
        '\'NexusDefinition = "order-saga" AND ExecutionStatus = "Running"\'',
    )
    p.add_argument("--json", action="store_true", help="print the reports as JSON")
    add_connection_flags(p)
    p.set_defaults(handler=handle_replay)

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
    add_connection_flags(e)
    e.set_defaults(handler=handle_export)


# --- fetching --------------------------------------------------------------------------------


async def _connect(args: argparse.Namespace) -> Client:
    from nexus_temporal.client import connect

    settings = settings_from_args(args).resolved()
    try:
        return await connect(settings)
    except Exception as exc:
        raise ConnectionError(
            f"cannot connect to Temporal at {settings.address} "
            f"(namespace {settings.namespace}): {exc}"
        ) from None


async def fetch_histories(
    client: Client, workflow_ids: Sequence[str] = (), query: str | None = None
) -> list[WorkflowHistory]:
    """The latest run of each workflow id, or every execution ``query`` matches."""
    from temporalio.service import RPCError, RPCStatusCode

    histories = []
    try:
        if query is not None:
            async for execution in client.list_workflows(query):
                handle = client.get_workflow_handle(execution.id, run_id=execution.run_id)
                histories.append(await handle.fetch_history())
        for workflow_id in workflow_ids:
            histories.append(await client.get_workflow_handle(workflow_id).fetch_history())
    except RPCError as exc:
        if exc.status == RPCStatusCode.NOT_FOUND:
            raise _Usage(f"not found: {exc.message}") from None
        if exc.status == RPCStatusCode.INVALID_ARGUMENT:
            raise _Usage(f"invalid query: {exc.message}") from None
        raise
    return histories


# --- nexus history export --------------------------------------------------------------------


def handle_export(args: argparse.Namespace) -> int:
    if bool(args.workflow_ids) == (args.query is not None):
        return _usage("history export: give WORKFLOW_ID... or --query, not both or neither")
    try:
        return asyncio.run(_export(args))
    except _Usage as exc:
        return _usage(str(exc))


async def _export(args: argparse.Namespace) -> int:
    from nexus_temporal.history import safe_file_name

    out = Path(args.output)
    if out.exists() and not out.is_dir():
        raise _Usage(f"--output {out} is not a directory")
    client = await _connect(args)
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
    return 0


# --- nexus replay ----------------------------------------------------------------------------


def handle_replay(args: argparse.Namespace) -> int:
    from nexus_temporal.dsl.errors import DefinitionError
    from nexus_temporal.history import HistoryFileError
    from nexus_temporal.replay import NoCandidate

    try:
        return asyncio.run(_replay(args))
    except DefinitionError as exc:
        print(exc.render(), file=sys.stderr)
        return EXIT_USAGE
    except (_Usage, HistoryFileError, NoCandidate) as exc:
        return _usage(str(exc))


async def _replay(args: argparse.Namespace) -> int:
    from nexus_temporal.history import history_files, load_history
    from nexus_temporal.registry import load_registry
    from nexus_temporal.replay import replay

    registry = load_registry(args.definitions)
    sources: list[str | None] = []
    if args.history:
        files = history_files(args.history)
        if not files:
            raise _Usage(f"no history files (*.json) in {', '.join(args.history)}")
        histories = [load_history(f) for f in files]
        sources = [str(f) for f in files]
    else:
        client = await _connect(args)
        histories = await fetch_histories(client, args.workflow_id or (), args.query)
        sources = [None] * len(histories)
    histories = _decrypted(histories, args)
    # The SDK logs each failed replay with a traceback; the report says it in words.
    logging.getLogger("temporalio.worker").setLevel(logging.CRITICAL)
    reports = await replay(histories, registry, candidates=True, sources=sources)
    bad = sum(1 for r in reports if not r.ok)
    if args.json:
        print(
            json.dumps(
                {
                    "executions": [r.to_json() for r in reports],
                    "compatible": len(reports) - bad,
                    "incompatible": bad,
                },
                indent=2,
            )
        )
    else:
        for report in reports:
            print(report.render())
        print(
            f"{len(reports) - bad} compatible, {bad} incompatible ({len(reports)} execution(s))",
            file=sys.stderr,
        )
    return EXIT_INCOMPATIBLE if bad else 0


def _decrypted(histories: list[WorkflowHistory], args: argparse.Namespace) -> list[WorkflowHistory]:
    """Histories with their payloads decrypted when codec keys are configured (``--codec-keys``
    or ``NEXUS_CODEC_KEYS[_FILE]``): the pin and function names live in encrypted payloads."""
    from nexus_temporal.codec import (
        CodecConfigError,
        CodecError,
        EncryptionCodec,
        KeyRing,
        decrypt_history,
    )

    try:
        keys = KeyRing.load(settings_from_args(args).resolved().codec_keys)
    except CodecConfigError as exc:
        raise _Usage(str(exc)) from None
    if keys is None:
        return histories
    codec = EncryptionCodec(keys)
    try:
        return [decrypt_history(history, codec) for history in histories]
    except CodecError as exc:  # an unknown key id or a tampered payload
        raise _Usage(f"cannot decrypt a history: {exc}") from None


def _usage(message: str) -> int:
    print(f"nexus: error: {message}", file=sys.stderr)
    return EXIT_USAGE
