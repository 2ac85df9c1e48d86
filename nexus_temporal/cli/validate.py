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
    from nexus_temporal.cli._common import compile_paths

    plans, issues = compile_paths(args.files)
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
    return EXIT_USAGE if issues else EXIT_OK
