"""``nexus audit export|verify``: a tamper-evident audit trail of a workflow (docs/audit.md).

Exit codes: 0 written / intact; 1 the workflow cannot be read, or the trail is not intact (or,
with ``verify --require-complete`` / ``--workflow-id``, partial or of another workflow); 2 a
usage error (a missing key variable, an unreadable file, a FIFO or device, a file too large).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from nexus_temporal.cli._common import connect, connection_flags
from nexus_temporal.cli._errors import EXIT_FAILED, EXIT_OK, UsageError

if TYPE_CHECKING:
    from nexus_temporal.audit import Summary

#: The largest trail ``verify`` reads (it holds the whole file in memory). Temporal caps one
#: run's history at 50 MiB; a chain of continue-as-new runs can be longer: raise --max-bytes.
MAX_TRAIL_BYTES = 512 * 1024 * 1024


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
    connection_flags(e, task_queue=False)

    v = asub.add_parser("verify", help="check that an exported trail is intact")
    v.add_argument("file", metavar="FILE")
    _key_flag(v, "also check every record's HMAC-SHA256 with the key in this variable")
    v.add_argument(
        "--require-complete",
        action="store_true",
        help="exit 1 unless the trail covers the whole workflow (it had ended when exported); "
        "without it a partial trail only warns",
    )
    v.add_argument(
        "--workflow-id",
        dest="expect_workflow",
        metavar="ID",
        help="exit 1 unless the trail is of this workflow",
    )
    v.add_argument("--json", action="store_true", help="print the result as one JSON object")
    v.add_argument(
        "--max-bytes",
        type=_positive,
        default=MAX_TRAIL_BYTES,
        metavar="N",
        help=f"refuse a file larger than this [{MAX_TRAIL_BYTES}]",
    )
    p.set_defaults(handler=handle)


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive number of bytes, got {text!r}")
    return value


def _key_flag(p: argparse.ArgumentParser, text: str) -> None:
    p.add_argument("--hmac-key-env", metavar="VAR", help=text)


def _key(args: argparse.Namespace) -> bytes | None:
    name = args.hmac_key_env
    if not name:
        return None
    value = os.environ.get(name)
    if not value:
        raise UsageError(f"environment variable {name} (--hmac-key-env) is not set or empty")
    return value.encode()


def handle(args: argparse.Namespace) -> int:
    if args.audit == "export":
        return asyncio.run(_export(args))
    return _verify(args)


async def _export(args: argparse.Namespace) -> int:
    from nexus_temporal.audit import AuditError, dumps, export

    key = _key(args)
    client = await connect(args, codec_keys_first=False)  # ConnectionError: exit 1
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
            raise UsageError(f"cannot write {args.output}: {exc.strerror}") from None
    else:
        sys.stdout.write(text)
    head = records[-1]["hash"]
    state = "" if records[0]["complete"] else " (the workflow is still running)"
    print(
        f"{len(records)} records from {len(records[0]['runs'])} run(s){state}; head {head}",
        file=sys.stderr,
    )
    return EXIT_OK


def _verify(args: argparse.Namespace) -> int:
    from nexus_temporal.audit import parse, summarize, verify
    from nexus_temporal.dsl.files import FileProblem, read_text_file

    key = _key(args)
    try:
        # A regular file within the bound: a FIFO or /dev/zero would block or fill memory.
        text = read_text_file(args.file, args.max_bytes)
    except FileProblem as exc:
        where = f"{args.file}:{exc.line}:{exc.column}" if exc.line else args.file
        raise UsageError(f"cannot read {where}: {exc.message}") from None
    records = parse(text)
    problems = verify(records, key)
    summary = summarize(records)
    failures: list[str] = []
    if problems:
        failures.append(f"NOT intact ({len(problems)} problem(s))")
    if args.expect_workflow is not None and summary.workflow_id != args.expect_workflow:
        failures.append(
            f"the trail is of workflow {summary.workflow_id!r}, not {args.expect_workflow!r}"
        )
    if args.require_complete and not summary.complete:
        failures.append("incomplete, and --require-complete was given")
    coverage = _coverage(summary)
    if args.json:
        print(
            json.dumps(
                {
                    "file": args.file,
                    "intact": not problems,
                    "signatures_verified": key is not None and not problems,
                    **summary.to_json(),
                    "problems": [{"record": p.record, "message": p.message} for p in problems],
                    "ok": not failures,
                },
                indent=2,
            )
        )
    else:
        for problem in problems:
            print(f"{args.file}: {problem}")
        if not problems:
            signed = " and signed" if key is not None else ""
            unchecked = (
                " (signatures not checked: give --hmac-key-env)"
                if summary.signed and key is None
                else ""
            )
            print(
                f"{args.file}: intact{signed}: {len(records)} records, head {summary.head}"
                f"{unchecked}"
            )
        print(f"{args.file}: {coverage}")
    if not summary.complete and not args.require_complete:
        # Loud, on stderr, even with --json: a partial trail verifies, but says less.
        print(
            f"nexus audit: warning: {args.file} is INCOMPLETE ({coverage}); "
            "give --require-complete to fail on it",
            file=sys.stderr,
        )
    for failure in failures:
        print(f"{args.file}: {failure}", file=sys.stderr)
    return EXIT_FAILED if failures else EXIT_OK


def _coverage(summary: Summary) -> str:
    """Which workflow a trail covers, and whether it is complete, in one line."""
    if summary.workflow_id is None:
        return "workflow unknown (no readable export header): INCOMPLETE"
    runs = len(summary.runs)
    what = f"workflow {summary.workflow_id!r}, {runs} run{'s' if runs != 1 else ''}"
    if not summary.all_records:
        return f"{what}: INCOMPLETE: records are missing from the file"
    if not summary.ended:
        return (
            f"{what}: INCOMPLETE: the workflow was still running when exported"
            f" ({summary.exported_at}); later steps are not in this trail"
        )
    return f"{what}: complete"
