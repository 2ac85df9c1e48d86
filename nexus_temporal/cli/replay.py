"""``nexus replay``: check definitions against recorded executions (docs/versioning.md).

It replays history files (``nexus history export``, ``temporal workflow show --output json``)
or histories fetched from the server against the current interpreter and the given
definitions, and prints, per execution, ``compatible`` or ``INCOMPATIBLE at state 'X': <why>``.

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
from typing import TYPE_CHECKING, Any

from nexus_temporal.cli._common import (
    connect,
    connection_flags,
    fetch_histories,
    output_flag,
    quiet_sdk_core,
)
from nexus_temporal.cli._errors import EXIT_FAILED, EXIT_OK, UsageError
from nexus_temporal.client import settings_from_args

if TYPE_CHECKING:
    from temporalio.client import WorkflowHistory


def register(subparsers: Any) -> None:
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
    p.add_argument(
        "--allow-data-change",
        action="append",
        default=[],
        metavar="STATE[,STATE...]",
        help="states whose changed data (DATA CHANGED) you declare safe: reported as warnings",
    )
    p.add_argument(
        "--data-changes",
        choices=("error", "warn"),
        default="error",
        help="whether a DATA CHANGED finding makes an execution incompatible [error]",
    )
    output_flag(p, json_alias=True)
    connection_flags(p, task_queue=False)
    p.set_defaults(handler=handle)


def handle(args: argparse.Namespace) -> int:
    from nexus_temporal.history import HistoryFileError
    from nexus_temporal.replay import NoCandidate

    try:
        return asyncio.run(_replay(args))  # DefinitionError: exit 2
    except (HistoryFileError, NoCandidate) as exc:
        raise UsageError(str(exc)) from None


async def _replay(args: argparse.Namespace) -> int:
    from nexus_temporal.history import history_files, load_history
    from nexus_temporal.registry import load_registry
    from nexus_temporal.replay import replay

    registry = load_registry(args.definitions)
    sources: list[str | None] = []
    if args.history:
        files = history_files(args.history)
        if not files:
            raise UsageError(f"no history files (*.json) in {', '.join(args.history)}")
        histories = [load_history(f) for f in files]
        sources = [str(f) for f in files]
    else:
        client = await connect(args, codec_keys_first=False)
        histories = await fetch_histories(client, args.workflow_id or (), args.query)
        sources = [None] * len(histories)
    histories = _decrypted(histories, args)
    # The SDK logs each failed replay with a traceback; the report says it in words.
    logging.getLogger("temporalio.worker").setLevel(logging.CRITICAL)
    quiet_sdk_core("TMPRL1100")  # the core's "Failing workflow task" line: the report says it
    allowed = {s.strip() for raw in args.allow_data_change for s in raw.split(",") if s.strip()}
    _check_states(allowed, registry)
    reports = await replay(
        histories,
        registry,
        candidates=True,
        sources=sources,
        allow_data_changes=allowed,
        data_changes="warning" if args.data_changes == "warn" else "error",
    )
    bad = sum(1 for r in reports if not r.ok)
    if args.output == "json":
        print(
            json.dumps(
                {
                    "executions": [r.to_json() for r in reports],
                    "compatible": len(reports) - bad,
                    "incompatible": bad,
                    "warnings": sum(
                        1 for r in reports for f in r.findings if f.severity == "warning"
                    ),
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
    return EXIT_FAILED if bad else EXIT_OK


def _check_states(states: set[str], registry: Any) -> None:
    """Every state ``--allow-data-change`` names is a state of a given definition."""
    import difflib

    known = {state.name for plan in registry.plans for state in plan.all_states()}
    for name in sorted(states - known):
        close = difflib.get_close_matches(name, sorted(known), n=1)
        hint = f"; did you mean '{close[0]}'?" if close else ""
        raise UsageError(f"--allow-data-change: no given definition has a state '{name}'{hint}")


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
        raise UsageError(str(exc)) from None
    if keys is None:
        return histories
    codec = EncryptionCodec(keys)
    try:
        return [decrypt_history(history, codec) for history in histories]
    except CodecError as exc:  # an unknown key id or a tampered payload
        raise UsageError(f"cannot decrypt a history: {exc}") from None
