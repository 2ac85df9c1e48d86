"""``nexus migrate stepfunctions FILE|DIR [-o OUT] [--strict]``: ASL → NEXUS YAML + a report.

Exit codes: 0 converted; 1 ``--strict`` and something was approximated or is unsupported;
2 a usage error or invalid ASL (located ``file:line:col`` errors).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from nexus_temporal.cli._errors import EXIT_FAILED, EXIT_OK, EXIT_USAGE, usage_error

PROG = "nexus migrate"


def register(subparsers: Any) -> None:
    """Add ``migrate`` (with its ``stepfunctions`` source) to the ``nexus`` command line."""
    p = subparsers.add_parser("migrate", help="convert workflows from other engines to NEXUS")
    sub = p.add_subparsers(dest="source", required=True, metavar="SOURCE")
    s = sub.add_parser(
        "stepfunctions", help="AWS Step Functions (Amazon States Language, JSON or YAML)"
    )
    s.add_argument("path", metavar="FILE|DIR", help="an ASL file, or a directory of them")
    s.add_argument(
        "-o",
        "--output",
        metavar="OUT",
        help="directory for <name>.yaml and <name>.report.md (default for a single file: "
        "YAML on stdout, report on stderr)",
    )
    s.add_argument("--strict", action="store_true", help="exit 1 on any approximation")
    s.add_argument("--name", help="definition name (single file; default: from the file name)")
    s.add_argument("--version", default="1", dest="def_version", help="definition version [1]")
    p.set_defaults(handler=handle)


def handle(args: argparse.Namespace) -> int:
    from nexus_temporal.dsl.compiler import compile_text
    from nexus_temporal.dsl.errors import DefinitionError
    from nexus_temporal.stepfunctions import AslError, convert_asl
    from nexus_temporal.stepfunctions.load import read_file
    from nexus_temporal.stepfunctions.report import render_markdown, summary_line
    from nexus_temporal.stepfunctions.sources import asl_files, definition_name

    root = Path(args.path)
    if not root.exists():
        return usage_error(f"{root}: no such file or directory", PROG)
    files = asl_files(root)
    if not files:
        return usage_error(f"no ASL files (*.json, *.yaml) in {root}", PROG)
    if root.is_dir() and not args.output:
        return usage_error("converting a directory needs -o OUT", PROG)
    if args.name and len(files) > 1:
        return usage_error("--name applies to a single file", PROG)
    out_dir = Path(args.output) if args.output else None
    if out_dir is not None:
        if out_dir.exists() and not out_dir.is_dir():
            return usage_error(f"{out_dir} is not a directory", PROG)
        try:
            out_dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            return usage_error(f"cannot create {out_dir}: {exc}", PROG)
    invalid = inexact = 0
    for path in files:
        stem = definition_name(path)
        try:
            text = read_file(path)  # a regular file within the size bound, never a FIFO
            result = convert_asl(
                text, name=args.name or stem, version=args.def_version, source=str(path)
            )
        except AslError as exc:
            print(exc.render(), file=sys.stderr)
            invalid += 1
            continue
        try:
            compile_text(result.yaml_text, f"{stem}.yaml")
        except DefinitionError as exc:  # a converter bug: say so, keep the output for a report
            print(
                f"{path}: error: the generated YAML does not validate (please report):\n"
                f"{exc.render()}",
                file=sys.stderr,
            )
            invalid += 1
        report = render_markdown(str(path), result.report, result.functions)
        if out_dir is not None:
            (out_dir / f"{stem}.yaml").write_text(result.yaml_text, encoding="utf-8")
            (out_dir / f"{stem}.report.md").write_text(report, encoding="utf-8")
        else:
            sys.stdout.write(result.yaml_text)
            for item in result.report:
                if item.kind != "converted":
                    print(
                        f"{path}: {item.kind}: {item.state or '(machine)'}: {item.message}",
                        file=sys.stderr,
                    )
        line = summary_line(str(path), result.report)
        if result.functions:
            line += f"; functions to supply: {', '.join(result.functions)}"
        print(line, file=sys.stderr if out_dir is None else sys.stdout)
        if any(i.kind != "converted" for i in result.report):
            inexact += 1
    if invalid:
        return EXIT_USAGE
    if args.strict and inexact:
        print(
            f"--strict: {inexact} file(s) with approximated or unsupported parts", file=sys.stderr
        )
        return EXIT_FAILED
    return EXIT_OK
