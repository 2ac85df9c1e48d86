"""``nexus audit export|verify``: a tamper-evident audit trail of a workflow (docs/audit.md).

Exit codes: 0 written / intact; 1 the workflow cannot be read, or the trail is not intact; 2 a
usage error (a missing key variable, an unreadable file).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from pathlib import Path
from typing import Any

from nexus_temporal.client import add_connection_flags

EXIT_FAILED = 1
EXIT_USAGE = 2


class _Usage(Exception):
    pass


def register(subparsers: Any) -> None:
    """Add ``audit`` to the ``nexus`` command line (``handler`` set as the default)."""
    p = subparsers.add_parser("audit", help="export or verify a workflow's audit trail")
    asub = p.add_subparsers(dest="audit", required=True, metavar="ACTION")

    e = asub.add_parser("export", help="write a workflow's history as hash-chained JSONL")
    e.add_argument("workflow_id", metavar="WORKFLOW_ID")
    e.add_argument("-o", "--output", metavar="FILE", help="write here instead of stdout")
    e.add_argument(
        "--contents",
        action="store_true",
        help="record payload contents, not only their SHA-256 digests",
    )
    _key_flag(e, "sign every record with HMAC-SHA256, the key read from this variable")
    add_connection_flags(e)

    v = asub.add_parser("verify", help="check that an exported trail is intact")
    v.add_argument("file", metavar="FILE")
    _key_flag(v, "also check every record's HMAC-SHA256 with the key in this variable")
    p.set_defaults(handler=handle)


def _key_flag(p: argparse.ArgumentParser, text: str) -> None:
    p.add_argument("--hmac-key-env", metavar="VAR", help=text)


def _key(args: argparse.Namespace) -> bytes | None:
    name = args.hmac_key_env
    if not name:
        return None
    value = os.environ.get(name)
    if not value:
        raise _Usage(f"environment variable {name} (--hmac-key-env) is not set or empty")
    return value.encode()


def handle(args: argparse.Namespace) -> int:
    try:
        if args.audit == "export":
            return asyncio.run(_export(args))
        return _verify(args)
    except _Usage as exc:
        print(f"nexus: error: {exc}", file=sys.stderr)
        return EXIT_USAGE


async def _export(args: argparse.Namespace) -> int:
    from nexus_temporal.audit import AuditError, dumps, export
    from nexus_temporal.client import connect, settings_from_args

    key = _key(args)
    settings = settings_from_args(args).resolved()
    try:
        client = await connect(settings)
    except Exception as exc:
        print(
            f"nexus: error: cannot connect to Temporal at {settings.address} "
            f"(namespace {settings.namespace}): {exc}",
            file=sys.stderr,
        )
        return EXIT_FAILED
    try:
        records = await export(client, args.workflow_id, contents=args.contents, key=key)
    except AuditError as exc:
        print(f"nexus: error: {exc}", file=sys.stderr)
        return EXIT_FAILED
    text = dumps(records)
    if args.output:
        try:
            Path(args.output).write_text(text, encoding="utf-8")
        except OSError as exc:
            raise _Usage(f"cannot write {args.output}: {exc.strerror}") from None
    else:
        sys.stdout.write(text)
    head = records[-1]["hash"]
    state = "" if records[0]["complete"] else " (the workflow is still running)"
    print(
        f"{len(records)} records from {len(records[0]['runs'])} run(s){state}; head {head}",
        file=sys.stderr,
    )
    return 0


def _verify(args: argparse.Namespace) -> int:
    from nexus_temporal.audit import parse, verify

    key = _key(args)
    try:
        text = Path(args.file).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) else "not UTF-8 text"
        raise _Usage(f"cannot read {args.file}: {reason}") from None
    records = parse(text)
    problems = verify(records, key)
    for problem in problems:
        print(f"{args.file}: {problem}")
    if problems:
        print(f"{args.file}: NOT intact ({len(problems)} problem(s))", file=sys.stderr)
        return EXIT_FAILED
    header = records[0] or {}
    signed = " and signed" if key is not None else ""
    unchecked = (
        " (signatures not checked: give --hmac-key-env)"
        if header.get("signed") and key is None
        else ""
    )
    head = (records[-1] or {}).get("hash")
    print(f"{args.file}: intact{signed}: {len(records)} records, head {head}{unchecked}")
    return 0
