"""``nexus validate FILE...``: check definitions without running them.

Exit codes: 0 every definition valid; 2 an invalid one, or no definition files.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from nexus_temporal.cli._errors import EXIT_OK, EXIT_USAGE


def register(subparsers: Any) -> None:
    p = subparsers.add_parser("validate", help="check definitions without running them")
    p.add_argument("files", nargs="+", metavar="FILE")
    p.add_argument("--json", action="store_true", help="print issues as JSON")
    p.set_defaults(handler=handle)


def handle(args: argparse.Namespace) -> int:
    from nexus_temporal.dsl.compiler import compile_many
    from nexus_temporal.dsl.errors import Code, DefinitionError, DefinitionIssue, Location
    from nexus_temporal.registry import Registry, definition_files

    files = definition_files(args.files)
    compiled, issues = compile_many(files)
    if not files:
        where = ", ".join(args.files)
        issues.append(
            DefinitionIssue(
                Location(where), "no definition files (*.yaml, *.yml) found", code=Code.IO
            )
        )
    registry = Registry()  # the same name@version twice with different content is an error
    plans = []
    for plan in compiled:
        try:
            registry.add(plan)
            plans.append(plan)
        except DefinitionError as exc:
            issues.extend(exc.issues)
    if args.json:
        print(
            json.dumps(
                {
                    "valid": not issues,
                    "definitions": [
                        {"name": p.name, "version": p.version, "hash": p.hash, "file": p.source}
                        for p in plans
                    ],
                    "issues": [i.to_json() for i in issues],
                },
                indent=2,
            )
        )
    else:
        for plan in plans:
            print(f"{plan.source}: ok ({plan.name}@{plan.version}, {plan.hash[:12]})")
        for issue in issues:
            print(issue.render(), file=sys.stderr)
    return EXIT_USAGE if issues or not files else EXIT_OK
